//! From the model to what the engine and the data path need. Interface names (`tunnel
//! source`, `local-address`, `ip unnumbered`) go through `ikev1d map-interface`, then
//! through the host's interfaces, at start and on reload, via an `Interfaces` the
//! caller passes (`HostInterfaces` in the daemon, a table in tests).

use super::error::{ConfigError, ConfigWarning};
use super::ios::names;
use super::model::*;
use crate::crypto::EspTransform;
use crate::dataplane::{Gre, InterfaceOptions, TunnelSpec, Unnumbered};
use crate::ike::settings::{
    self, Dpd, IsakmpPolicy, LocalIdentity, Origin, Settings, TunnelOptions, TunnelSettings,
};
use crate::ipsec::InnerFamily;
use std::net::IpAddr;

/// The interfaces of the host, as far as the configuration needs them.
pub trait Interfaces {
    /// The addresses of an interface, or `None` if there is no such interface.
    fn addresses(&self, name: &str) -> Option<Vec<IpAddr>>;
    /// Every interface's name, for messages about one that is missing.
    fn names(&self) -> Vec<String> {
        Vec::new()
    }
}

impl<F: Fn(&str) -> Option<Vec<IpAddr>>> Interfaces for F {
    fn addresses(&self, name: &str) -> Option<Vec<IpAddr>> {
        self(name)
    }
}

/// This host's interfaces.
pub struct HostInterfaces;

impl Interfaces for HostInterfaces {
    fn addresses(&self, name: &str) -> Option<Vec<IpAddr>> {
        resolve_interface(name)
    }
    fn names(&self) -> Vec<String> {
        let mut names: Vec<String> = nix::ifaddrs::getifaddrs()
            .map(|i| i.map(|ifa| ifa.interface_name).collect())
            .unwrap_or_default();
        names.sort();
        names.dedup();
        names
    }
}

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

    pub(crate) fn error(&self, line: u32, message: String) -> ConfigError {
        ConfigError {
            file: self.file.clone(),
            line,
            message,
        }
    }

    /// The Linux interface a configured name stands for: its `ikev1d map-interface`,
    /// else the name itself.
    pub fn linux_interface<'a>(&'a self, name: &'a str) -> &'a str {
        self.mapped_interface(name)
            .map_or(name, |m| m.linux.as_str())
    }

    /// Write the Linux names of the mapped IOS interfaces `ios` (as given to
    /// `--map-interface`) into the lines that name them, and drop those maps: the
    /// configuration then needs no map for them (`ikev1d convert`).
    pub fn apply_interface_map(&mut self, ios: &[String]) {
        let maps: Vec<InterfaceMap> = self
            .interface_map
            .iter()
            .filter(|m| ios.iter().any(|i| names::interface_ref(i) == m.ios))
            .cloned()
            .collect();
        let linux = |name: &str| maps.iter().find(|m| m.ios == name).map(|m| m.linux.clone());
        let rename = |s: &mut Option<At<TunnelSource>>| {
            if let Some(At {
                value: TunnelSource::Interface(name),
                ..
            }) = s
            {
                if let Some(l) = linux(name) {
                    *name = l;
                }
            }
        };
        for t in &mut self.tunnels {
            rename(&mut t.source);
            if let Some(u) = &mut t.unnumbered {
                if let Some(l) = linux(&u.value) {
                    u.value = l;
                }
            }
        }
        for k in &mut self.keyrings {
            rename(&mut k.local_address);
        }
        for p in &mut self.isakmp_profiles {
            rename(&mut p.local_address);
        }
        self.interface_map.retain(|m| !maps.contains(m));
    }

    /// Why `name` (given at `line`) cannot be found on the host, in IOS terms.
    pub(crate) fn missing_interface(
        &self,
        name: &str,
        line: u32,
        host: &dyn Interfaces,
    ) -> ConfigError {
        let mut have = host.names();
        have.retain(|n| n != "lo");
        let have = if have.is_empty() {
            String::new()
        } else {
            format!(" (this host has: {})", have.join(", "))
        };
        let message = match self.mapped_interface(name) {
            Some(m) => format!(
                "{name} is mapped to {}{}, which this host does not have{have}",
                m.linux,
                if m.line == 0 {
                    " (--map-interface)".to_string()
                } else {
                    format!(" (line {})", m.line)
                }
            ),
            None if names::canonical(&[name]).is_some() => format!(
                "{name} is an IOS interface this host does not have: map it to a Linux interface \
                 with `--map-interface {name}=IFNAME` or the line `ikev1d map-interface {name} IFNAME`{have}"
            ),
            None => format!("{name}: no such interface{have}"),
        };
        self.error(line, message)
    }

    /// The addresses of a configured interface name.
    fn interface_addresses(
        &self,
        name: &str,
        line: u32,
        host: &dyn Interfaces,
    ) -> Result<Vec<IpAddr>, ConfigError> {
        host.addresses(self.linux_interface(name))
            .ok_or_else(|| self.missing_interface(name, line, host))
    }

    /// A `local-address` line's addresses; an interface the host lacks serves nothing
    /// (`check` warns about it).
    fn local_addresses(
        &self,
        local: &Option<At<TunnelSource>>,
        host: &dyn Interfaces,
    ) -> Option<Vec<IpAddr>> {
        local.as_ref().map(|l| match &l.value {
            TunnelSource::Address(a) => vec![*a],
            TunnelSource::Interface(name) => host
                .addresses(self.linux_interface(name))
                .unwrap_or_default(),
        })
    }

    /// `hostname`.`ip domain name`, IOS's FQDN (the host name alone without a domain).
    fn fqdn(&self) -> Option<String> {
        let host = &self.hostname.as_ref()?.value;
        Some(match &self.domain_name {
            Some(d) => format!("{host}.{}", d.value),
            None => host.clone(),
        })
    }

    fn endpoints(&self, t: &Tunnel, host: &dyn Interfaces) -> Result<Endpoints, ConfigError> {
        let name = t.name();
        let missing = |what: &str| self.error(t.line, format!("{name} has no `{what}`"));
        // GRE's IPsec protects the endpoints' own GRE packets: its proxy identities are
        // of the outer family.
        let (outer, inner) = match t.tunnel_mode() {
            TunnelMode::Ipsec { outer, inner } => (outer, inner),
            TunnelMode::Gre { outer } => (outer, outer),
            TunnelMode::GreMultipoint => return Err(missing("tunnel mode ipsec or gre")),
        };
        // A template has no destination: each peer that connects is one.
        let peer = match t.kind {
            InterfaceKind::VirtualTemplate => At::new(unspecified(outer), t.line),
            InterfaceKind::Tunnel => t
                .destination
                .clone()
                .ok_or_else(|| missing("tunnel destination"))?,
        };
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
        // `local-address` of the tunnel's ISAKMP profile pins the source: among the
        // interface's addresses, that one; a tunnel source elsewhere is an error.
        let pinned = profile
            .isakmp_profile
            .as_ref()
            .and_then(|i| self.isakmp_profile(&i.value))
            .and_then(|p| Some((p, self.local_addresses(&p.local_address, host)?)));
        let allowed = |a: &IpAddr| pinned.as_ref().is_none_or(|(_, l)| l.contains(a));
        let local = match &source.value {
            TunnelSource::Address(a) => *a,
            TunnelSource::Interface(ifname) => self
                .interface_addresses(ifname, source.line, host)
                .map_err(|e| self.error(e.line, format!("tunnel source {}", e.message)))?
                .into_iter()
                .filter(|a| family_of(*a) == outer && !is_link_local(*a))
                .min_by_key(|a| !allowed(a))
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
                })?,
        };
        let pinned_elsewhere = !allowed(&local);
        if let Some((p, addresses)) = pinned.filter(|_| pinned_elsewhere) {
            let addresses: Vec<String> = addresses.iter().map(ToString::to_string).collect();
            return Err(self.error(
                source.line,
                format!(
                    "{name}: tunnel source {local} is not the local-address ({}) of crypto isakmp \
                     profile {} (line {}), which `set isakmp-profile` names for it",
                    if addresses.is_empty() {
                        "none on this host".to_string()
                    } else {
                        addresses.join(", ")
                    },
                    p.name,
                    p.local_address.as_ref().map_or(p.line, |l| l.line)
                ),
            ));
        }
        Ok(Endpoints {
            local,
            peer,
            inner,
            profile: profile.clone(),
        })
    }

    /// The tunnels ikev1d brings up (`tunnel protection`), in order.
    fn kept_tunnels(&self) -> impl Iterator<Item = &Tunnel> {
        self.tunnels.iter().filter(|t| t.protected())
    }

    fn dpd(&self, k: &Keepalive) -> Dpd {
        Dpd {
            interval_s: k.interval_s,
            retry_s: k.retry_s,
            periodic: k.periodic,
            origin: self.origin(k.line),
        }
    }

    fn local_identity(&self, want_fqdn: bool) -> LocalIdentity {
        match self.fqdn() {
            Some(f) if want_fqdn => LocalIdentity::Fqdn(f),
            _ => LocalIdentity::Address,
        }
    }

    /// The engine's settings. Tunnels that are `shutdown` are included, marked so.
    pub fn to_settings(&self, host: impl Interfaces) -> Result<Settings, ConfigError> {
        let host: &dyn Interfaces = &host;
        let mut policies: Vec<IsakmpPolicy> = self
            .policies
            .iter()
            .filter(|p| p.usable())
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
        let keyrings = self
            .keyrings
            .iter()
            .map(|k| settings::Keyring {
                name: k.name.clone(),
                vrf: k.vrf.as_ref().map(|v| v.value.clone()),
                local: self.local_addresses(&k.local_address, host),
                keys: k.keys.clone(),
                origin: self.origin(k.line),
            })
            .collect();
        let isakmp_profiles = self
            .isakmp_profiles
            .iter()
            .map(|p| settings::IsakmpProfile {
                name: p.name.clone(),
                keyrings: p.keyrings.iter().map(|k| k.value.clone()).collect(),
                matches: p.matches.iter().map(|m| m.value.clone()).collect(),
                dpd: p.keepalive.as_ref().map(|k| self.dpd(k)),
                self_identity: p.self_identity.as_ref().map(|s| match &s.value {
                    SelfIdentity::Address => LocalIdentity::Address,
                    SelfIdentity::Fqdn => self.local_identity(true),
                    SelfIdentity::UserFqdn(u) => LocalIdentity::UserFqdn(u.clone()),
                }),
                local: self.local_addresses(&p.local_address, host),
                ivrf: p.vrf.as_ref().map(|v| v.value.clone()),
                virtual_template: p.virtual_template.as_ref().map(|v| v.value),
                origin: self.origin(p.line),
            })
            .collect();
        let (mut tunnels, mut templates) = (Vec::new(), Vec::new());
        for t in self.kept_tunnels() {
            match t.kind {
                InterfaceKind::Tunnel => tunnels.push(self.tunnel_settings(t, host)?),
                InterfaceKind::VirtualTemplate => templates.push(self.tunnel_settings(t, host)?),
            }
        }
        Ok(Settings {
            policies,
            keys: self.keys.clone(),
            keyrings,
            isakmp_profiles,
            identity: self.local_identity(matches!(
                self.identity,
                Some(At {
                    value: Identity::Hostname,
                    ..
                })
            )),
            tunnels,
            templates,
            dpd: self.keepalive.as_ref().map(|k| self.dpd(k)),
            nat_keepalive_s: Some(
                self.nat_keepalive_s
                    .as_ref()
                    .map_or(defaults::NAT_KEEPALIVE_S, |n| n.value),
            ),
            admission: settings::Admission {
                in_negotiation_sa: self.admission.in_negotiation_sa.as_ref().map(|a| a.value),
                sa: self.admission.sa.as_ref().map(|a| a.value),
            },
            passive: false,
        })
    }

    fn tunnel_settings(
        &self,
        t: &Tunnel,
        host: &dyn Interfaces,
    ) -> Result<TunnelSettings, ConfigError> {
        let e = self.endpoints(t, host)?;
        let transform_sets = e
            .profile
            .transform_sets
            .iter()
            .map(|name| {
                let set = self.transform_set(&name.value).ok_or_else(|| {
                    self.error(name.line, format!("no transform-set named {}", name.value))
                })?;
                let transform: EspTransform = set.esp.clone().map_err(|why| {
                    self.error(set.line, format!("transform-set {}: {why}", set.name))
                })?;
                Ok(settings::TransformSet {
                    name: set.name.clone(),
                    transform,
                    transport: set.transport,
                    origin: self.origin(set.line),
                })
            })
            .collect::<Result<Vec<_>, ConfigError>>()?;
        let p2 = self.phase2(&e.profile);
        Ok(TunnelSettings {
            name: t.linux_name(),
            local: e.local,
            peer: e.peer.value,
            inner: e.inner,
            transform_sets,
            pfs: e.profile.pfs.as_ref().map(|g| g.value),
            pfs_origin: self.origin(e.profile.pfs.as_ref().map_or(e.profile.line, |g| g.line)),
            lifetime_s: p2.lifetime_s.value,
            lifetime_kb: match p2.lifetime_kb.value {
                VolumeLifetime::Kilobytes(k) => k,
                VolumeLifetime::Disable => u64::MAX,
            },
            origin: self.origin(t.line),
            profile_origin: self.origin(e.profile.line),
            destination_origin: self.origin(e.peer.line),
            shutdown: t.shutdown,
            options: TunnelOptions {
                isakmp_profile: e.profile.isakmp_profile.as_ref().map(|i| i.value.clone()),
                replay_window: match p2.replay.value {
                    Replay::WindowSize(n) => n,
                    Replay::Disable => 0,
                },
                idle_time_s: p2.idle_time_s.map(|s| s.value),
                responder_only: e.profile.responder_only,
                fvrf: t.tunnel_vrf.as_ref().map(|v| v.value.clone()),
                ivrf: t.vrf.as_ref().map(|v| v.value.clone()),
                gre: matches!(t.tunnel_mode(), TunnelMode::Gre { .. }),
                tunnel_mode: t.tunnel_mode().words(),
            },
        })
    }

    /// The tunnel interfaces to create, with their routes. A `shutdown` tunnel has none:
    /// IOS takes the interface and its routes down.
    pub fn tunnel_specs(&self, host: impl Interfaces) -> Result<Vec<TunnelSpec>, ConfigError> {
        self.specs_of(InterfaceKind::Tunnel, &host)
    }

    /// The Virtual-Templates' interfaces, which the daemon clones (name, if_id and
    /// addresses replaced) for each Virtual-Access; a `shutdown` template clones none.
    pub fn template_specs(&self, host: impl Interfaces) -> Result<Vec<TunnelSpec>, ConfigError> {
        self.specs_of(InterfaceKind::VirtualTemplate, &host)
    }

    fn specs_of(
        &self,
        kind: InterfaceKind,
        host: &dyn Interfaces,
    ) -> Result<Vec<TunnelSpec>, ConfigError> {
        let mut specs = Vec::new();
        for t in self
            .kept_tunnels()
            .filter(|t| !t.shutdown && t.kind == kind)
        {
            let e = self.endpoints(t, host)?;
            let mtu = [&t.ip_mtu, &t.ipv6_mtu]
                .into_iter()
                .flatten()
                .map(|m| m.value)
                .min();
            specs.push(TunnelSpec {
                name: t.linux_name(),
                if_id: t.if_id(),
                local: e.local,
                peer: e.peer.value,
                inner: e.inner,
                ipv4: t.ipv4.as_ref().map(|a| a.value),
                ipv6: t.ipv6.iter().map(|a| a.value).collect(),
                link_local: t.link_local.as_ref().map(|a| a.value),
                mtu,
                // Routes name `TunnelN`; a Virtual-Access gets its routes from the hook.
                routes: self
                    .routes
                    .iter()
                    .filter(|r| kind == InterfaceKind::Tunnel && r.tunnel == t.number)
                    .map(|r| (r.prefix, r.prefix_len))
                    .collect(),
                options: InterfaceOptions {
                    ipv4_secondary: t.ipv4_secondary.iter().map(|a| a.value).collect(),
                    unnumbered: match &t.unnumbered {
                        Some(u) => Some(self.unnumbered(u, host)?),
                        None => None,
                    },
                    ipv6_enable: t.ipv6_enable,
                    adjust_mss_v4: t.adjust_mss.as_ref().map(|m| m.value),
                    adjust_mss_v6: t.ipv6_adjust_mss.as_ref().map(|m| m.value),
                    path_mtu_discovery: t.path_mtu_discovery,
                    df_bit: self.df_bit(t),
                    vrf: t.vrf.as_ref().map(|v| v.value.clone()),
                    tunnel_vrf: t.tunnel_vrf.as_ref().map(|v| v.value.clone()),
                    gre: matches!(t.tunnel_mode(), TunnelMode::Gre { .. }).then(|| Gre {
                        key: t.key.as_ref().map(|k| k.value),
                    }),
                },
            });
        }
        Ok(specs)
    }

    /// `ip unnumbered IF`: IF's primary IPv4 address (the first that is neither
    /// loopback nor link-local, as `ip addr` lists them), looked up now like `tunnel
    /// source`.
    fn unnumbered(&self, u: &At<String>, host: &dyn Interfaces) -> Result<Unnumbered, ConfigError> {
        let linux = self.linux_interface(&u.value);
        let address = self
            .interface_addresses(&u.value, u.line, host)
            .map_err(|e| self.error(e.line, format!("ip unnumbered {}", e.message)))?
            .into_iter()
            .find_map(|a| match a {
                IpAddr::V4(v4) if !v4.is_loopback() && !v4.is_link_local() => Some(v4),
                _ => None,
            })
            .ok_or_else(|| {
                self.error(
                    u.line,
                    format!(
                        "ip unnumbered {}: {linux} has no IPv4 address to lend the tunnel",
                        u.value
                    ),
                )
            })?;
        Ok(Unnumbered {
            interface: linux.to_string(),
            address,
        })
    }

    /// What `check` finds about interface names on this host: errors for IOS names
    /// that are neither mapped nor present (the daemon could not start), warnings for
    /// a `local-address` interface it lacks (that keyring or profile serves nothing).
    pub fn check_interfaces(
        &self,
        host: &dyn Interfaces,
    ) -> (Vec<ConfigError>, Vec<ConfigWarning>) {
        let mut errors = Vec::new();
        let mut warnings = Vec::new();
        let absent_ios = |name: &str| {
            self.mapped_interface(name).is_none()
                && names::canonical(&[name]).is_some()
                && host.addresses(name).is_none()
        };
        for t in self.kept_tunnels() {
            if let Some(At {
                value: TunnelSource::Interface(name),
                line,
            }) = &t.source
            {
                if absent_ios(name) {
                    let e = self.missing_interface(name, *line, host);
                    errors.push(self.error(e.line, format!("tunnel source {}", e.message)));
                }
            }
            if let Some(u) = &t.unnumbered {
                if absent_ios(&u.value) {
                    let e = self.missing_interface(&u.value, u.line, host);
                    errors.push(self.error(e.line, format!("ip unnumbered {}", e.message)));
                }
            }
        }
        let locals = self
            .keyrings
            .iter()
            .map(|k| (&k.local_address, format!("crypto keyring {}", k.name)))
            .chain(self.isakmp_profiles.iter().map(|p| {
                (
                    &p.local_address,
                    format!("crypto isakmp profile {}", p.name),
                )
            }));
        for (local, what) in locals {
            if let Some(At {
                value: TunnelSource::Interface(name),
                line,
            }) = local
            {
                if absent_ios(name) {
                    let e = self.missing_interface(name, *line, host);
                    warnings.push(ConfigWarning {
                        file: e.file,
                        line: e.line,
                        message: format!(
                            "{what}: local-address {}; it serves no address",
                            e.message
                        ),
                    });
                }
            }
        }
        (errors, warnings)
    }
}
