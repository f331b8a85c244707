//! The outer sockets: raw ESP (IP protocol 50) for IPv4 and IPv6, and raw UDP sockets
//! that see only ESP-in-UDP on port 4500 (RFC 3948), steered by classic BPF filters
//! in the kernel so that IKE on 4500 never reaches the data path and ESP never reaches
//! the daemon (see the module documentation of `userspace`).

use super::sa::Sa;
use super::sys::{self, SendBatch};
use nix::sys::socket::{setsockopt, sockopt::BindToDevice};
use std::ffi::OsString;
use std::io;
use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::time::Duration;

/// IKE and ESP-in-UDP port (RFC 3948 2).
pub(crate) const NAT_T_PORT: u16 = 4500;
/// UDP header in front of ESP when encapsulated.
pub(crate) const UDP_HEADER_LEN: usize = 8;
/// How long a receive thread blocks before looking at its stop flag.
pub(crate) const WAKE_INTERVAL: Duration = Duration::from_millis(100);
/// Socket buffers: bursts of a fast sender must not overflow between two batches.
const BUFFER_BYTES: libc::c_int = 4 << 20;

/// The outer framing of an SA's packets, which picks the socket.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Outer {
    Esp4,
    Esp6,
    Udp4,
    Udp6,
}

impl Outer {
    pub const ALL: [Outer; 4] = [Outer::Esp4, Outer::Esp6, Outer::Udp4, Outer::Udp6];

    pub fn of(peer: IpAddr, udp: bool) -> Self {
        match (peer.is_ipv6(), udp) {
            (false, false) => Outer::Esp4,
            (true, false) => Outer::Esp6,
            (false, true) => Outer::Udp4,
            (true, true) => Outer::Udp6,
        }
    }

    fn is_v6(self) -> bool {
        matches!(self, Outer::Esp6 | Outer::Udp6)
    }

    /// Where the ESP header starts in a datagram read from this socket: raw IPv4
    /// sockets deliver the IPv4 header, raw IPv6 sockets do not (RFC 3542 3).
    pub fn esp_offset(self, datagram: &[u8]) -> Option<usize> {
        let ip = match self {
            Outer::Esp6 | Outer::Udp6 => 0,
            Outer::Esp4 | Outer::Udp4 => usize::from(datagram.first()? & 0x0f) * 4,
        };
        let udp = match self {
            Outer::Udp4 | Outer::Udp6 => UDP_HEADER_LEN,
            Outer::Esp4 | Outer::Esp6 => 0,
        };
        let at = ip + udp;
        (at <= datagram.len()).then_some(at)
    }
}

/// Classic BPF (linux/filter.h) instruction builders.
fn stmt(code: u32, k: u32) -> libc::sock_filter {
    libc::sock_filter {
        code: code as u16,
        jt: 0,
        jf: 0,
        k,
    }
}
fn jump(code: u32, k: u32, jt: u8, jf: u8) -> libc::sock_filter {
    libc::sock_filter {
        code: code as u16,
        jt,
        jf,
        k,
    }
}
const ACCEPT: u32 = u32::MAX;
const DROP: u32 = 0;
const LD_W_ABS: u32 = libc::BPF_LD | libc::BPF_W | libc::BPF_ABS;
const LD_H_ABS: u32 = libc::BPF_LD | libc::BPF_H | libc::BPF_ABS;
const LD_W_IND: u32 = libc::BPF_LD | libc::BPF_W | libc::BPF_IND;
const LD_H_IND: u32 = libc::BPF_LD | libc::BPF_H | libc::BPF_IND;
const JEQ: u32 = libc::BPF_JMP | libc::BPF_JEQ | libc::BPF_K;
const RET: u32 = libc::BPF_RET | libc::BPF_K;

/// ESP-in-UDP to port 4500 only: the 4 bytes after the UDP header are a non-zero SPI.
/// Zero is IKE's non-ESP marker, and 1-byte NAT keepalives are too short to load
/// (a failed load drops the packet). The filter sees the packet from the IPv4 header
/// on IPv4 raw sockets (X = its length, `ldxb 4*([0]&0xf)`), from the UDP header on IPv6.
fn esp_in_udp_filter(v6: bool) -> Vec<libc::sock_filter> {
    let (ld_h, ld_w) = if v6 {
        (LD_H_ABS, LD_W_ABS)
    } else {
        (LD_H_IND, LD_W_IND)
    };
    let mut prog = Vec::new();
    if !v6 {
        prog.push(stmt(libc::BPF_LDX | libc::BPF_B | libc::BPF_MSH, 0));
    }
    prog.extend([
        stmt(ld_h, 2),                      // destination port
        jump(JEQ, NAT_T_PORT.into(), 0, 3), // else drop
        stmt(ld_w, UDP_HEADER_LEN as u32),  // SPI or non-ESP marker
        jump(JEQ, 0, 1, 0),                 // marker: drop
        stmt(RET, ACCEPT),
        stmt(RET, DROP),
    ]);
    prog
}

/// For the daemon's own UDP 4500 socket: keep IKE (non-ESP marker) only. UDP socket
/// filters see the packet from the UDP header.
fn ike_only_filter() -> [libc::sock_filter; 4] {
    [
        stmt(LD_W_ABS, UDP_HEADER_LEN as u32),
        jump(JEQ, 0, 0, 1),
        stmt(RET, ACCEPT),
        stmt(RET, DROP),
    ]
}

/// Let the daemon's 4500 socket see only IKE: the data path takes ESP-in-UDP through
/// its raw sockets, so the daemon never wakes for (or copies) an ESP packet.
pub(crate) fn keep_ike_only(socket: BorrowedFd) -> io::Result<()> {
    sys::attach_filter(socket, &ike_only_filter())
}

/// When no daemon holds UDP `local` (the `dp_driver` test driver), hold it ourselves,
/// receiving nothing, so ESP-in-UDP to it draws no ICMP port-unreachable. Returns
/// `None` when the port is taken already, normally by the daemon.
pub(crate) fn hold_port(local: SocketAddr) -> io::Result<Option<UdpSocket>> {
    match UdpSocket::bind(local) {
        Ok(sock) => {
            sys::attach_filter(sock.as_fd(), &[stmt(RET, DROP)])?;
            Ok(Some(sock))
        }
        Err(e) if e.kind() == io::ErrorKind::AddrInUse => Ok(None),
        Err(e) => Err(e),
    }
}

/// The four outer sockets, shared by every tunnel: transmit threads send on them
/// (the source address goes per batch in IP(V6)_PKTINFO), one receive thread each reads.
/// And a fifth, IPPROTO_RAW, for IPv4 packets with a header of our own (`df.rs`): it
/// receives nothing.
pub(crate) struct Sockets {
    fds: [OwnedFd; 4],
    own_header: OwnedFd,
}

impl Sockets {
    /// The four sockets of the global table (`vrf` `None`), or bound to a VRF device
    /// (`tunnel vrf`: SO_BINDTODEVICE, so that what they send is routed in its table and
    /// what they receive came in on its interfaces).
    pub fn open(vrf: Option<&str>) -> io::Result<Self> {
        let mut fds = Vec::with_capacity(4);
        for outer in Outer::ALL {
            let v6 = outer.is_v6();
            let fd = match outer {
                Outer::Esp4 | Outer::Esp6 => sys::raw_socket(v6, libc::IPPROTO_ESP)?,
                Outer::Udp4 | Outer::Udp6 => {
                    let fd = sys::raw_socket(v6, libc::IPPROTO_UDP)?;
                    sys::attach_filter(fd.as_fd(), &esp_in_udp_filter(v6))?;
                    if v6 {
                        // IPv6 forbids a zero UDP checksum (RFC 8200 8.1): the kernel
                        // computes it at offset 6 of what we send (RFC 3542 3.1).
                        sys::set_int_option(
                            fd.as_fd(),
                            libc::IPPROTO_IPV6,
                            libc::IPV6_CHECKSUM,
                            6,
                        )?;
                    }
                    fd
                }
            };
            if let Some(vrf) = vrf {
                setsockopt(&fd, BindToDevice, &OsString::from(vrf))?;
            }
            sys::set_recv_timeout(fd.as_fd(), WAKE_INTERVAL)?;
            for opt in [libc::SO_RCVBUFFORCE, libc::SO_SNDBUFFORCE] {
                // Best effort: without CAP_NET_ADMIN the default buffers still work.
                let _ = sys::set_int_option(fd.as_fd(), libc::SOL_SOCKET, opt, BUFFER_BYTES);
            }
            fds.push(fd);
        }
        let fds = fds
            .try_into()
            .map_err(|_| io::Error::other("socket count"))?;
        let own_header = sys::raw_socket(false, libc::IPPROTO_RAW)?;
        if let Some(vrf) = vrf {
            // Its packets leave through the same underlay as the others.
            setsockopt(&own_header, BindToDevice, &OsString::from(vrf))?;
        }
        let _ = sys::set_int_option(
            own_header.as_fd(),
            libc::SOL_SOCKET,
            libc::SO_SNDBUFFORCE,
            BUFFER_BYTES,
        );
        Ok(Sockets { fds, own_header })
    }

    pub fn get(&self, outer: Outer) -> BorrowedFd<'_> {
        self.fds[outer as usize].as_fd()
    }

    /// Send `batch`, sealed with outbound `sa`, from its source to its peer: on `sa`'s
    /// outer socket, and those with an IPv4 header of their own on IPPROTO_RAW (`df.rs`).
    pub fn send(&self, batch: &mut SendBatch, sa: &Sa) -> io::Result<usize> {
        // Port 0: on raw sockets a port would be read as the IP protocol.
        let dst = SocketAddr::new(sa.dst, 0);
        batch.send(self.get(sa.outer), self.own_header.as_fd(), dst, sa.src)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn esp_offset_skips_the_headers_each_socket_delivers() {
        let mut v4 = vec![0u8; 40];
        v4[0] = 0x46; // IHL 6: 24-byte header with options
        assert_eq!(Outer::Esp4.esp_offset(&v4), Some(24));
        assert_eq!(Outer::Udp4.esp_offset(&v4), Some(32));
        assert_eq!(Outer::Esp6.esp_offset(&v4), Some(0));
        assert_eq!(Outer::Udp6.esp_offset(&v4), Some(8));
        assert_eq!(Outer::Udp4.esp_offset(&v4[..20]), None);
        assert_eq!(Outer::Esp4.esp_offset(&[]), None);
    }

    /// Just enough of a classic BPF interpreter for the instructions used here.
    fn run(prog: &[libc::sock_filter], pkt: &[u8]) -> u32 {
        let (mut a, mut x, mut pc) = (0u32, 0u32, 0usize);
        let load = |at: usize, n: usize| -> Option<u32> {
            let b = pkt.get(at..at + n)?;
            Some(b.iter().fold(0, |v, &b| v << 8 | u32::from(b)))
        };
        loop {
            let ins = prog[pc];
            let (code, k) = (u32::from(ins.code), ins.k as usize);
            pc += 1;
            let loaded = match code {
                c if c == LD_W_ABS => load(k, 4),
                c if c == LD_H_ABS => load(k, 2),
                c if c == LD_W_IND => load(x as usize + k, 4),
                c if c == LD_H_IND => load(x as usize + k, 2),
                c if c == libc::BPF_LDX | libc::BPF_B | libc::BPF_MSH => {
                    x = (load(k, 1).unwrap_or(0) & 0xf) * 4;
                    continue;
                }
                c if c == JEQ => {
                    pc += usize::from(if a == ins.k { ins.jt } else { ins.jf });
                    continue;
                }
                c if c == RET => return ins.k,
                _ => panic!("instruction {code:#x} not interpreted"),
            };
            match loaded {
                Some(v) => a = v,
                None => return DROP, // the kernel ends a filter on an out-of-bounds load
            }
        }
    }

    fn udp(dport: u16, payload: &[u8]) -> Vec<u8> {
        let mut p = vec![0x11, 0x94];
        p.extend(dport.to_be_bytes());
        p.extend(((8 + payload.len()) as u16).to_be_bytes());
        p.extend([0, 0]);
        p.extend(payload);
        p
    }
    fn ipv4(l4: Vec<u8>) -> Vec<u8> {
        let mut p = vec![0u8; 20];
        p[0] = 0x45;
        p.extend(l4);
        p
    }

    #[test]
    fn daemon_socket_keeps_ike_and_loses_esp_in_the_kernel() {
        let daemon = UdpSocket::bind("127.0.0.1:0").unwrap();
        keep_ike_only(daemon.as_fd()).unwrap();
        daemon
            .set_read_timeout(Some(Duration::from_millis(500)))
            .unwrap();
        let peer = UdpSocket::bind("127.0.0.1:0").unwrap();
        let to = daemon.local_addr().unwrap();
        let esp = [0x12, 0x34, 0x56, 0x78, 0, 0, 0, 1, 0xaa, 0xbb, 0xcc, 0xdd];
        let ike = [0, 0, 0, 0, 0xde, 0xad, 0xbe, 0xef, 1, 2, 3, 4];
        peer.send_to(&esp, to).unwrap();
        peer.send_to(&[0xff], to).unwrap();
        peer.send_to(&ike, to).unwrap();
        let mut buf = [0u8; 64];
        let n = daemon.recv(&mut buf).unwrap();
        assert_eq!(buf[..n], ike, "the first datagram through is the IKE one");
        assert!(daemon.recv(&mut buf).is_err(), "nothing else queued");
    }

    #[test]
    fn kernel_filters_split_ike_from_esp_on_4500() {
        let esp = [0x12, 0x34, 0x56, 0x78, 0, 0, 0, 1, 0xaa, 0xbb];
        let ike = [0, 0, 0, 0, 0xde, 0xad, 0xbe, 0xef, 1, 2, 3, 4];
        let keepalive = [0xff];
        let (f4, f6, daemon) = (
            esp_in_udp_filter(false),
            esp_in_udp_filter(true),
            ike_only_filter(),
        );
        assert_eq!(run(&f6, &udp(4500, &esp)), ACCEPT);
        assert_eq!(run(&f4, &ipv4(udp(4500, &esp))), ACCEPT);
        for (what, payload) in [("IKE", &ike[..]), ("keepalive", &keepalive[..])] {
            assert_eq!(run(&f6, &udp(4500, payload)), DROP, "{what}");
            assert_eq!(run(&f4, &ipv4(udp(4500, payload))), DROP, "{what}");
        }
        assert_eq!(run(&f6, &udp(500, &esp)), DROP, "port 500");
        assert_eq!(run(&f4, &ipv4(udp(53, &esp))), DROP, "port 53");
        let mut options = ipv4(udp(4500, &esp));
        options[0] = 0x46;
        options.splice(20..20, [0; 4]);
        assert_eq!(run(&f4, &options), ACCEPT, "IPv4 header with options");
        assert_eq!(run(&daemon, &udp(4500, &ike)), ACCEPT);
        assert_eq!(run(&daemon, &udp(4500, &esp)), DROP);
        assert_eq!(run(&daemon, &udp(4500, &keepalive)), DROP);
    }
}
