//! tokio glue: sockets, timers, control socket, signals, sd_notify.

pub mod control;
mod dh;
pub mod error;
pub mod hook;
mod idle;
pub mod notify;
pub mod run;
pub mod show;
mod worker;

/// `--dataplane auto|kernel|userspace`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum DataplaneChoice {
    Auto,
    Kernel,
    Userspace,
}
