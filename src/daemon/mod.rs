//! tokio glue: sockets, timers, control socket, signals, sd_notify.
