//! tokio glue: sockets, timers, control socket, signals, sd_notify.

pub mod control;
mod dh;
pub mod error;
pub mod hook;
mod idle;
mod ike_socket;
mod limits;
pub mod notify;
pub mod run;
pub mod show;
mod worker;

/// A log writer that keeps what it is given, for tests to read the lines a subscriber
/// writes with it (here, below `cli`, for the daemon's tests and the CLI's).
#[cfg(test)]
#[derive(Clone, Default)]
pub(crate) struct Captured(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

#[cfg(test)]
impl Captured {
    pub(crate) fn text(&self) -> String {
        String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
    }
}

#[cfg(test)]
impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// `--dataplane auto|kernel|userspace`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum DataplaneChoice {
    Auto,
    Kernel,
    Userspace,
}
