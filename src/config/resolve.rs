//! From the model to what the engine and the data path need. `tunnel source` naming an
//! interface is resolved here, at start and on reload, through a resolver the caller
//! passes (`resolve_interface` in the daemon, a table in tests).

use super::error::ConfigError;
use super::model::*;
use crate::crypto::EspTransform;
use crate::dataplane::TunnelSpec;
use crate::ike::settings::{self, Dpd, IsakmpPolicy, Origin, Settings, TunnelSettings};
use crate::ipsec::InnerFamily;
use std::net::IpAddr;

/// The addresses of a Linux interface, or `None` if there is no such interface.
pub fn resolve_interface(name: &str) -> Option<Vec<IpAddr>> {
    let mut found = false;
    let mut addresses = Vec::new();
    for ifa in nix::ifaddrs::getifaddrs().ok()? {
        if ifa.interface_name != name {
            continue;
        }
        found = true;
        if let Some(a) = ifa.address {
            if let Some(v4) = a.as_sockaddr_in() {
                addresses.push(IpAddr::V4(v4.ip()));
            } else if let Some(v6) = a.as_sockaddr_in6() {
                addresses.push(IpAddr::V6(v6.ip()));
            }
        }
    }
    found.then_some(addresses)
}

/// What one protected tunnel's lines say, all present (validation guarantees it; a
/// hand-built model gets an error instead of a panic).
struct Endpoints {
    local: IpAddr,
    peer: At<IpAddr>,
    inner: InnerFamily,
    profile: Profile,
}

impl Config {
    fn origin(&self, line: u32) -> Origin {
        Origin {
            file: self.file.clone(),
            line,
        }
    }

    fn error(&self, line: u32, message: String) -> ConfigError {
        ConfigError {
            file: self.file.clone(),
            line,
            message,
        }
    }

    fn endpoints(
        &self,
        t: &Tunnel,
        resolve: &dyn Fn(&str) -> Option<Vec<IpAddr>>,
    ) -> Result<Endpoints, ConfigError> {
        let name = t.name();
        let missing = |what: &str| self.error(t.line, format!("{name} has no `{what}`"));
        let mode = t
            .mode
            .as_ref()
            .ok_or_else(|| missing("tunnel mode ipsec"))?;
        let peer = t
            .destination
            .clone()
            .ok_or_else(|| missing("tunnel destination"))?;
        let source = t.source.as_ref().ok_or_else(|| missing("tunnel source"))?;
        let protection = t
            .profile
            .as_ref()
            .ok_or_else(|| missing("tunnel protection"))?;
        let profile = self.profile(&protection.value).ok_or_else(|| {
            self.error(
                protection.line,
                format!("no crypto ipsec profile named {}", protection.value),
            )
        })?;
        // `tunnel mode ipsec ipv4|ipv6` names the outer family (validation checks the
        // destination against it) as well as the proxy identities' (IOS: ipv6 over ipv6).
        let outer = mode.value;
        let local = match &source.value {
            TunnelSource::Address(a) => *a,
            TunnelSource::Interface(ifname) => {
                let addresses = resolve(ifname).ok_or_else(|| {
                    self.error(
                        source.line,
                        format!("tunnel source {ifname}: no such interface"),
                    )
                })?;
                addresses
                    .into_iter()
                    .find(|a| family_of(*a) == outer && !is_link_local(*a))
                    .ok_or_else(|| {
                        self.error(
                            source.line,
                            format!(
                                "tunnel source {ifname} has no {} address to reach {}",
                                if outer == InnerFamily::V4 {
                                    "IPv4"
                                } else {
                                    "global IPv6"
                                },
                                peer.value
                            ),
                        )
                    })?
            }
        };
        Ok(Endpoints {
            local,
            peer,
            inner: mode.value,
            profile: profile.clone(),
        })
    }

    /// The engine's settings. Tunnels that are `shutdown` are included, marked so.
    pub fn to_settings(
        &self,
        resolve: impl Fn(&str) -> Option<Vec<IpAddr>>,
    ) -> Result<Settings, ConfigError> {
        let mut policies: Vec<IsakmpPolicy> = self
            .policies
            .iter()
            .map(|p| IsakmpPolicy {
                priority: p.priority,
                cipher: p.encryption.value,
                hash: p.hash.value,
                group: p.group.value,
                lifetime_s: p.lifetime_s.value,
                origin: self.origin(p.line),
            })
            .collect();
        policies.sort_by_key(|p| p.priority);
        let mut tunnels = Vec::new();
        for t in &self.tunnels {
            let e = self.endpoints(t, &resolve)?;
            let transform_sets = e
                .profile
                .transform_sets
                .iter()
                .map(|name| {
                    let set = self.transform_set(&name.value).ok_or_else(|| {
                        self.error(name.line, format!("no transform-set named {}", name.value))
                    })?;
                    Ok(settings::TransformSet {
                        name: set.name.clone(),
                        transform: EspTransform {
                            encr: set.encryption,
                            auth: set.integrity,
                        },
                        transport: set.transport,
                        origin: self.origin(set.line),
                    })
                })
                .collect::<Result<Vec<_>, ConfigError>>()?;
            tunnels.push(TunnelSettings {
                name: t.name(),
                local: e.local,
                peer: e.peer.value,
                inner: e.inner,
                transform_sets,
                pfs: e.profile.pfs.as_ref().map(|g| g.value),
                pfs_origin: self.origin(e.profile.pfs.as_ref().map_or(e.profile.line, |g| g.line)),
                lifetime_s: e.profile.lifetime_s.value,
                lifetime_kb: e.profile.lifetime_kb.value,
                origin: self.origin(t.line),
                profile_origin: self.origin(e.profile.line),
                destination_origin: self.origin(e.peer.line),
                shutdown: t.shutdown,
            });
        }
        Ok(Settings {
            policies,
            keys: self.keys.clone(),
            tunnels,
            dpd: self.keepalive.as_ref().map(|k| Dpd {
                interval_s: k.interval_s,
                retry_s: k.retry_s,
                periodic: k.periodic,
                origin: self.origin(k.line),
            }),
            nat_keepalive_s: Some(
                self.nat_keepalive_s
                    .as_ref()
                    .map_or(defaults::NAT_KEEPALIVE_S, |n| n.value),
            ),
            passive: false,
        })
    }

    /// The tunnel interfaces to create, with their routes. A `shutdown` tunnel has none:
    /// IOS takes the interface and its routes down.
    pub fn tunnel_specs(
        &self,
        resolve: impl Fn(&str) -> Option<Vec<IpAddr>>,
    ) -> Result<Vec<TunnelSpec>, ConfigError> {
        let mut specs = Vec::new();
        for t in self.tunnels.iter().filter(|t| !t.shutdown) {
            let e = self.endpoints(t, &resolve)?;
            let mtu = [&t.ip_mtu, &t.ipv6_mtu]
                .into_iter()
                .flatten()
                .map(|m| m.value)
                .min();
            specs.push(TunnelSpec {
                name: t.name(),
                if_id: t.number,
                local: e.local,
                peer: e.peer.value,
                inner: e.inner,
                ipv4: t.ipv4.as_ref().map(|a| a.value),
                ipv6: t.ipv6.iter().map(|a| a.value).collect(),
                link_local: t.link_local.as_ref().map(|a| a.value),
                mtu,
                routes: self
                    .routes
                    .iter()
                    .filter(|r| r.tunnel == t.number)
                    .map(|r| (r.prefix, r.prefix_len))
                    .collect(),
            });
        }
        Ok(specs)
    }
}
