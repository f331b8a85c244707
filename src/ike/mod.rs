//! The IKEv1 protocol engine, sans I/O: Main Mode, Quick Mode, Informational.
//! Inputs: `handle_datagram`, `handle_timeout`, `handle_command`; outputs: `poll_action`,
//! `poll_timeout`. No sockets, clocks, netlink or OS randomness inside.

pub mod settings;

pub use settings::Settings;
