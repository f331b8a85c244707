//! Socket options for the IKE sockets: a per-socket IPsec bypass policy and
//! ESP-in-UDP decapsulation on port 4500. The only `unsafe` of the kernel path.

use netlink_packet_core::Emitable;
use netlink_packet_xfrm::{
    LifetimeConfig, UserPolicyInfo, AF_INET, AF_INET6, UDP_ENCAP_ESPINUDP, XFRM_POLICY_ALLOW,
    XFRM_POLICY_IN, XFRM_POLICY_OUT,
};
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd};

fn setsockopt(
    fd: BorrowedFd<'_>,
    level: libc::c_int,
    name: libc::c_int,
    value: &[u8],
) -> io::Result<()> {
    // SAFETY: `fd` is a valid open descriptor for the borrow's lifetime, and
    // `value` is a live, initialised buffer of exactly `value.len()` bytes that
    // the kernel only reads during the call.
    #[allow(unsafe_code)]
    let rc = unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            level,
            name,
            value.as_ptr().cast(),
            value.len() as libc::socklen_t,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Exempt the IKE socket from IPsec policies (IP_XFRM_POLICY / IPV6_XFRM_POLICY
/// with an allow policy and no template, in and out), so that `::/0` policies
/// can never capture IKE itself.
pub fn bypass_socket(fd: BorrowedFd<'_>, v6: bool) -> io::Result<()> {
    let (level, name) = if v6 {
        (libc::IPPROTO_IPV6, libc::IPV6_XFRM_POLICY)
    } else {
        (libc::IPPROTO_IP, libc::IP_XFRM_POLICY)
    };
    for direction in [XFRM_POLICY_IN, XFRM_POLICY_OUT] {
        let mut policy = UserPolicyInfo {
            direction,
            action: XFRM_POLICY_ALLOW,
            lifetime_cfg: LifetimeConfig::default(),
            ..UserPolicyInfo::default()
        };
        // An all-zero selector, but of the socket's family: the kernel refuses AF_UNSPEC.
        policy.selector.family = if v6 { AF_INET6 } else { AF_INET };
        let mut raw = vec![0; policy.buffer_len()];
        policy.emit(&mut raw);
        setsockopt(fd, level, name, &raw)?;
    }
    Ok(())
}

/// Let the kernel take RFC 3948 ESP-in-UDP off the NAT-T socket (UDP 4500);
/// IKE messages (non-ESP marker) still reach the socket.
pub fn enable_espinudp(fd: BorrowedFd<'_>) -> io::Result<()> {
    const UDP_ENCAP: libc::c_int = 100; // linux/udp.h
    let encap = libc::c_int::from(UDP_ENCAP_ESPINUDP);
    setsockopt(fd, libc::IPPROTO_UDP, UDP_ENCAP, &encap.to_ne_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::UdpSocket;
    use std::os::fd::AsFd;

    #[test]
    fn ike_sockets_accept_bypass_and_encap() {
        // The host kernel has XFRM netlink; a socket policy needs no ESP module.
        let s6 = UdpSocket::bind("[::1]:0").unwrap();
        bypass_socket(s6.as_fd(), true).unwrap();
        let s4 = UdpSocket::bind("127.0.0.1:0").unwrap();
        bypass_socket(s4.as_fd(), false).unwrap();
        enable_espinudp(s4.as_fd()).unwrap();
    }
}
