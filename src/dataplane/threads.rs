//! Threads that cannot die unnoticed. Each runs its body under `catch_unwind`; a panic,
//! an error, or an end before it was told to stop is handed to its owner with the
//! thread's name (the userspace data path reports it as
//! `DataplaneEvent::ThreadFailed`), so that the daemon stops with an error naming the
//! thread (and systemd restarts it) rather than running on with half its threads.

use std::any::Any;
use std::io;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

/// A thread that ended when it should not have.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ThreadFailure {
    pub thread: String,
    /// "panicked: ...", "failed: ...", or "ended before it was stopped".
    pub reason: String,
}

impl std::fmt::Display for ThreadFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "thread {} {}", self.thread, self.reason)
    }
}

/// Where the threads of one owner record how they failed, for it to poll.
#[derive(Debug, Clone, Default)]
pub struct Failures(Arc<Mutex<Vec<ThreadFailure>>>);

impl Failures {
    /// The failures since the last call.
    pub fn take(&self) -> Vec<ThreadFailure> {
        std::mem::take(&mut *self.0.lock().unwrap_or_else(|e| e.into_inner()))
    }

    pub fn push(&self, failure: ThreadFailure) {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(failure);
    }
}

/// Start thread `name` running `body`; it is expected to run until `stop` is set.
/// Should it end otherwise, `failed` gets how, on the dying thread.
pub fn spawn(
    name: String,
    stop: Arc<AtomicBool>,
    failed: impl FnOnce(ThreadFailure) + Send + 'static,
    body: impl FnOnce() -> io::Result<()> + Send + 'static,
) -> io::Result<JoinHandle<()>> {
    std::thread::Builder::new()
        .name(name.clone())
        .spawn(move || {
            let outcome = std::panic::catch_unwind(AssertUnwindSafe(|| {
                inject_fault(&name);
                body()
            }));
            let reason = match outcome {
                Err(panic) => format!("panicked: {}", panic_message(&*panic)),
                Ok(Err(e)) => format!("failed: {e}"),
                Ok(Ok(())) if !stop.load(Ordering::Relaxed) => "ended before it was stopped".into(),
                Ok(Ok(())) => return,
            };
            failed(ThreadFailure {
                thread: name,
                reason,
            });
        })
}

/// The message a panic was raised with.
pub fn panic_message(payload: &(dyn Any + Send)) -> String {
    match (
        payload.downcast_ref::<&str>(),
        payload.downcast_ref::<String>(),
    ) {
        (Some(s), _) => s.to_string(),
        (_, Some(s)) => s.clone(),
        _ => "(no message)".into(),
    }
}

/// Test hook of debug builds (tests/supervision.sh): with `IKEV1D_TEST_PANIC=PREFIX`,
/// the thread or task whose name starts with PREFIX panics as it starts. Release
/// builds have no such hook.
pub fn inject_fault(name: &str) {
    #[cfg(debug_assertions)]
    if let Ok(prefix) = std::env::var("IKEV1D_TEST_PANIC") {
        if !prefix.is_empty() && name.starts_with(&prefix) {
            panic!("injected fault (IKEV1D_TEST_PANIC={prefix})");
        }
    }
    #[cfg(not(debug_assertions))]
    let _ = name;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(
        name: &str,
        stopped: bool,
        body: impl FnOnce() -> io::Result<()> + Send + 'static,
    ) -> Vec<ThreadFailure> {
        let failures = Failures::default();
        let stop = Arc::new(AtomicBool::new(stopped));
        let sink = failures.clone();
        spawn(name.into(), stop, move |f| sink.push(f), body)
            .unwrap()
            .join()
            .unwrap();
        failures.take()
    }

    #[test]
    fn a_panic_an_error_or_an_early_end_is_recorded_with_the_thread_name() {
        let panicked = run("esp-rx-Esp6", false, || panic!("index out of bounds"));
        assert_eq!(
            panicked,
            [ThreadFailure {
                thread: "esp-rx-Esp6".into(),
                reason: "panicked: index out of bounds".into(),
            }]
        );
        assert_eq!(
            panicked[0].to_string(),
            "thread esp-rx-Esp6 panicked: index out of bounds"
        );
        let failed = run("esp-tx-Tunnel23-0", false, || {
            Err(io::Error::other("EBADF"))
        });
        assert_eq!(failed[0].reason, "failed: EBADF");
        let early = run("esp-tx-Tunnel23-1", false, || Ok(()));
        assert_eq!(early[0].reason, "ended before it was stopped");
    }

    #[test]
    fn a_thread_that_ends_when_told_to_is_not_a_failure() {
        assert!(run("esp-tx-Tunnel23-0", true, || Ok(())).is_empty());
    }
}
