//! Typed log events. The engine returns them as `Action::Log`; the daemon renders each
//! as one tracing event whose message is `Display` (IOS `debug crypto isakmp` wording),
//! inside a span of its ISAKMP SA (`peer`, `conn_id`), with the fields a machine
//! filters on (`message_id`, `tunnel`, SPIs). Key material never appears here.

use super::error::Error;
use super::state::{IkeState, Role, ShowState};
use crate::isakmp::{DecodeError, IdType, NotifyType};
use std::fmt;
use std::net::{IpAddr, SocketAddr};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LogEvent {
    /// `Old State = IKE_I_MM1 New State = IKE_I_MM2`; Quick Mode carries its message ID.
    StateChange {
        conn_id: u32,
        peer: IpAddr,
        message_id: Option<u32>,
        old: IkeState,
        new: IkeState,
    },
    /// One IKE datagram sent or received, tagged like IOS with role and SA state.
    Packet {
        conn_id: u32,
        peer: SocketAddr,
        local_port: u16,
        sent: bool,
        /// `None`: a message that creates a new SA (IOS prints `(N) NEW SA`).
        role: Option<Role>,
        state: ShowState,
    },
    Note {
        conn_id: u32,
        peer: IpAddr,
        note: Note,
    },
    Phase1Up {
        conn_id: u32,
        peer: IpAddr,
        /// e.g. "AES-256/SHA/group 14, lifetime 86400 s".
        suite: String,
    },
    Phase1Down {
        conn_id: u32,
        peer: IpAddr,
        reason: DownReason,
    },
    SaUp {
        tunnel: String,
        conn_id: u32,
        peer: IpAddr,
        spi_in: u32,
        spi_out: u32,
        /// IOS transform-set words, e.g. "esp-aes esp-sha-hmac".
        transform: String,
        pfs: Option<u16>,
        udp_encap: bool,
    },
    SaDown {
        tunnel: String,
        conn_id: u32,
        peer: IpAddr,
        spi_in: u32,
        spi_out: u32,
        reason: DownReason,
    },
    Failed {
        conn_id: Option<u32>,
        peer: IpAddr,
        error: Error,
        /// Logged before, of the same kind with the same peer, not long ago: debug.
        repeated: bool,
        /// Repeats logged at debug since the last time it was logged at its level.
        suppressed: u64,
    },
    /// Works, but not as configured: worth a look.
    Warning {
        conn_id: u32,
        peer: IpAddr,
        warning: Warning,
        repeated: bool,
        suppressed: u64,
    },
    /// A datagram dropped without being processed (also counted in `Stats`).
    Dropped {
        peer: SocketAddr,
        reason: DropReason,
    },
}

impl LogEvent {
    /// State changes and packets are debug; SAs coming and going are info; failures
    /// warn or error (configuration mismatches need an operator: error).
    pub fn level(&self) -> tracing::Level {
        match self {
            LogEvent::StateChange { .. }
            | LogEvent::Packet { .. }
            | LogEvent::Note { .. }
            | LogEvent::Dropped { .. } => tracing::Level::DEBUG,
            LogEvent::Phase1Up { .. }
            | LogEvent::Phase1Down { .. }
            | LogEvent::SaUp { .. }
            | LogEvent::SaDown { .. } => tracing::Level::INFO,
            LogEvent::Failed { repeated: true, .. } | LogEvent::Warning { repeated: true, .. } => {
                tracing::Level::DEBUG
            }
            LogEvent::Failed { error, .. } => error.level(),
            LogEvent::Warning { .. } => tracing::Level::WARN,
        }
    }

    pub fn peer(&self) -> IpAddr {
        match self {
            LogEvent::StateChange { peer, .. }
            | LogEvent::Note { peer, .. }
            | LogEvent::Phase1Up { peer, .. }
            | LogEvent::Phase1Down { peer, .. }
            | LogEvent::SaUp { peer, .. }
            | LogEvent::SaDown { peer, .. }
            | LogEvent::Failed { peer, .. }
            | LogEvent::Warning { peer, .. } => *peer,
            LogEvent::Packet { peer, .. } | LogEvent::Dropped { peer, .. } => peer.ip(),
        }
    }

    /// The Quick Mode exchange (IOS's M-ID, "Node N") the event belongs to, if any.
    pub fn message_id(&self) -> Option<u32> {
        match self {
            LogEvent::StateChange { message_id, .. } => *message_id,
            LogEvent::Note {
                note: Note::BeginQuickMode { message_id } | Note::QmDone { message_id, .. },
                ..
            } => Some(*message_id),
            _ => None,
        }
    }

    /// The tunnel interface, for the events of an IPsec SA pair.
    pub fn tunnel(&self) -> Option<&str> {
        match self {
            LogEvent::SaUp { tunnel, .. } | LogEvent::SaDown { tunnel, .. } => Some(tunnel),
            _ => None,
        }
    }

    /// (inbound, outbound) SPIs, for the events of an IPsec SA pair.
    pub fn spis(&self) -> Option<(u32, u32)> {
        match self {
            LogEvent::SaUp {
                spi_in, spi_out, ..
            }
            | LogEvent::SaDown {
                spi_in, spi_out, ..
            } => Some((*spi_in, *spi_out)),
            _ => None,
        }
    }

    /// The ISAKMP SA (IOS conn-id) the event belongs to, if any.
    pub fn conn_id(&self) -> Option<u32> {
        match self {
            LogEvent::StateChange { conn_id, .. }
            | LogEvent::Packet { conn_id, .. }
            | LogEvent::Note { conn_id, .. }
            | LogEvent::Phase1Up { conn_id, .. }
            | LogEvent::Phase1Down { conn_id, .. }
            | LogEvent::SaUp { conn_id, .. }
            | LogEvent::SaDown { conn_id, .. }
            | LogEvent::Warning { conn_id, .. } => Some(*conn_id),
            LogEvent::Failed { conn_id, .. } => *conn_id,
            LogEvent::Dropped { .. } => None,
        }
    }
}

impl fmt::Display for LogEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LogEvent::StateChange {
                message_id,
                old,
                new,
                ..
            } => {
                if let Some(id) = message_id {
                    write!(f, "Node {id}, ")?;
                }
                write!(f, "Old State = {old} New State = {new}")
            }
            LogEvent::Packet {
                peer,
                local_port,
                sent: true,
                role,
                state,
                ..
            } => write!(
                f,
                "sending packet to {} my_port {} peer_port {} ({}) {}",
                peer.ip(),
                local_port,
                peer.port(),
                role.map_or('N', Role::letter),
                state
            ),
            LogEvent::Packet {
                peer,
                local_port,
                role,
                state,
                ..
            } => match role {
                Some(role) => write!(
                    f,
                    "received packet from {} dport {} sport {} Global ({}) {}",
                    peer.ip(),
                    local_port,
                    peer.port(),
                    role.letter(),
                    state
                ),
                None => write!(
                    f,
                    "received packet from {} dport {} sport {} Global (N) NEW SA",
                    peer.ip(),
                    local_port,
                    peer.port()
                ),
            },
            LogEvent::Note { peer, note, .. } => note.render(*peer, f),
            LogEvent::Phase1Up {
                conn_id,
                peer,
                suite,
            } => write!(f, "ISAKMP SA {conn_id} with {peer} is up: {suite}"),
            LogEvent::Phase1Down {
                conn_id,
                peer,
                reason,
            } => write!(f, "ISAKMP SA {conn_id} with {peer} is down: {reason}"),
            LogEvent::SaUp {
                tunnel,
                peer,
                spi_in,
                spi_out,
                transform,
                pfs,
                udp_encap,
                ..
            } => {
                write!(
                    f,
                    "IPsec SA up on {tunnel} with {peer}: inbound spi {spi_in:#010X}({spi_in}), outbound spi {spi_out:#010X}({spi_out}), {transform}"
                )?;
                match pfs {
                    Some(g) => write!(f, ", PFS group {g}")?,
                    None => f.write_str(", no PFS")?,
                }
                if *udp_encap {
                    f.write_str(", UDP-encapsulated")?;
                }
                Ok(())
            }
            LogEvent::SaDown {
                tunnel,
                peer,
                spi_in,
                spi_out,
                reason,
                ..
            } => write!(
                f,
                "IPsec SA down on {tunnel} with {peer}: inbound spi {spi_in:#010X}, outbound spi {spi_out:#010X}: {reason}"
            ),
            LogEvent::Failed {
                error, suppressed, ..
            } => {
                error.fmt(f)?;
                repeats(*suppressed, f)
            }
            LogEvent::Warning {
                warning,
                suppressed,
                ..
            } => {
                warning.fmt(f)?;
                repeats(*suppressed, f)
            }
            LogEvent::Dropped { peer, reason } => {
                write!(f, "dropped packet from {peer}: {reason}")
            }
        }
    }
}

/// "(and N more times since the last report)", for a failure that keeps happening.
fn repeats(suppressed: u64, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    match suppressed {
        0 => Ok(()),
        n => write!(f, " ({n} more times since the last report)"),
    }
}

/// Informational debug lines, worded as IOS prints them where it has an equivalent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Note {
    BeginMainMode,
    BeginQuickMode {
        message_id: u32,
    },
    VendorId(VendorKind),
    /// RFC 3947 result; `floating` when we move to UDP 4500.
    Nat {
        local_behind: bool,
        peer_behind: bool,
    },
    SendInitialContact,
    /// The phase 1 ID we send (IOS prints its type as it sends MM5 / MM6).
    OwnIdType {
        id_type: IdType,
    },
    /// The peer's phase 1 ID payload, once it authenticated: what profiles match.
    PeerId {
        id_type: IdType,
        /// In the words of `match identity`: `address 192.0.2.2`, `host r2.example.com`.
        identity: String,
        protocol: u8,
        port: u16,
    },
    /// The ISAKMP profile that serves the SA (IOS: `peer matches P profile`).
    ProfileMatched {
        profile: String,
    },
    ProcessInitialContact {
        local: IpAddr,
        remote: SocketAddr,
    },
    Authenticated,
    Retransmitting {
        what: &'static str,
        attempt: u32,
    },
    AnsweredRetransmission {
        what: &'static str,
    },
    /// IOS: `deleting node N error FALSE reason "QM done (await)"` on the responder.
    QmDone {
        message_id: u32,
        await_outbound: bool,
    },
    DpdAck {
        sequence: u32,
    },
    PeerNotify {
        notify: NotifyType,
    },
    PeerDelete {
        what: String,
    },
    DpdSent {
        sequence: u32,
        transmission: u32,
    },
    DpdAcked {
        sequence: u32,
    },
    /// An R-U-THERE whose sequence number does not exceed the last one's.
    DpdReplayed {
        sequence: u32,
    },
    /// A replacement ISAKMP SA is being negotiated (soft lifetime).
    Phase1Rekey,
    /// Two ISAKMP SAs with one peer were negotiated at once; both ends keep the same.
    IsakmpCollision {
        kept: u32,
        dropped: u32,
    },
    /// Two Quick Modes for one tunnel completed; both ends keep the same pair.
    QmCollision {
        kept_spi_in: u32,
        dropped_spi_in: u32,
    },
}

impl Note {
    fn render(&self, peer: IpAddr, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Note::BeginMainMode => f.write_str("beginning Main Mode exchange"),
            Note::BeginQuickMode { message_id } => {
                write!(f, "beginning Quick Mode exchange, M-ID of {message_id}")
            }
            Note::VendorId(v) => fmt::Display::fmt(v, f),
            Note::Nat {
                local_behind,
                peer_behind,
            } => match (local_behind, peer_behind) {
                (false, false) => f.write_str("No NAT Found for self or peer"),
                (true, false) => f.write_str("NAT found, this node is inside NAT; floating to UDP 4500"),
                (false, true) => f.write_str("NAT found, the peer is inside NAT; floating to UDP 4500"),
                (true, true) => f.write_str("NAT found on both sides; floating to UDP 4500"),
            },
            Note::SendInitialContact => f.write_str("Send initial contact"),
            Note::OwnIdType { id_type } => write!(
                f,
                "SA is doing pre-shared key authentication using id type {id_type}"
            ),
            Note::PeerId {
                id_type,
                identity,
                protocol,
                port,
            } => write!(
                f,
                "processing ID payload: type {id_type}, {identity}, protocol {protocol}, port {port}"
            ),
            Note::ProfileMatched { profile } => write!(f, "peer matches {profile} profile"),
            Note::ProcessInitialContact { local, remote } => write!(
                f,
                "Process initial contact, bring down existing phase 1 and 2 SA's with local {local} remote {} remote port {}",
                remote.ip(),
                remote.port()
            ),
            Note::Authenticated => write!(f, "SA has been authenticated with {peer}"),
            Note::Retransmitting { what, attempt } => {
                write!(f, "retransmitting {what} (transmission {attempt})")
            }
            Note::AnsweredRetransmission { what } => {
                write!(f, "peer retransmitted; resending {what}")
            }
            Note::QmDone {
                message_id,
                await_outbound,
            } => write!(
                f,
                "deleting node {message_id} error FALSE reason \"{}\"",
                if *await_outbound {
                    "QM done (await)"
                } else {
                    "No Error"
                }
            ),
            Note::DpdAck { sequence } => {
                write!(f, "received R-U-THERE, sent R-U-THERE-ACK, sequence {sequence}")
            }
            Note::DpdSent {
                sequence,
                transmission,
            } => write!(
                f,
                "sending R-U-THERE, sequence {sequence} (transmission {transmission})"
            ),
            Note::DpdAcked { sequence } => {
                write!(f, "received R-U-THERE-ACK, sequence {sequence}")
            }
            Note::DpdReplayed { sequence } => write!(
                f,
                "dropped R-U-THERE, sequence {sequence}: not above the last one (replayed)"
            ),
            Note::Phase1Rekey => f.write_str("ISAKMP SA soft lifetime reached: rekeying"),
            Note::IsakmpCollision { kept, dropped } => write!(
                f,
                "ISAKMP SA collision: keeping conn-id {kept}, deleting conn-id {dropped}"
            ),
            Note::PeerNotify { notify } => write!(f, "processing NOTIFY {notify}"),
            Note::PeerDelete { what } => write!(f, "peer deleted {what}"),
            Note::QmCollision {
                kept_spi_in,
                dropped_spi_in,
            } => write!(
                f,
                "Quick Mode collision: keeping inbound spi {kept_spi_in:#010X}, deleting inbound spi {dropped_spi_in:#010X}"
            ),
        }
    }
}

/// Vendor IDs we recognise (IOS logs each as it processes it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VendorKind {
    Dpd,
    NatTRfc3947,
    Unity,
    Xauth,
    CiscoIos,
    CiscoFragmentation,
}

impl fmt::Display for VendorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            VendorKind::Dpd => "vendor ID is DPD",
            VendorKind::NatTRfc3947 => "vendor ID is NAT-T RFC 3947",
            VendorKind::Unity => "vendor ID is Unity",
            VendorKind::Xauth => "vendor ID is XAUTH",
            VendorKind::CiscoIos => "speaking to another IOS box!",
            VendorKind::CiscoFragmentation => "vendor ID is Cisco Fragmentation",
        })
    }
}

/// Whose lifetime the peer shortened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Shortened {
    IsakmpSa,
    /// The IPsec SAs of this tunnel interface.
    IpsecSas {
        tunnel: String,
    },
}

impl fmt::Display for Shortened {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Shortened::IsakmpSa => f.write_str("the ISAKMP SA"),
            Shortened::IpsecSas { tunnel } => write!(f, "the IPsec SAs of {tunnel}"),
        }
    }
}

/// Something that works but differs from the configuration, naming the line to check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Warning {
    /// The peer's RESPONDER-LIFETIME, or its shorter offer, cut our lifetime: rekeys
    /// come more often than configured. `config`: e.g. "set security-association
    /// lifetime of profile (line 7)".
    LifetimeShortened {
        what: Shortened,
        ours: String,
        negotiated: String,
        config: String,
    },
    /// The peer's phase 1 ID payload names another address than the one it talks from.
    IdentityMismatch {
        id: String,
        address: IpAddr,
        config: String,
    },
}

impl Warning {
    /// What kind of warning, for remembering it (`memory.rs`).
    pub fn kind(&self) -> &'static str {
        match self {
            Warning::LifetimeShortened {
                what: Shortened::IsakmpSa,
                ..
            } => "phase1-lifetime-shortened",
            Warning::LifetimeShortened {
                what: Shortened::IpsecSas { .. },
                ..
            } => "phase2-lifetime-shortened",
            Warning::IdentityMismatch { .. } => "identity-mismatch",
        }
    }
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Warning::LifetimeShortened {
                what,
                ours,
                negotiated,
                config,
            } => write!(
                f,
                "lifetime shortened by the peer: {what}: {negotiated} instead of {ours} ({config})"
            ),
            Warning::IdentityMismatch {
                id,
                address,
                config,
            } => write!(
                f,
                "identity mismatch: peer {address} identifies itself as {id} ({config})"
            ),
        }
    }
}

/// Why an SA went away.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DownReason {
    PeerDelete,
    Expired,
    InitialContact,
    Shutdown,
    Reload,
    Collision,
    Rekeyed,
    NegotiationFailed,
    /// RFC 3706: no answer to R-U-THERE.
    DeadPeer,
    /// No answer over this ISAKMP SA while the peer uses another one.
    Unanswered,
    /// `set security-association idle-time S`: no traffic for S seconds.
    Idle {
        seconds: u32,
    },
}

impl fmt::Display for DownReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            DownReason::PeerDelete => "deleted by the peer",
            DownReason::Expired => "lifetime expired",
            DownReason::InitialContact => "peer sent INITIAL-CONTACT",
            DownReason::Shutdown => "shutting down",
            DownReason::Reload => "configuration changed",
            DownReason::Collision => "duplicate from a simultaneous negotiation",
            DownReason::Rekeyed => "replaced by a newer SA",
            DownReason::NegotiationFailed => "negotiation failed",
            DownReason::DeadPeer => "peer is dead (no answer to DPD)",
            DownReason::Unanswered => "no answer over it, the peer uses another ISAKMP SA",
            DownReason::Idle { seconds } => {
                return write!(
                    f,
                    "idle: no traffic for {seconds} s (set security-association idle-time); \
                     the next packet brings it back"
                )
            }
        })
    }
}

/// Why admission control refused a new negotiation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// `crypto call admission limit ike sa N`.
    SaLimit(u32),
    /// `crypto call admission limit ike in-negotiation-sa N`, every slot held by a
    /// peer that answered our MM2.
    InNegotiationLimit(u32),
    /// `PER_PEER_HALF_OPEN` negotiations with this address under way.
    PerPeer(u32),
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refusal::SaLimit(n) => write!(
                f,
                "refused by call admission: {n} ISAKMP SAs (crypto call admission limit ike sa {n})"
            ),
            Refusal::InNegotiationLimit(n) => write!(
                f,
                "refused by call admission: {n} negotiations in progress (crypto call admission limit ike in-negotiation-sa {n})"
            ),
            Refusal::PerPeer(n) => write!(
                f,
                "refused by call admission: {n} negotiations with this address in progress"
            ),
        }
    }
}

/// Why a datagram was dropped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DropReason {
    /// Unauthenticated bytes that do not decode: dropped, never answered (anyone can
    /// send them, and the negotiation they claim to belong to goes on).
    Malformed(DecodeError),
    /// Cookies or message ID of no SA we know.
    UnknownSa,
    /// A message that is not the one the exchange waits for (late duplicate, reordered).
    Stale,
    UnsupportedExchange(u8),
    /// Encrypted message that did not decrypt or verify.
    Undecryptable,
    /// Unauthenticated and not what the negotiation waits for (it goes on).
    Unacceptable(String),
    /// Admission control refused a new negotiation.
    Refused(Refusal),
    /// Too many key exchanges under way for unknown peers: the peer resends.
    Busy,
    /// Cookies of an SA with another peer address (and no NAT in between).
    WrongAddress,
    /// A copy of an Informational exchange already handled, or an R-U-THERE whose
    /// sequence number does not increase (RFC 3706 7).
    Replayed,
    ShutDown,
}

impl fmt::Display for DropReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DropReason::Malformed(why) => write!(f, "malformed: {why}"),
            DropReason::UnknownSa => f.write_str("no SA matches its cookies / message ID"),
            DropReason::Stale => f.write_str("stale or out-of-order message"),
            DropReason::UnsupportedExchange(x) => write!(f, "unsupported exchange type {x}"),
            DropReason::Undecryptable => f.write_str("does not decrypt or verify"),
            DropReason::Unacceptable(why) => write!(f, "not acceptable: {why}"),
            DropReason::Refused(why) => why.fmt(f),
            DropReason::Busy => f.write_str(
                "too many key exchanges in progress for unknown peers; it will be resent",
            ),
            DropReason::WrongAddress => {
                f.write_str("its cookies belong to an SA with another peer address")
            }
            DropReason::Replayed => {
                f.write_str("replayed (message ID or DPD sequence seen before)")
            }
            DropReason::ShutDown => f.write_str("shutting down"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_change_reads_like_ios() {
        let e = LogEvent::StateChange {
            conn_id: 1001,
            peer: "2001:db8::3".parse().unwrap(),
            message_id: None,
            old: IkeState::IMm1,
            new: IkeState::IMm2,
        };
        assert_eq!(e.to_string(), "Old State = IKE_I_MM1 New State = IKE_I_MM2");
        assert_eq!(e.level(), tracing::Level::DEBUG);
        let p = LogEvent::Packet {
            conn_id: 1001,
            peer: "[2001:db8::2]:500".parse().unwrap(),
            local_port: 500,
            sent: true,
            role: Some(Role::Responder),
            state: ShowState::MmSaSetup,
        };
        assert_eq!(
            p.to_string(),
            "sending packet to 2001:db8::2 my_port 500 peer_port 500 (R) MM_SA_SETUP"
        );
    }
}
