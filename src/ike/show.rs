//! What the engine knows for `show isakmp` / `show ipsec` (docs/design.md lists the
//! JSON fields). Packet and byte counters live in the data path: the daemon's views
//! (`daemon::show`) add them.

use super::child::ChildSa;
use super::phase1::Phase1;
use super::proposal::{cipher_name, esp_name};
use super::Engine;
use serde::Serialize;
use std::net::IpAddr;
use std::time::Instant;

/// One ISAKMP SA, like a line of IOS `show crypto isakmp sa detail`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct IsakmpSaInfo {
    pub local: IpAddr,
    pub peer: IpAddr,
    pub local_port: u16,
    pub peer_port: u16,
    /// `MM_NO_STATE`, `MM_SA_SETUP`, `MM_KEY_EXCH`, `QM_IDLE`.
    pub state: &'static str,
    pub conn_id: u32,
    pub role: &'static str,
    /// "DES", "3DES", "AES-256"...; `None` until negotiated.
    pub encryption: Option<String>,
    pub hash: Option<&'static str>,
    pub group: Option<u16>,
    pub auth: &'static str,
    pub lifetime_remaining_s: Option<u64>,
    pub nat_t: bool,
    /// The ISAKMP profile (`crypto isakmp profile`), `None` without one.
    pub profile: Option<String>,
    /// The front-door VRF it runs in (`tunnel vrf`) and the inside VRF of the tunnels it
    /// serves (`vrf forwarding`), as `show crypto isakmp sa detail`'s fvrf/ivrf column.
    pub fvrf: Option<String>,
    pub ivrf: Option<String>,
    /// Dynamic VTI: the Virtual-Access interface of the SA's peer, if it has one.
    pub virtual_access: Option<String>,
}

/// One direction of an IPsec SA pair.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct IpsecSaSide {
    pub spi: u32,
    /// IOS transform-set words: "esp-aes esp-sha-hmac".
    pub transform: String,
    pub lifetime_remaining_s: u64,
    /// The negotiated kilobyte limit; the daemon subtracts `bytes / 1024`. `None`:
    /// no volume lifetime (`set security-association lifetime kilobytes disable`).
    pub lifetime_remaining_kb: Option<u64>,
}

/// One IPsec SA pair, like IOS `show crypto ipsec sa` for a tunnel interface.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct IpsecSaInfo {
    pub interface: String,
    /// The words after `tunnel mode` ("ipsec ipv6", "gre ip").
    pub tunnel_mode: &'static str,
    /// `tunnel vrf` and `vrf forwarding` of the interface (`show crypto session`).
    pub fvrf: Option<String>,
    pub ivrf: Option<String>,
    pub local: IpAddr,
    pub peer: IpAddr,
    pub peer_port: u16,
    /// `addr/prefix`, e.g. `::/0` (any protocol, any port on a VTI).
    pub local_ident: String,
    pub remote_ident: String,
    /// The proxies' IP protocol: 0 (any) on a VTI, 47 (GRE) on GRE over IPsec.
    pub protocol: u8,
    /// "tunnel" on a VTI (IOS too, whatever the transform set says); "transport" or
    /// "tunnel" on GRE over IPsec, as negotiated.
    pub mode: &'static str,
    /// UDP-encapsulated ESP (RFC 3948) because a NAT was detected.
    pub nat_t: bool,
    /// e.g. "group14"; `None` without PFS.
    pub pfs: Option<String>,
    pub conn_id: u32,
    /// The anti-replay window in packets; 0: `set security-association replay disable`.
    pub replay_window: u32,
    pub inbound: IpsecSaSide,
    /// `None` while the responder waits for QM3, and once a newer pair carries the
    /// traffic (the inbound SA stays until the peer deletes it).
    pub outbound: Option<IpsecSaSide>,
    /// Dynamic VTI: the Virtual-Template the interface (a Virtual-Access) was cloned
    /// from; `None` for `interface TunnelN`.
    pub virtual_template: Option<String>,
}

impl Engine {
    pub fn isakmp_sas(&self, now: Instant) -> Vec<IsakmpSaInfo> {
        self.isakmp_sas_of(now, None)
    }

    /// The ISAKMP SAs with one peer address (`show isakmp --peer`), or all, in conn-id
    /// order; those of other peers are not looked at.
    pub fn isakmp_sas_of(&self, now: Instant, peer: Option<IpAddr>) -> Vec<IsakmpSaInfo> {
        let sas: Box<dyn Iterator<Item = &Phase1>> = match peer {
            Some(peer) => Box::new(self.phase1.of_peer(peer)),
            None => Box::new(self.phase1.values()),
        };
        sas.filter(|p| !p.failed())
            .map(|p| {
                // The inside VRF of a tunnel between its addresses.
                let served = self.tunnels_between(p.endpoints()).next();
                let suite = p.suite();
                let remaining = p
                    .established()
                    .and_then(|_| p.ex.timers.get(super::timer::Timer::Lifetime))
                    .map(|end| end.saturating_duration_since(now).as_secs());
                IsakmpSaInfo {
                    local: p.local.ip(),
                    peer: p.remote.ip(),
                    local_port: p.local.port(),
                    peer_port: p.remote.port(),
                    state: p.state.show().ios_name(),
                    conn_id: p.conn_id,
                    role: match p.role {
                        super::state::Role::Initiator => "initiator",
                        super::state::Role::Responder => "responder",
                    },
                    encryption: suite.map(|s| cipher_name(s.cipher)),
                    hash: suite.map(|s| super::proposal::hash_name(s.hash)),
                    group: suite.map(|s| s.group.id()),
                    auth: "psk",
                    lifetime_remaining_s: remaining,
                    nat_t: p.nat.detected(),
                    profile: p.profile.clone(),
                    fvrf: p.fvrf.map(|v| v.to_string()),
                    ivrf: served.and_then(|t| t.options.ivrf.clone()),
                    virtual_access: self
                        .virtual_access_between(p.endpoints())
                        .map(|c| c.va.name.clone()),
                }
            })
            .collect()
    }

    pub fn ipsec_sas(&self, now: Instant) -> Vec<IpsecSaInfo> {
        self.ipsec_sas_of(now, None, None)
    }

    /// The pairs of one peer address and/or one interface (`show ipsec --peer
    /// --interface`), found through the pairs' indexes: the views of the others are not
    /// built (a hub holds thousands).
    pub fn ipsec_sas_of(
        &self,
        now: Instant,
        peer: Option<IpAddr>,
        interface: Option<&str>,
    ) -> Vec<IpsecSaInfo> {
        let pairs: Box<dyn Iterator<Item = &ChildSa>> = match (interface, peer) {
            (Some(tunnel), _) => Box::new(self.children.of_tunnel(tunnel)),
            (None, Some(peer)) => Box::new(self.children.of_peer(peer)),
            (None, None) => Box::new(self.children.iter()),
        };
        pairs
            .filter(|c| peer.is_none_or(|p| c.endpoints().peer == p))
            .map(|c| {
                let remaining_s = c
                    .life
                    .seconds
                    .saturating_sub(now.saturating_duration_since(c.installed_at).as_secs());
                let side = |spi| IpsecSaSide {
                    spi,
                    transform: esp_name(c.transform),
                    lifetime_remaining_s: remaining_s,
                    lifetime_remaining_kb: (c.life.kilobytes != u64::MAX)
                        .then_some(c.life.kilobytes),
                };
                // A configured tunnel's (by index: a show of N pairs is O(N)); a
                // Virtual-Access's pair shows no interface options, as before.
                let tunnel = self
                    .tunnel_index
                    .by_name
                    .get(&c.tunnel)
                    .and_then(|&i| self.settings.tunnels.get(i));
                let options = tunnel.map(|t| &t.options);
                IpsecSaInfo {
                    interface: c.tunnel.clone(),
                    tunnel_mode: options.map_or("", |o| o.tunnel_mode),
                    fvrf: options.and_then(|o| o.fvrf.clone()),
                    ivrf: options.and_then(|o| o.ivrf.clone()),
                    local: c.local.ip(),
                    peer: c.remote.ip(),
                    peer_port: c.remote.port(),
                    local_ident: c.local_ident.clone(),
                    remote_ident: c.remote_ident.clone(),
                    protocol: c.protocol,
                    mode: c.mode.word(),
                    nat_t: c.udp_encap,
                    pfs: c.pfs.map(|g| format!("group{}", g.id())),
                    conn_id: c.conn_id,
                    replay_window: c.replay_window,
                    inbound: side(c.spi_in),
                    outbound: (c.outbound && !c.superseded).then(|| side(c.spi_out)),
                    virtual_template: self.clones.get(&c.tunnel).map(|c| c.va.template_name()),
                }
            })
            .collect()
    }
}
