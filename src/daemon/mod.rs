//! tokio glue: sockets, timers, control socket, signals, sd_notify.

pub mod control;
pub mod notify;
pub mod show;
