//! Dynamic VTI (IOS `interface Virtual-Template N type tunnel` with `virtual-template N`
//! in a `crypto isakmp profile`): as responder, a peer authenticated through such a
//! profile whose Quick Mode asks for the template's proxies (any/any of its family) and
//! for which no `interface TunnelN` exists gets its own tunnel interface cloned from
//! the template, a Virtual-Access. It lives while it has IPsec SAs (IOS removes the
//! Virtual-Access when the IPsec SAs go): a Delete, DPD, INITIAL-CONTACT, expiry or
//! idle-time that takes the last pair takes the interface.
//!
//! Naming: IOS's `Virtual-AccessN` fits Linux's 15 characters for N = 1..9; from 10 on
//! the interface is `ViN`, IOS's own short form (`show ip interface brief` prints
//! `Vi10`). Numbering: numbers count up as peers connect, so that a peer that comes
//! back gets a new interface (a routing daemon never sees one name go down and up for
//! two different sessions); after `MAX_VIRTUAL_ACCESS` they wrap around to the lowest
//! number free. A Virtual-Access is keyed by its two addresses, like every tunnel
//! (`Endpoints`): a peer never has two.

use super::error::{Error, InvalidId};
use super::identity;
use super::phase1::Phase1;
use super::settings::TunnelSettings;
use super::{Action, Endpoints, Engine};
use crate::ipsec::{MAX_VIRTUAL_ACCESS, VIRTUAL_ACCESS_IF_ID_BASE};
use crate::isakmp::IdPayload;
use std::net::IpAddr;

/// Linux's interface name limit (IFNAMSIZ - 1).
const MAX_IFNAME: usize = 15;

/// One Virtual-Access interface, as the daemon creates, shows and removes it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct VirtualAccess {
    /// The Linux interface: `Virtual-Access3`, `Vi12`.
    pub name: String,
    pub number: u32,
    /// N of the `Virtual-Template N` it was cloned from.
    pub template: u32,
    pub local: IpAddr,
    pub peer: IpAddr,
    /// The ISAKMP profile whose `virtual-template` line cloned it.
    pub profile: String,
}

impl VirtualAccess {
    /// IOS's name where Linux takes it, else IOS's short form.
    pub fn name_for(number: u32) -> String {
        let long = format!("Virtual-Access{number}");
        if long.len() <= MAX_IFNAME {
            long
        } else {
            format!("Vi{number}")
        }
    }

    /// The xfrm if_id of its interface on the kernel path.
    pub fn if_id(&self) -> u32 {
        VIRTUAL_ACCESS_IF_ID_BASE + self.number
    }

    /// IOS's name of its template.
    pub fn template_name(&self) -> String {
        template_name(self.template)
    }
}

/// `Virtual-Template N`: the name the configuration gives the template's settings.
pub fn template_name(number: u32) -> String {
    format!("Virtual-Template{number}")
}

/// A live Virtual-Access and the tunnel settings cloned for it (whose `endpoints()`
/// carry the template's `tunnel vrf`: the key to find a peer's clone by).
#[derive(Debug, Clone)]
pub(crate) struct Clone {
    pub va: VirtualAccess,
    pub tunnel: TunnelSettings,
}

impl Engine {
    /// How many Virtual-Access interfaces may exist at once: a wildcard key faces the
    /// Internet, and `crypto call admission limit ike sa` lowers the built-in bound.
    fn virtual_access_limit(&self) -> u32 {
        self.settings
            .admission
            .sa
            .map_or(MAX_VIRTUAL_ACCESS, |n| n.min(MAX_VIRTUAL_ACCESS))
    }

    /// The Virtual-Access for a Quick Mode over `p1` that no `interface TunnelN`
    /// takes: the peer's existing one, or a new clone of the template its ISAKMP
    /// profile names. `Ok(None)`: the profile has no template, or the proxies are not
    /// the template's (the caller's error stands).
    pub(super) fn virtual_access(
        &mut self,
        p1: &Phase1,
        ids: Option<&(IdPayload, IdPayload)>,
    ) -> Result<Option<TunnelSettings>, Error> {
        let Some(profile) = p1
            .profile
            .as_deref()
            .and_then(|p| self.settings.isakmp_profile(p))
        else {
            return Ok(None);
        };
        let Some(template_no) = profile.virtual_template else {
            return Ok(None);
        };
        let profile = profile.name.clone();
        let name = template_name(template_no);
        let Some(template) = self
            .settings
            .templates
            .iter()
            .find(|t| t.name == name)
            .cloned()
        else {
            return Ok(None);
        };
        let family = ids.and_then(|(ci, cr)| {
            identity::proxy_family(ci).filter(|f| identity::proxy_family(cr) == Some(*f))
        });
        if family != Some(template.inner) || template.shutdown {
            return Ok(None);
        }
        let ends = p1.endpoints();
        // An `interface TunnelN` between the two addresses is the peer's tunnel, even
        // when it refused this Quick Mode: the caller's error stands.
        if self.tunnels_between(ends).any(|t| !t.shutdown) {
            return Ok(None);
        }
        if let Some(c) = self.virtual_access_between(ends) {
            return Ok(Some(c.tunnel.clone()));
        }
        let limit = self.virtual_access_limit();
        if self.clones.len() as u32 >= limit {
            return Err(Error::InvalidId(InvalidId {
                peer: ends.peer,
                detail: format!(
                    "no Virtual-Access interface for it: {limit} exist, the most allowed"
                ),
                config: match self.settings.admission.sa {
                    Some(_) => "crypto call admission limit ike sa".into(),
                    None => format!("interface {name} type tunnel, {}", template.origin),
                },
            }));
        }
        let number = self.next_virtual_access(limit);
        let va = VirtualAccess {
            name: VirtualAccess::name_for(number),
            number,
            template: template_no,
            local: ends.local,
            peer: ends.peer,
            profile,
        };
        let tunnel = TunnelSettings {
            name: va.name.clone(),
            local: ends.local,
            peer: ends.peer,
            ..template
        };
        self.actions.push_back(Action::CloneInterface(va.clone()));
        // Gone again should the Quick Mode that made it end before any pair.
        self.maybe_idle.insert(va.name.clone());
        self.clone_between
            .insert(tunnel.endpoints(), va.name.clone());
        self.clones.insert(
            va.name.clone(),
            Clone {
                va,
                tunnel: tunnel.clone(),
            },
        );
        Ok(Some(tunnel))
    }

    /// The number after the last one given, skipping those in use; past `limit`, the
    /// lowest free one.
    fn next_virtual_access(&mut self, limit: u32) -> u32 {
        let mut n = self.last_virtual_access;
        loop {
            n = if n >= limit { 1 } else { n + 1 };
            // Clones are keyed by their interface name, which the number makes.
            if !self.clones.contains_key(&VirtualAccess::name_for(n)) {
                self.last_virtual_access = n;
                return n;
            }
        }
    }

    /// A Virtual-Access's settings, by its interface name.
    pub(super) fn clone_tunnel(&self, name: &str) -> Option<&TunnelSettings> {
        self.clones.get(name).map(|c| &c.tunnel)
    }

    /// Is `name` a Virtual-Access (never initiated from here: the spoke dials in)?
    pub(super) fn is_virtual_access(&self, name: &str) -> bool {
        self.clones.contains_key(name)
    }

    /// The peer's Virtual-Access, if it has one.
    pub(super) fn virtual_access_between(&self, ends: Endpoints) -> Option<&Clone> {
        self.clone_between
            .get(&ends)
            .and_then(|name| self.clones.get(name))
    }

    /// `tunnel`, if a Virtual-Access, may have lost its last IPsec SA pair, Quick Mode
    /// or SPI request: `reap_virtual_access` looks at it.
    pub(super) fn maybe_idle(&mut self, tunnel: &str) {
        if self.clones.contains_key(tunnel) {
            self.maybe_idle.insert(tunnel.to_string());
        }
    }

    /// The same for the Virtual-Access between these addresses (whose ISAKMP SA
    /// changed: its Quick Modes may have ended).
    pub(super) fn maybe_idle_between(&mut self, ends: Endpoints) {
        if let Some(name) = self.clone_between.get(&ends) {
            self.maybe_idle.insert(name.clone());
        }
    }

    /// After every input: a Virtual-Access with no IPsec SA left, no Quick Mode under
    /// way and no SPI requested for it goes, and the daemon removes its interface. Only
    /// those the input may have left idle (`maybe_idle`) are looked at: a hub with
    /// thousands of spokes does not look over them all per datagram.
    pub(super) fn reap_virtual_access(&mut self) {
        for name in std::mem::take(&mut self.maybe_idle) {
            let live = self.children.has_tunnel(&name)
                || self.negotiating(&name)
                || self.spi_requested(&name);
            if live {
                continue;
            }
            if let Some(c) = self.clones.remove(&name) {
                self.clone_between.remove(&c.tunnel.endpoints());
                self.wanted.remove(&name);
                self.stop_retrying(&name);
                self.actions.push_back(Action::RemoveInterface(c.va));
            }
        }
    }

    /// The Virtual-Access interfaces that exist, by number.
    pub fn virtual_accesses(&self) -> Vec<VirtualAccess> {
        let mut v: Vec<VirtualAccess> = self.clones.values().map(|c| c.va.clone()).collect();
        v.sort_by_key(|va| va.number);
        v
    }
}
