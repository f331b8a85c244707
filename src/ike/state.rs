//! IOS names of negotiation states, as `debug crypto isakmp` and `show crypto isakmp sa`
//! print them. The state machines themselves are `phase1::MmState` and
//! `phase1::QmState`; these names are what they look like from outside.

use std::fmt;

/// `Old State = .. New State = ..` names (IOS `debug crypto isakmp`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IkeState {
    Ready,
    IMm1,
    IMm2,
    IMm3,
    IMm4,
    IMm5,
    IMm6,
    RMm1,
    RMm2,
    RMm3,
    RMm4,
    RMm5,
    P1Complete,
    QmReady,
    QmIQm1,
    QmSpiStarve,
    QmRQm2,
    QmPhase2Complete,
}

impl IkeState {
    pub fn ios_name(self) -> &'static str {
        match self {
            IkeState::Ready => "IKE_READY",
            IkeState::IMm1 => "IKE_I_MM1",
            IkeState::IMm2 => "IKE_I_MM2",
            IkeState::IMm3 => "IKE_I_MM3",
            IkeState::IMm4 => "IKE_I_MM4",
            IkeState::IMm5 => "IKE_I_MM5",
            IkeState::IMm6 => "IKE_I_MM6",
            IkeState::RMm1 => "IKE_R_MM1",
            IkeState::RMm2 => "IKE_R_MM2",
            IkeState::RMm3 => "IKE_R_MM3",
            IkeState::RMm4 => "IKE_R_MM4",
            IkeState::RMm5 => "IKE_R_MM5",
            IkeState::P1Complete => "IKE_P1_COMPLETE",
            IkeState::QmReady => "IKE_QM_READY",
            IkeState::QmIQm1 => "IKE_QM_I_QM1",
            IkeState::QmSpiStarve => "IKE_QM_SPI_STARVE",
            IkeState::QmRQm2 => "IKE_QM_R_QM2",
            IkeState::QmPhase2Complete => "IKE_QM_PHASE2_COMPLETE",
        }
    }
}

impl fmt::Display for IkeState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.ios_name())
    }
}

/// `show crypto isakmp sa` states, also printed on each sent/received packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ShowState {
    MmNoState,
    MmSaSetup,
    MmKeyExch,
    QmIdle,
}

impl ShowState {
    pub fn ios_name(self) -> &'static str {
        match self {
            ShowState::MmNoState => "MM_NO_STATE",
            ShowState::MmSaSetup => "MM_SA_SETUP",
            ShowState::MmKeyExch => "MM_KEY_EXCH",
            ShowState::QmIdle => "QM_IDLE",
        }
    }
}

impl fmt::Display for ShowState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.ios_name())
    }
}

/// Who started an exchange.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    Initiator,
    Responder,
}

impl Role {
    /// IOS marks packets `(I)` or `(R)`.
    pub fn letter(self) -> char {
        match self {
            Role::Initiator => 'I',
            Role::Responder => 'R',
        }
    }
}
