//! Why a negotiation failed, split like rustls' errors: what the peer sent
//! (`PeerMisbehaved`), what we could not agree on (`NoProposalChosen`,
//! `InvalidId`), who the peer is not (`AuthFailed`). Each maps to the notify we answer
//! with (RFC 2408 3.14.1) and prints one line in docs/design.md's words, naming the
//! configuration line that governs it.

use super::settings::{KeySource, Origin};
use crate::isakmp::NotifyType;
use std::fmt;
use std::net::IpAddr;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
    NoProposalChosen(NoProposal),
    AuthFailed(AuthFailure),
    InvalidId(InvalidId),
    PeerMisbehaved(Misbehaviour),
    /// No `crypto isakmp key` (or keyring's `pre-shared-key`) covers the peer: IOS
    /// stays silent too. `searched`: where we looked, in configuration words.
    NoPresharedKey {
        peer: IpAddr,
        searched: String,
    },
    /// The peer answered with an error notify.
    PeerRejected {
        notify: NotifyType,
        what: String,
        config: String,
    },
    /// Retransmissions exhausted.
    Unreachable {
        what: &'static str,
        peer: IpAddr,
        transmissions: u32,
        hint: String,
    },
    /// RFC 3706: `transmissions` R-U-THERE went unanswered.
    PeerDead {
        peer: IpAddr,
        transmissions: u32,
        interval_s: u32,
        retry_s: u32,
        origin: Origin,
        /// The ISAKMP profile whose `keepalive` it is (`None`: `crypto isakmp keepalive`).
        profile: Option<String>,
    },
    /// Our Diffie-Hellman result did not come in time: the daemon is overloaded.
    DhTimeout {
        peer: IpAddr,
    },
    /// The data path could not give us an SPI.
    Dataplane {
        tunnel: String,
        reason: String,
    },
}

impl Error {
    /// The notify that answers this error, if any.
    pub fn notify(&self) -> Option<NotifyType> {
        match self {
            Error::NoProposalChosen(_) => Some(NotifyType::NO_PROPOSAL_CHOSEN),
            Error::AuthFailed(a) => a.kind.notify(),
            Error::InvalidId(_) => Some(NotifyType::INVALID_ID_INFORMATION),
            Error::PeerMisbehaved(m) => Some(m.notify()),
            Error::NoPresharedKey { .. }
            | Error::PeerRejected { .. }
            | Error::Unreachable { .. }
            | Error::PeerDead { .. }
            | Error::DhTimeout { .. }
            | Error::Dataplane { .. } => None,
        }
    }

    /// What kind of failure, for remembering it by (peer, kind) rather than by its
    /// words (`memory.rs`).
    pub fn kind(&self) -> &'static str {
        match self {
            Error::NoProposalChosen(NoProposal::Phase1 { .. }) => "no-proposal-phase1",
            Error::NoProposalChosen(NoProposal::Phase1Lifetime { .. }) => "phase1-lifetime",
            Error::NoProposalChosen(NoProposal::Phase2 { .. }) => "no-proposal-phase2",
            Error::NoProposalChosen(NoProposal::Pfs { .. }) => "pfs-mismatch",
            Error::NoProposalChosen(NoProposal::TransportMode { .. }) => "transport-mode",
            Error::NoProposalChosen(NoProposal::TransportNotConfigured { .. }) => {
                "transport-not-configured"
            }
            Error::AuthFailed(_) => "auth-failed",
            Error::InvalidId(_) => "invalid-id",
            Error::PeerMisbehaved(_) => "peer-misbehaved",
            Error::NoPresharedKey { .. } => "no-preshared-key",
            Error::PeerRejected { .. } => "peer-rejected",
            Error::Unreachable { .. } => "unreachable",
            Error::PeerDead { .. } => "peer-dead",
            Error::DhTimeout { .. } => "dh-timeout",
            Error::Dataplane { .. } => "dataplane",
        }
    }

    /// Configuration mismatches need an operator; the rest may heal by themselves.
    pub fn level(&self) -> tracing::Level {
        match self {
            Error::NoProposalChosen(_)
            | Error::AuthFailed(_)
            | Error::InvalidId(_)
            | Error::NoPresharedKey { .. }
            | Error::PeerRejected { .. } => tracing::Level::ERROR,
            _ => tracing::Level::WARN,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::NoProposalChosen(n) => n.fmt(f),
            Error::AuthFailed(a) => a.fmt(f),
            Error::InvalidId(i) => i.fmt(f),
            Error::PeerMisbehaved(m) => write!(f, "peer misbehaved: {m}"),
            Error::NoPresharedKey { peer, searched } => {
                write!(f, "no pre-shared key for peer {peer}: {searched}")
            }
            Error::PeerRejected {
                notify,
                what,
                config,
            } => write!(f, "peer rejected {what} with {notify} ({config})"),
            Error::Unreachable {
                what,
                peer,
                transmissions,
                hint,
            } => {
                if *what == "MM1" {
                    write!(
                        f,
                        "peer unreachable (no answer to MM1): {peer} after {transmissions} transmissions ({hint})"
                    )
                } else {
                    write!(
                        f,
                        "negotiation with {peer} timed out: no answer to {what} after {transmissions} transmissions ({hint})"
                    )
                }
            }
            Error::PeerDead {
                peer,
                transmissions,
                interval_s,
                retry_s,
                origin,
                profile,
            } => {
                write!(
                    f,
                    "DPD timeout: peer {peer} did not answer {transmissions} R-U-THERE ("
                )?;
                match profile {
                    None => write!(f, "crypto isakmp keepalive {interval_s} {retry_s}")?,
                    Some(p) => write!(
                        f,
                        "keepalive {interval_s} retry {retry_s} of crypto isakmp profile {p}"
                    )?,
                }
                write!(f, ", {origin}); deleting its SAs")
            }
            Error::DhTimeout { peer } => write!(
                f,
                "negotiation with {peer} abandoned: the Diffie-Hellman computation did not finish in time (overloaded)"
            ),
            Error::Dataplane { tunnel, reason } => {
                write!(
                    f,
                    "data path could not allocate an SPI for {tunnel}: {reason}"
                )
            }
        }
    }
}

impl std::error::Error for Error {}

/// What the peer offered, as shown in a failure: the first `Offered::SHOWN` distinct
/// descriptions and how many more there were (an MM1 can carry thousands).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Offered {
    shown: Vec<String>,
    more: usize,
}

impl Offered {
    pub const SHOWN: usize = 8;

    pub fn push(&mut self, description: String) {
        if self.shown.contains(&description) {
            return;
        }
        if self.shown.len() < Self::SHOWN {
            self.shown.push(description);
        } else {
            self.more += 1;
        }
    }
}

impl<S: Into<String>> FromIterator<S> for Offered {
    fn from_iter<I: IntoIterator<Item = S>>(iter: I) -> Self {
        let mut o = Offered::default();
        for s in iter {
            o.push(s.into());
        }
        o
    }
}

impl fmt::Display for Offered {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.shown.join(", "))?;
        if self.more > 0 {
            write!(f, " and {} more", self.more)?;
        }
        Ok(())
    }
}

/// Nothing the peer offered is acceptable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NoProposal {
    /// `offered`: "AES-256/SHA-256/group 14" per peer transform; `policies`:
    /// "policy 10 (line 1) has DES/SHA/group 1".
    Phase1 {
        offered: Offered,
        policies: Vec<String>,
    },
    /// The algorithms match policy `priority` but the peer's lifetime is longer.
    Phase1Lifetime {
        offered_s: u64,
        priority: u32,
        origin: Origin,
        ours_s: u32,
    },
    /// `offered`: "esp-aes esp-sha-hmac" per peer transform; `sets`:
    /// "transform set TRA (line 5) has esp-aes 256 esp-sha256-hmac".
    Phase2 {
        tunnel: String,
        offered: Offered,
        sets: Vec<String>,
    },
    /// Our profile demands PFS with `ours`; the peer offered `peer`.
    Pfs {
        tunnel: String,
        peer: Option<u16>,
        ours: u16,
        origin: Origin,
    },
    /// A VTI carries tunnel-mode SAs only.
    TransportMode { tunnel: String, origin: Origin },
    /// GRE: the peer offered transport mode only, and the set it matches is in tunnel
    /// mode (IOS accepts transport only where the set says so).
    TransportNotConfigured {
        tunnel: String,
        set: String,
        origin: Origin,
    },
}

impl fmt::Display for NoProposal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NoProposal::Phase1 { offered, policies } => write!(
                f,
                "no matching proposal: peer offered {offered}, {}",
                policies.join(", ")
            ),
            NoProposal::Phase1Lifetime {
                offered_s,
                priority,
                origin,
                ours_s,
            } => write!(
                f,
                "no matching proposal: peer offered lifetime {offered_s} s, policy {priority} ({origin}) allows at most {ours_s} s"
            ),
            NoProposal::Phase2 {
                tunnel,
                offered,
                sets,
            } => write!(
                f,
                "no matching transform set for {tunnel}: peer offered {offered}, {}",
                sets.join(", ")
            ),
            NoProposal::Pfs {
                tunnel,
                peer,
                ours,
                origin,
            } => {
                let peer = match peer {
                    Some(g) => format!("group {g}"),
                    None => "no PFS".to_string(),
                };
                write!(
                    f,
                    "PFS mismatch for {tunnel}: peer offered {peer}, set pfs ({origin}) requires group {ours}"
                )
            }
            NoProposal::TransportMode { tunnel, origin } => write!(
                f,
                "no matching proposal for {tunnel}: peer offered transport mode, the tunnel interface ({origin}) needs tunnel mode"
            ),
            NoProposal::TransportNotConfigured {
                tunnel,
                set,
                origin,
            } => write!(
                f,
                "no matching proposal for {tunnel}: peer offered transport mode only, transform set {set} ({origin}) is in tunnel mode (add `mode transport` to it)"
            ),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthKind {
    HashIMismatch,
    HashRMismatch,
    /// MM5 or MM6 did not decrypt to a valid payload chain: the keys differ.
    Undecryptable(&'static str),
    /// The peer answered our MM5 with this notify (IOS and strongSwan do on a bad key).
    PeerNotify(NotifyType),
}

impl AuthKind {
    fn notify(self) -> Option<NotifyType> {
        match self {
            AuthKind::HashIMismatch | AuthKind::HashRMismatch => {
                Some(NotifyType::INVALID_HASH_INFORMATION)
            }
            AuthKind::Undecryptable(_) => Some(NotifyType::PAYLOAD_MALFORMED),
            AuthKind::PeerNotify(_) => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthFailure {
    pub kind: AuthKind,
    pub peer: IpAddr,
    /// The key used: its `crypto isakmp key` or keyring `pre-shared-key` line.
    pub key: KeySource,
}

impl fmt::Display for AuthFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("authentication failed: ")?;
        match self.kind {
            AuthKind::HashIMismatch => f.write_str("HASH_I mismatch")?,
            AuthKind::HashRMismatch => f.write_str("HASH_R mismatch")?,
            AuthKind::Undecryptable(what) => write!(f, "{what} does not decrypt")?,
            AuthKind::PeerNotify(n) => write!(f, "peer answered MM5 with {n}")?,
        }
        write!(
            f,
            ", likely pre-shared key mismatch with {} ({})",
            self.peer, self.key
        )
    }
}

/// Proxy identities (Quick Mode) or phase 1 identity we cannot accept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidId {
    pub peer: IpAddr,
    pub detail: String,
    /// The configuration that decides what is acceptable, e.g.
    /// "interface Tunnel23, line 9".
    pub config: String,
}

impl fmt::Display for InvalidId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "invalid identity from {}: {} ({})",
            self.peer, self.detail, self.config
        )
    }
}

/// Protocol violations.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Misbehaviour {
    MissingPayload {
        what: &'static str,
        payload: &'static str,
    },
    /// A Diffie-Hellman public value outside 1 < y < p-1 or of the wrong length.
    InvalidKeyExchange,
    /// The responder chose something we did not offer.
    UnofferedChoice(&'static str),
    BadProposalSyntax(&'static str),
    /// A Quick Mode HASH(n) or Informational HASH(1) did not verify.
    BadHash(&'static str),
    /// RFC 2409 5: "The length of nonce payload MUST be between 8 and 256 bytes
    /// inclusive."
    BadNonceLength {
        what: &'static str,
        len: usize,
    },
}

impl Misbehaviour {
    fn notify(&self) -> NotifyType {
        match self {
            Misbehaviour::MissingPayload { .. } => NotifyType::PAYLOAD_MALFORMED,
            Misbehaviour::InvalidKeyExchange => NotifyType::INVALID_KEY_INFORMATION,
            Misbehaviour::UnofferedChoice(_) => NotifyType::NO_PROPOSAL_CHOSEN,
            Misbehaviour::BadProposalSyntax(_) => NotifyType::BAD_PROPOSAL_SYNTAX,
            Misbehaviour::BadHash(_) => NotifyType::INVALID_HASH_INFORMATION,
            Misbehaviour::BadNonceLength { .. } => NotifyType::PAYLOAD_MALFORMED,
        }
    }
}

impl fmt::Display for Misbehaviour {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Misbehaviour::MissingPayload { what, payload } => {
                write!(f, "{what} without {payload} payload")
            }
            Misbehaviour::InvalidKeyExchange => f.write_str("invalid Diffie-Hellman public value"),
            Misbehaviour::UnofferedChoice(what) => write!(f, "chose {what} we did not offer"),
            Misbehaviour::BadProposalSyntax(why) => write!(f, "bad proposal syntax: {why}"),
            Misbehaviour::BadHash(what) => write!(f, "{what} does not verify"),
            Misbehaviour::BadNonceLength { what, len } => write!(
                f,
                "{what} carries a nonce of {len} bytes (RFC 2409: 8 to 256)"
            ),
        }
    }
}

impl From<Misbehaviour> for Error {
    fn from(m: Misbehaviour) -> Error {
        Error::PeerMisbehaved(m)
    }
}

impl From<NoProposal> for Error {
    fn from(n: NoProposal) -> Error {
        Error::NoProposalChosen(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_read_like_design_md() {
        let e = Error::from(NoProposal::Phase1 {
            offered: ["AES-256/SHA-256/group 14"].into_iter().collect(),
            policies: vec!["policy 10 (line 1) has DES/SHA/group 1".into()],
        });
        assert_eq!(
            e.to_string(),
            "no matching proposal: peer offered AES-256/SHA-256/group 14, policy 10 (line 1) has DES/SHA/group 1"
        );
        assert_eq!(e.notify(), Some(NotifyType::NO_PROPOSAL_CHOSEN));
        let e = Error::AuthFailed(AuthFailure {
            kind: AuthKind::HashIMismatch,
            peer: "2001:db8::2".parse().unwrap(),
            key: KeySource {
                keyring: None,
                origin: Origin {
                    file: "r.conf".into(),
                    line: 3,
                },
            },
        });
        assert_eq!(
            e.to_string(),
            "authentication failed: HASH_I mismatch, likely pre-shared key mismatch with 2001:db8::2 (crypto isakmp key, line 3)"
        );
        assert_eq!(e.notify(), Some(NotifyType::INVALID_HASH_INFORMATION));
    }
}
