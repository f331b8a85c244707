//! Synchronous netlink request/response over one socket: send a request with
//! `NLM_F_ACK` (or `NLM_F_DUMP`), collect the replies up to the ACK or DONE.
//! XFRM for the kernel path; rtnetlink (`link.rs`) for both paths.

use netlink_packet_core::{
    NetlinkBuffer, NetlinkDeserializable, NetlinkHeader, NetlinkMessage, NetlinkPayload,
    NetlinkSerializable, NLM_F_ACK, NLM_F_DUMP, NLM_F_REQUEST,
};
use netlink_sys::{Socket, SocketAddr};
use nix::sys::socket::{setsockopt, sockopt::ReceiveTimeout};
use nix::sys::time::TimeVal;
use std::io;
use std::marker::PhantomData;
use zeroize::Zeroizing;

/// A netlink family's messages, with the guard the decoders need: the XFRM
/// decoders slice fixed-size structs without checking the length first.
pub(crate) trait Protocol: NetlinkSerializable + NetlinkDeserializable + Sized {
    const PROTOCOL: isize;
    /// The smallest payload of `message_type` that decodes without panicking;
    /// `None` for message types this data path never expects (they are skipped).
    fn min_payload_len(message_type: u16) -> Option<usize>;
    /// Wipe what the message carries that is secret (an SA's keys), once sent.
    fn wipe(&mut self) {}
}

/// The request as sent: `msg` with header `flags` and sequence number `seq`. The
/// message (the caller's copy of an SA's keys) is wiped here, the bytes on drop.
pub(crate) fn encode<M: Protocol>(msg: M, flags: u16, seq: u32) -> Zeroizing<Vec<u8>> {
    let mut header = NetlinkHeader::default();
    header.flags = flags;
    header.sequence_number = seq;
    let mut packet = NetlinkMessage::new(header, NetlinkPayload::InnerMessage(msg));
    packet.finalize();
    let mut bytes = Zeroizing::new(vec![0; packet.buffer_len()]);
    packet.serialize(&mut bytes);
    if let NetlinkPayload::InnerMessage(msg) = &mut packet.payload {
        msg.wipe();
    }
    bytes
}

const REPLY_TIMEOUT_S: i64 = 60;

/// Receive buffer: a dump reply of a few hundred states fits in several reads.
const RECV_BUF: usize = 64 * 1024;

pub(super) struct Netlink<M> {
    socket: Socket,
    seq: u32,
    buf: Vec<u8>,
    _m: PhantomData<M>,
}

impl<M: Protocol> Netlink<M> {
    pub fn open() -> io::Result<Self> {
        let mut socket = Socket::new(M::PROTOCOL)?;
        socket.bind_auto()?;
        socket.connect(&SocketAddr::new(0, 0))?;
        // Never hang the daemon on a lost answer; the first ESP state can take
        // seconds on a slow machine while the kernel loads modules.
        setsockopt(&socket, ReceiveTimeout, &TimeVal::new(REPLY_TIMEOUT_S, 0))?;
        Ok(Netlink {
            socket,
            seq: 0,
            buf: Vec::with_capacity(RECV_BUF),
            _m: PhantomData,
        })
    }

    /// Send `msg` with `NLM_F_ACK` and return the kernel's answers before the ACK
    /// (the one reply of a GET or ALLOCSPI). An error reply becomes `Err(errno)`.
    pub fn request(&mut self, msg: M, flags: u16) -> io::Result<Vec<M>> {
        self.exchange(msg, NLM_F_REQUEST | NLM_F_ACK | flags)
    }

    /// Send a dump request for `msg`'s kind; return every object up to DONE.
    pub fn dump(&mut self, msg: M) -> io::Result<Vec<M>> {
        self.exchange(msg, NLM_F_REQUEST | NLM_F_DUMP)
    }

    fn exchange(&mut self, msg: M, flags: u16) -> io::Result<Vec<M>> {
        self.seq = self.seq.wrapping_add(1);
        self.socket.send(&encode(msg, flags, self.seq), 0)?;
        let mut replies = Vec::new();
        loop {
            self.buf.clear();
            self.socket
                .recv(&mut self.buf, 0)
                .map_err(|e| match e.kind() {
                    io::ErrorKind::WouldBlock => io::Error::new(
                        io::ErrorKind::TimedOut,
                        format!("no netlink answer within {REPLY_TIMEOUT_S} s"),
                    ),
                    _ => e,
                })?;
            let mut at = 0;
            while at < self.buf.len() {
                let nl = NetlinkBuffer::new_checked(&self.buf[at..]).map_err(invalid)?;
                let len = (nl.length() as usize).max(16);
                let (seq, ty, payload_len) =
                    (nl.sequence_number(), nl.message_type(), nl.payload().len());
                let frame = &self.buf[at..(at + len).min(self.buf.len())];
                at += (len + 3) & !3;
                if seq != self.seq {
                    continue; // a late answer to an earlier, abandoned request
                }
                if ty >= 16 && !matches!(M::min_payload_len(ty), Some(min) if payload_len >= min) {
                    continue;
                }
                match NetlinkMessage::<M>::deserialize(frame)
                    .map_err(invalid)?
                    .payload
                {
                    NetlinkPayload::Error(e) => {
                        return match e.code {
                            None => Ok(replies),
                            Some(_) => Err(e.to_io()),
                        }
                    }
                    NetlinkPayload::Done(_) => return Ok(replies),
                    NetlinkPayload::InnerMessage(m) => replies.push(m),
                    _ => {}
                }
            }
        }
    }
}

/// The errno's name (`EPROTONOSUPPORT`) rather than its sentence.
pub(super) fn errno_name(e: &io::Error) -> String {
    match e.raw_os_error() {
        Some(n) => format!("{:?}", nix::errno::Errno::from_raw(n)),
        None => e.to_string(),
    }
}

/// ENOENT / ESRCH: the object expired or went with another meanwhile, which is fine
/// when removing it.
pub(super) fn unless_gone<T>(r: io::Result<T>) -> io::Result<()> {
    match r {
        Err(e) if !matches!(e.raw_os_error(), Some(libc::ENOENT | libc::ESRCH)) => Err(e),
        _ => Ok(()),
    }
}

fn invalid(e: netlink_packet_core::DecodeError) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, e.to_string())
}

/// A subscriber to multicast groups, read without blocking.
pub(super) struct Listener<M> {
    socket: Socket,
    buf: Vec<u8>,
    _m: PhantomData<M>,
}

impl<M: Protocol> Listener<M> {
    pub fn open(groups: &[u32]) -> io::Result<Self> {
        let mut socket = Socket::new(M::PROTOCOL)?;
        socket.bind_auto()?;
        for &g in groups {
            socket.add_membership(g)?;
        }
        socket.set_non_blocking(true)?;
        Ok(Listener {
            socket,
            buf: Vec::with_capacity(RECV_BUF),
            _m: PhantomData,
        })
    }

    /// Every message queued now; stops at `WouldBlock`.
    pub fn drain(&mut self) -> io::Result<Vec<M>> {
        let mut out = Vec::new();
        loop {
            self.buf.clear();
            match self.socket.recv(&mut self.buf, 0) {
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(out),
                Err(e) => return Err(e),
            }
            let mut at = 0;
            while let Ok(nl) = NetlinkBuffer::new_checked(&self.buf[at..]) {
                let len = (nl.length() as usize).max(16);
                let (ty, payload_len) = (nl.message_type(), nl.payload().len());
                let frame = &self.buf[at..(at + len).min(self.buf.len())];
                at += (len + 3) & !3;
                if matches!(M::min_payload_len(ty), Some(min) if payload_len >= min) {
                    if let Ok(NetlinkPayload::InnerMessage(m)) =
                        NetlinkMessage::<M>::deserialize(frame).map(|m| m.payload)
                    {
                        out.push(m);
                    }
                }
                if at >= self.buf.len() {
                    break;
                }
            }
        }
    }
}
