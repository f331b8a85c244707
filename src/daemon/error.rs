//! Why `ikev1d run` stopped with an error. Under systemd the unit restarts it
//! (`Restart=on-failure`): a daemon missing a packet thread or its control socket is
//! better restarted than left running half-dead.

use crate::config::{ConfigError, ConfigErrors};
use crate::dataplane::DataplaneError;
use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;

#[derive(Debug)]
pub enum RunError {
    /// The configuration file does not load (its `FILE:LINE: message` lines).
    Config(ConfigErrors),
    /// It loads, but does not apply to this host (e.g. `tunnel source` names no
    /// interface here).
    Resolve(ConfigError),
    Dataplane(DataplaneError),
    /// UDP 500 or 4500 on a tunnel's local address, in its front-door VRF.
    IkeSocket {
        addr: SocketAddr,
        vrf: Option<String>,
        source: std::io::Error,
    },
    ControlSocket {
        path: PathBuf,
        source: std::io::Error,
    },
    /// The async runtime or a signal handler could not be set up.
    Runtime(std::io::Error),
    /// A packet thread, the data path worker or a task of the event loop ended:
    /// `what` names it ("thread esp-rx-Esp6", "task control socket").
    Died {
        what: String,
        why: String,
    },
}

impl fmt::Display for RunError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RunError::Config(e) => e.fmt(f),
            RunError::Resolve(e) => e.fmt(f),
            RunError::Dataplane(e) => e.fmt(f),
            RunError::IkeSocket {
                addr,
                vrf: None,
                source,
            } => write!(f, "cannot bind UDP {addr}: {source}"),
            RunError::IkeSocket {
                addr,
                vrf: Some(vrf),
                source,
            } => write!(
                f,
                "cannot bind UDP {addr} in vrf {vrf} (tunnel vrf): {source}"
            ),
            RunError::ControlSocket { path, source } => {
                write!(f, "control socket {}: {source}", path.display())
            }
            RunError::Runtime(e) => write!(f, "event loop: {e}"),
            RunError::Died { what, why } => write!(f, "{what} {why}"),
        }
    }
}

impl std::error::Error for RunError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            RunError::Config(e) => Some(e),
            RunError::Resolve(e) => Some(e),
            RunError::Dataplane(e) => Some(e),
            RunError::IkeSocket { source, .. }
            | RunError::ControlSocket { source, .. }
            | RunError::Runtime(source) => Some(source),
            RunError::Died { .. } => None,
        }
    }
}

impl From<DataplaneError> for RunError {
    fn from(e: DataplaneError) -> Self {
        RunError::Dataplane(e)
    }
}
