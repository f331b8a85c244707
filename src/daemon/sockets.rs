//! The IKE sockets: UDP 500 and 4500 on each local address a tunnel uses, one pair per
//! front-door VRF (`tunnel vrf`): a socket bound to the VRF device (SO_BINDTODEVICE,
//! before `bind`) sends in the VRF's table and receives what came in on its interfaces
//! only, so the same address may serve two VRFs. An unbound socket is the global
//! table's (net.ipv4.udp_l3mdev_accept is 0 by default: it hears no VRF's IKE).

use nix::sys::socket::{
    bind, setsockopt, socket, sockopt::BindToDevice, AddressFamily, SockFlag, SockType,
    SockaddrStorage,
};
use std::ffi::OsString;
use std::io;
use std::net::{SocketAddr, UdpSocket};
use std::os::fd::AsRawFd;

/// A non-blocking UDP socket on `addr`, in VRF `vrf` (`None`: the global table).
pub fn bind_ike(addr: SocketAddr, vrf: Option<&str>) -> io::Result<UdpSocket> {
    let family = if addr.is_ipv4() {
        AddressFamily::Inet
    } else {
        AddressFamily::Inet6
    };
    let fd = socket(
        family,
        SockType::Datagram,
        // Blocking: a receive thread of its own reads it (with a timeout).
        SockFlag::SOCK_CLOEXEC,
        None,
    )?;
    if let Some(vrf) = vrf {
        setsockopt(&fd, BindToDevice, &OsString::from(vrf))?;
    }
    bind(fd.as_raw_fd(), &SockaddrStorage::from(addr))?;
    Ok(UdpSocket::from(fd))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ike_sockets_bind_in_the_global_table() {
        let s = bind_ike("127.0.0.1:0".parse().unwrap(), None).unwrap();
        let addr = s.local_addr().unwrap();
        let peer = UdpSocket::bind("127.0.0.1:0").unwrap();
        peer.send_to(b"ike", addr).unwrap();
        s.set_nonblocking(false).unwrap();
        let mut buf = [0u8; 8];
        assert_eq!(s.recv(&mut buf).unwrap(), 3);
        // A VRF this host lacks: SO_BINDTODEVICE says so (ENODEV).
        let e = bind_ike("127.0.0.1:0".parse().unwrap(), Some("NO-SUCH-VRF")).unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::ENODEV));
    }
}
