//! The system calls of the userspace data path that std and nix do not wrap in a form
//! fit for a per-packet loop: TUN queues (`TUNSETIFF`), raw sockets with classic BPF
//! filters, and batched `recvmmsg`/`sendmmsg` over packet slots allocated once per
//! thread. This file holds all of the data path's `unsafe`.
#![allow(unsafe_code)]

use crate::dataplane::poll::check;
use std::fs::{File, OpenOptions};
use std::io;
use std::mem;
use std::net::{IpAddr, SocketAddr};
use std::ops::Range;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::os::unix::fs::OpenOptionsExt;
use std::ptr;
use std::time::Duration;

/// Packets per `recvmmsg`/`sendmmsg` call and per TUN drain.
pub(crate) const BATCH: usize = 64;
/// One packet slot: a jumbo frame plus room for the outer headers and the ESP trailer.
pub(crate) const SLOT: usize = 9216 + 256;

/// Open one queue of the TUN device `name` (created by the first queue), non-blocking,
/// without packet information: reads and writes are IP packets after a
/// `virtio_net_hdr` (IFF_VNET_HDR), with checksum and TCP segmentation offload on.
/// `multi_queue` (IFF_MULTI_QUEUE) lets more queues attach; the kernel then gives the
/// device 256 possible queues of each direction, about 200 KiB more slab a device
/// (measured: 263 KiB against 57 KiB), so a device that keeps one queue goes without.
pub(crate) fn open_tun_queue(name: &str, multi_queue: bool) -> io::Result<File> {
    if name.is_empty() || name.len() >= libc::IFNAMSIZ || name.contains(['/', ' ', '\0']) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("bad interface name {name:?}"),
        ));
    }
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_CLOEXEC)
        .open("/dev/net/tun")?;
    // SAFETY: ifreq is plain C data (arrays, integers, pointers in a union); all-zero is
    // a valid value.
    let mut req: libc::ifreq = unsafe { mem::zeroed() };
    for (dst, src) in req.ifr_name.iter_mut().zip(name.bytes()) {
        *dst = src as libc::c_char;
    }
    let queues = if multi_queue {
        libc::IFF_MULTI_QUEUE
    } else {
        0
    };
    req.ifr_ifru.ifru_flags = (libc::IFF_TUN | libc::IFF_NO_PI | queues | libc::IFF_VNET_HDR) as _;
    // SAFETY: TUNSETIFF reads and writes the one ifreq passed, which outlives the call;
    // the fd is a valid open /dev/net/tun.
    check(unsafe { libc::ioctl(file.as_raw_fd(), libc::TUNSETIFF, &mut req) })?;
    let offloads = libc::TUN_F_CSUM | libc::TUN_F_TSO4 | libc::TUN_F_TSO6 | libc::TUN_F_TSO_ECN;
    // SAFETY: TUNSETOFFLOAD takes its flags by value, no pointer.
    check(unsafe {
        libc::ioctl(
            file.as_raw_fd(),
            libc::TUNSETOFFLOAD,
            offloads as libc::c_ulong,
        )
    })?;
    Ok(file)
}

/// A raw IP socket of `protocol` (IPPROTO_ESP, IPPROTO_UDP): IPv4 ones receive the IP
/// header, IPv6 ones do not (RFC 3542 3).
pub(crate) fn raw_socket(v6: bool, protocol: libc::c_int) -> io::Result<OwnedFd> {
    let family = if v6 { libc::AF_INET6 } else { libc::AF_INET };
    // SAFETY: socket() takes no pointers.
    let fd = check(unsafe { libc::socket(family, libc::SOCK_RAW | libc::SOCK_CLOEXEC, protocol) })?;
    // SAFETY: fd is a fresh descriptor that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

fn setsockopt<T>(
    fd: BorrowedFd,
    level: libc::c_int,
    name: libc::c_int,
    value: &T,
) -> io::Result<()> {
    // SAFETY: value points at a live T and the length passed is its size.
    check(unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            level,
            name,
            (value as *const T).cast(),
            mem::size_of::<T>() as libc::socklen_t,
        )
    })
    .map(drop)
}

pub(crate) fn set_int_option(
    fd: BorrowedFd,
    level: libc::c_int,
    name: libc::c_int,
    value: libc::c_int,
) -> io::Result<()> {
    setsockopt(fd, level, name, &value)
}

/// SO_RCVTIMEO: how often a blocked receive wakes to look at the stop flag.
pub(crate) fn set_recv_timeout(fd: BorrowedFd, timeout: Duration) -> io::Result<()> {
    let tv = libc::timeval {
        tv_sec: timeout.as_secs() as _,
        tv_usec: timeout.subsec_micros() as _,
    };
    setsockopt(fd, libc::SOL_SOCKET, libc::SO_RCVTIMEO, &tv)
}

/// Attach a classic BPF socket filter (SO_ATTACH_FILTER).
pub(crate) fn attach_filter(fd: BorrowedFd, program: &[libc::sock_filter]) -> io::Result<()> {
    let prog = libc::sock_fprog {
        len: program.len() as u16,
        filter: program.as_ptr().cast_mut(),
    };
    // The kernel copies the program during the call; `program` outlives it.
    setsockopt(fd, libc::SOL_SOCKET, libc::SO_ATTACH_FILTER, &prog)
}

/// `BATCH` packet slots of `SLOT` bytes, allocated once.
struct Slots(Box<[u8]>);

impl Slots {
    fn new() -> Self {
        Slots(vec![0; BATCH * SLOT].into_boxed_slice())
    }
    fn get_mut(&mut self, i: usize) -> &mut [u8] {
        &mut self.0[i * SLOT..(i + 1) * SLOT]
    }
}

/// Receive side: `recvmmsg` into reused slots. The message headers point into the
/// boxed arrays, which never move, so they are set up once.
pub(crate) struct RecvBatch {
    slots: Slots,
    iovs: Box<[libc::iovec]>,
    hdrs: Box<[libc::mmsghdr]>,
    received: usize,
}

impl RecvBatch {
    pub fn new() -> Self {
        let mut slots = Slots::new();
        let mut iovs: Box<[libc::iovec]> = (0..BATCH)
            .map(|i| libc::iovec {
                iov_base: slots.get_mut(i).as_mut_ptr().cast(),
                iov_len: SLOT,
            })
            .collect();
        let hdrs = iovs
            .iter_mut()
            .map(|iov| {
                // SAFETY: mmsghdr is plain C data; all-zero is valid (null pointers, 0 lengths).
                let mut h: libc::mmsghdr = unsafe { mem::zeroed() };
                h.msg_hdr.msg_iov = iov;
                h.msg_hdr.msg_iovlen = 1;
                h
            })
            .collect();
        RecvBatch {
            slots,
            iovs,
            hdrs,
            received: 0,
        }
    }

    /// Wait for at least one datagram (up to the socket's SO_RCVTIMEO), then take all
    /// that are queued, up to `BATCH`. Returns how many.
    pub fn recv(&mut self, fd: BorrowedFd) -> io::Result<usize> {
        debug_assert_eq!(self.iovs.len(), BATCH);
        self.received = 0;
        // SAFETY: every header points at its own iovec, and every iovec at its own
        // SLOT-byte slot; all live in boxes owned by self, borrowed mutably for the call.
        let n = check(unsafe {
            libc::recvmmsg(
                fd.as_raw_fd(),
                self.hdrs.as_mut_ptr(),
                BATCH as libc::c_uint,
                libc::MSG_WAITFORONE,
                ptr::null_mut(),
            )
        })?;
        self.received = n as usize;
        Ok(self.received)
    }

    /// Where datagram `i` of the last `recv` is in `memory()`; `None` if it did not
    /// fit its slot.
    pub fn packet_range(&self, i: usize) -> Option<Range<usize>> {
        if i >= self.received {
            return None;
        }
        let h = &self.hdrs[i];
        if h.msg_hdr.msg_flags & libc::MSG_TRUNC != 0 {
            return None;
        }
        Some(i * SLOT..i * SLOT + h.msg_len as usize)
    }

    /// All slots, one after the other.
    pub fn memory(&mut self) -> &mut [u8] {
        &mut self.slots.0
    }
}

/// Send side: packets are built in place in reused slots, then leave in one `sendmmsg`
/// per batch, all to one destination from one source address (IP_PKTINFO /
/// IPV6_PKTINFO), as a batch comes from one SA. A packet may carry its own IPv4 header
/// (to choose its DF bit): those go through the IPPROTO_RAW socket, in a second call.
pub(crate) struct SendBatch {
    slots: Slots,
    /// (start, len, has its own IPv4 header) of each queued packet in slot `i`.
    spans: [(usize, usize, bool); BATCH],
    queued: usize,
}

/// Control buffer for one pktinfo message, aligned for cmsghdr.
#[repr(C, align(8))]
struct Cmsg([u8; 64]);

impl SendBatch {
    pub fn new() -> Self {
        SendBatch {
            slots: Slots::new(),
            spans: [(0, 0, false); BATCH],
            queued: 0,
        }
    }
    pub fn is_full(&self) -> bool {
        self.queued == BATCH
    }
    pub fn is_empty(&self) -> bool {
        self.queued == 0
    }
    /// The slot the next packet is built in.
    pub fn next_slot(&mut self) -> &mut [u8] {
        self.slots.get_mut(self.queued)
    }
    /// Queue the packet built at `start..start + len` of `next_slot()`; `own_header`:
    /// it starts with the IPv4 header the kernel is to send as is. `send` hands the
    /// kernel pointers computed from the span, so a span that does not fit the slot
    /// (or a full batch) is refused here, in every build: false, nothing queued.
    pub fn push(&mut self, start: usize, len: usize, own_header: bool) -> bool {
        let fits = start.checked_add(len).is_some_and(|end| end <= SLOT);
        if !fits || self.is_full() {
            return false;
        }
        self.spans[self.queued] = (start, len, own_header);
        self.queued += 1;
        true
    }
    pub fn clear(&mut self) {
        self.queued = 0;
    }

    /// Send every queued packet from `src` to `dst` (port 0 on raw sockets): those
    /// without a header of their own on `fd`, the others on `raw` (IPPROTO_RAW). Then
    /// empty the batch. Packets the kernel refuses one by one (EMSGSIZE...) are
    /// skipped; returns how many were sent.
    pub fn send(
        &mut self,
        fd: BorrowedFd,
        raw: BorrowedFd,
        dst: SocketAddr,
        src: IpAddr,
    ) -> io::Result<usize> {
        let count = self.queued;
        self.queued = 0;
        let mut sent = 0;
        let mut picked = [0usize; BATCH];
        for own_header in [false, true] {
            let mut n = 0;
            for i in (0..count).filter(|&i| self.spans[i].2 == own_header) {
                picked[n] = i;
                n += 1;
            }
            if n > 0 {
                let fd = if own_header { raw } else { fd };
                sent += self.send_picked(fd, dst, src, &picked[..n])?;
            }
        }
        Ok(sent)
    }

    /// One `sendmmsg` (or more, past refused packets) of the packets in slots `picked`.
    fn send_picked(
        &mut self,
        fd: BorrowedFd,
        dst: SocketAddr,
        src: IpAddr,
        picked: &[usize],
    ) -> io::Result<usize> {
        let count = picked.len();
        let (name, name_len) = sockaddr(dst);
        let mut cmsg = Cmsg([0; 64]);
        let cmsg_len = pktinfo(&mut cmsg, src);
        let base = self.slots.0.as_mut_ptr();
        // SAFETY: all-zero iovec/mmsghdr are valid values (null pointers, 0 lengths).
        let mut iovs: [libc::iovec; BATCH] = unsafe { mem::zeroed() };
        // SAFETY: as above.
        let mut hdrs: [libc::mmsghdr; BATCH] = unsafe { mem::zeroed() };
        for (k, &i) in picked.iter().enumerate() {
            let (start, len, _) = self.spans[i];
            iovs[k] = libc::iovec {
                // SAFETY: start + len <= SLOT (`push` queues no other span), so the
                // pointer and the length stay inside slot i.
                iov_base: unsafe { base.add(i * SLOT + start) }.cast(),
                iov_len: len,
            };
            let h = &mut hdrs[k].msg_hdr;
            h.msg_name = (&name as *const libc::sockaddr_storage).cast_mut().cast();
            h.msg_namelen = name_len;
            h.msg_iov = &mut iovs[k];
            h.msg_iovlen = 1;
            if cmsg_len > 0 {
                h.msg_control = cmsg.0.as_mut_ptr().cast();
                h.msg_controllen = cmsg_len;
            }
        }
        let mut sent = 0;
        let mut done = 0;
        while done < count {
            // SAFETY: headers done..count point at the iovecs, address and control
            // buffer above and at slots in self, all alive and unaliased for the call.
            let rc = unsafe {
                libc::sendmmsg(
                    fd.as_raw_fd(),
                    hdrs.as_mut_ptr().add(done),
                    (count - done) as libc::c_uint,
                    0,
                )
            };
            if rc > 0 {
                sent += rc as usize;
                done += rc as usize;
                continue;
            }
            let err = io::Error::last_os_error();
            if err.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            if done == 0 && count == 1 {
                return Err(err);
            }
            // The first remaining packet failed on its own: skip it, keep the rest.
            done += 1;
        }
        Ok(sent)
    }
}

/// The path MTU to `dst` from `src` as the kernel knows it now (IP_MTU of a connected
/// UDP socket): the largest datagram it sends there without fragmenting. In `tunnel
/// vrf` `vrf` the socket is bound to the VRF device, as the outer sockets are: the
/// route (and its MTU) is the VRF's, where the global table may have none.
pub(crate) fn path_mtu(src: IpAddr, dst: IpAddr, vrf: Option<&str>) -> io::Result<u32> {
    let sock = crate::dataplane::vrf::bind_udp(SocketAddr::new(src, 0), vrf)?;
    // Port 9 (discard): nothing is sent, connect only picks the route.
    sock.connect(SocketAddr::new(dst, 9))?;
    let (level, name) = match dst {
        IpAddr::V4(_) => (libc::IPPROTO_IP, libc::IP_MTU),
        IpAddr::V6(_) => (libc::IPPROTO_IPV6, libc::IPV6_MTU),
    };
    let mut mtu: libc::c_int = 0;
    let mut len = mem::size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: mtu and len are live locals of the sizes passed; the socket is open.
    check(unsafe {
        libc::getsockopt(
            sock.as_raw_fd(),
            level,
            name,
            (&mut mtu as *mut libc::c_int).cast(),
            &mut len,
        )
    })?;
    u32::try_from(mtu).map_err(|_| io::Error::other("negative MTU"))
}

fn sockaddr(addr: SocketAddr) -> (libc::sockaddr_storage, libc::socklen_t) {
    // SAFETY: sockaddr_storage is plain C data; all-zero is valid.
    let mut storage: libc::sockaddr_storage = unsafe { mem::zeroed() };
    let len = match addr {
        SocketAddr::V4(a) => {
            let sin = libc::sockaddr_in {
                sin_family: libc::AF_INET as _,
                sin_port: a.port().to_be(),
                sin_addr: libc::in_addr {
                    s_addr: u32::from(*a.ip()).to_be(),
                },
                sin_zero: [0; 8],
            };
            // SAFETY: sockaddr_storage is larger than and aligned for sockaddr_in.
            unsafe { ptr::write((&mut storage as *mut libc::sockaddr_storage).cast(), sin) };
            mem::size_of::<libc::sockaddr_in>()
        }
        SocketAddr::V6(a) => {
            let sin6 = libc::sockaddr_in6 {
                sin6_family: libc::AF_INET6 as _,
                sin6_port: a.port().to_be(),
                sin6_flowinfo: 0,
                sin6_addr: libc::in6_addr {
                    s6_addr: a.ip().octets(),
                },
                sin6_scope_id: a.scope_id(),
            };
            // SAFETY: sockaddr_storage is larger than and aligned for sockaddr_in6.
            unsafe { ptr::write((&mut storage as *mut libc::sockaddr_storage).cast(), sin6) };
            mem::size_of::<libc::sockaddr_in6>()
        }
    };
    (storage, len as libc::socklen_t)
}

/// Encode the source address as IP_PKTINFO / IPV6_PKTINFO; returns the control length
/// (0 for an unspecified source: the kernel picks one).
fn pktinfo(buf: &mut Cmsg, src: IpAddr) -> usize {
    if src.is_unspecified() {
        return 0;
    }
    let (level, kind, data_len) = match src {
        IpAddr::V4(_) => (
            libc::IPPROTO_IP,
            libc::IP_PKTINFO,
            mem::size_of::<libc::in_pktinfo>(),
        ),
        IpAddr::V6(_) => (
            libc::IPPROTO_IPV6,
            libc::IPV6_PKTINFO,
            mem::size_of::<libc::in6_pktinfo>(),
        ),
    };
    // SAFETY: CMSG_SPACE/CMSG_LEN are arithmetic.
    let (space, len) = unsafe {
        (
            libc::CMSG_SPACE(data_len as u32) as usize,
            libc::CMSG_LEN(data_len as u32) as usize,
        )
    };
    assert!(space <= buf.0.len());
    // SAFETY: buf is 8-aligned and at least `space` bytes: room for the cmsghdr and its
    // data at CMSG_DATA's offset; writes are unaligned-safe via write_unaligned.
    unsafe {
        let hdr = buf.0.as_mut_ptr().cast::<libc::cmsghdr>();
        (*hdr).cmsg_len = len as _;
        (*hdr).cmsg_level = level;
        (*hdr).cmsg_type = kind;
        let data = libc::CMSG_DATA(hdr);
        match src {
            IpAddr::V4(a) => ptr::write_unaligned(
                data.cast::<libc::in_pktinfo>(),
                libc::in_pktinfo {
                    ipi_ifindex: 0,
                    ipi_spec_dst: libc::in_addr {
                        s_addr: u32::from(a).to_be(),
                    },
                    ipi_addr: libc::in_addr { s_addr: 0 },
                },
            ),
            IpAddr::V6(a) => ptr::write_unaligned(
                data.cast::<libc::in6_pktinfo>(),
                libc::in6_pktinfo {
                    ipi6_addr: libc::in6_addr {
                        s6_addr: a.octets(),
                    },
                    ipi6_ifindex: 0,
                },
            ),
        }
    }
    space
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsFd;

    /// A span outside its slot is refused, in release builds too, and a batch sends
    /// only what was queued.
    #[test]
    fn send_batch_refuses_a_span_outside_its_slot() {
        let rx = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let tx = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let mut batch = SendBatch::new();
        batch.next_slot()[100..105].copy_from_slice(b"hello");
        for (start, len) in [(SLOT - 10, 20), (0, SLOT + 1), (usize::MAX, 2)] {
            assert!(!batch.push(start, len, false), "{start}+{len}");
        }
        assert!(batch.is_empty());
        assert!(batch.push(100, 5, false));
        let sent = batch
            .send(
                tx.as_fd(),
                tx.as_fd(),
                rx.local_addr().unwrap(),
                "127.0.0.1".parse().unwrap(),
            )
            .unwrap();
        assert_eq!(sent, 1);
        let mut buf = [0; 16];
        assert_eq!(rx.recv(&mut buf).unwrap(), 5);
        assert_eq!(&buf[..5], b"hello");
        for _ in 0..BATCH {
            assert!(batch.push(0, 1, false));
        }
        assert!(!batch.push(0, 1, false), "a full batch takes no more");
    }
}
