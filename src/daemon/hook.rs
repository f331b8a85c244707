//! `--interface-hook PATH`: a command run when a Virtual-Access interface comes up or
//! goes away, so that a routing daemon (FRR, BIRD) can pick it up (docs/design.md has
//! the contract, docs/ios-mapping.md an FRR example).
//!
//! The command is executed directly with an argument vector and environment variables,
//! never through a shell: the peer's data (its address) cannot become shell syntax.
//! Hooks run one at a time, in the order of the events, on a thread of their own, so
//! that a slow hook delays neither IKE nor the next hook's order (a `down` never
//! overtakes the `up` of the same interface). A hook still running after its time limit
//! (`--interface-hook-timeout`) is killed, with what it started (its process group), so
//! that one hung script does not hold back every later call; a death of the thread
//! stops the daemon like any other worker's.

use super::worker::Event;
use crate::dataplane::threads;
use crate::dataplane::TunnelSpec;
use crate::ike::VirtualAccess;
use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

/// Thread name (in `ps -L` and in the daemon's errors).
pub const THREAD_NAME: &str = "interface-hook";

/// What happened to the interface: the hook's first argument.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HookEvent {
    Up,
    Down,
}

impl HookEvent {
    pub fn word(self) -> &'static str {
        match self {
            HookEvent::Up => "up",
            HookEvent::Down => "down",
        }
    }
}

/// One run of the hook: argv after the program, and the environment added.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HookCall {
    pub args: Vec<String>,
    pub env: Vec<(&'static str, String)>,
}

impl HookCall {
    /// `PATH EVENT INTERFACE PEER LOCAL`, and in the environment the same plus the
    /// template and the interface's inner addresses (those of the template: `ip
    /// address`, `ip unnumbered IF`, `ipv6 address`).
    pub fn new(event: HookEvent, va: &VirtualAccess, spec: &TunnelSpec) -> HookCall {
        let args = vec![
            event.word().to_string(),
            va.name.clone(),
            va.peer.to_string(),
            va.local.to_string(),
        ];
        let mut env = vec![
            ("IKEV1D_EVENT", event.word().to_string()),
            ("IKEV1D_INTERFACE", va.name.clone()),
            ("IKEV1D_PEER", va.peer.to_string()),
            ("IKEV1D_LOCAL", va.local.to_string()),
            ("IKEV1D_TEMPLATE", va.template_name()),
            ("IKEV1D_PROFILE", va.profile.clone()),
        ];
        if let Some((a, len)) = spec.ipv4 {
            env.push(("IKEV1D_INNER_IPV4", format!("{a}/{len}")));
        }
        if let Some(u) = &spec.options.unnumbered {
            // The borrowed address, as the interface carries it.
            env.push(("IKEV1D_INNER_IPV4", format!("{}/32", u.address)));
            env.push(("IKEV1D_UNNUMBERED", u.interface.clone()));
        }
        if !spec.ipv6.is_empty() {
            let v6: Vec<String> = spec.ipv6.iter().map(|(a, l)| format!("{a}/{l}")).collect();
            env.push(("IKEV1D_INNER_IPV6", v6.join(" ")));
        }
        HookCall { args, env }
    }
}

/// How long the daemon waits at its end for the hooks still queued (the `down` of
/// every Virtual-Access).
const FINISH_WAIT: Duration = Duration::from_secs(10);

/// How long a hook may run unless `--interface-hook-timeout` says otherwise: a routing
/// daemon's `vtysh` takes a second, not this.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// The hook runner: calls queue up for its thread.
pub struct Hook {
    tx: mpsc::Sender<HookCall>,
    stop: Arc<AtomicBool>,
    thread: std::thread::JoinHandle<()>,
}

/// Queues calls for the hook's thread; cheap to clone (the data path worker holds one
/// until the interface exists).
#[derive(Clone)]
pub struct HookQueue(mpsc::Sender<HookCall>);

impl HookQueue {
    pub fn call(&self, call: HookCall) {
        if self.0.send(call).is_err() {
            tracing::error!("thread {THREAD_NAME} is gone: interface hook not run");
        }
    }
}

impl Hook {
    /// Start the thread; should it die, `Event::Died` naming it goes to `events`.
    pub fn start(
        path: PathBuf,
        timeout: Duration,
        events: tokio::sync::mpsc::UnboundedSender<Event>,
    ) -> std::io::Result<Hook> {
        let (tx, rx) = mpsc::channel::<HookCall>();
        let stop = Arc::new(AtomicBool::new(false));
        let failed = move |f| {
            let _ = events.send(Event::Died(f));
        };
        let thread = threads::spawn(THREAD_NAME.into(), stop.clone(), failed, move || {
            for call in rx {
                run(&path, &call, timeout);
            }
            Ok(())
        })?;
        Ok(Hook { tx, stop, thread })
    }

    pub fn queue(&self) -> HookQueue {
        HookQueue(self.tx.clone())
    }

    /// Run what is queued, waiting at most `FINISH_WAIT` (a hung hook does not keep
    /// the daemon from ending).
    pub async fn finish(self) {
        self.stop.store(true, Ordering::Relaxed);
        drop(self.tx);
        let thread = self.thread;
        let joined = tokio::task::spawn_blocking(move || thread.join());
        if tokio::time::timeout(FINISH_WAIT, joined).await.is_err() {
            tracing::warn!(
                "interface hooks still running after {} s: not waited for",
                FINISH_WAIT.as_secs()
            );
        }
    }
}

/// Run the hook and wait for it, at most `timeout`; its failure is logged, never fatal.
fn run(path: &Path, call: &HookCall, timeout: Duration) {
    let what = format!("interface hook {} {}", path.display(), call.args.join(" "));
    let child = Command::new(path)
        .args(&call.args)
        .envs(call.env.iter().map(|(k, v)| (*k, v)))
        .stdin(std::process::Stdio::null())
        // Its own group: killing it at the time limit also kills what it started (a
        // shell script's `sleep`, `vtysh`), which would otherwise live on.
        .process_group(0)
        .spawn();
    let mut child = match child {
        Ok(c) => c,
        Err(e) => {
            tracing::warn!("{what}: could not run: {e}");
            return;
        }
    };
    match wait_at_most(&mut child, timeout) {
        Ok(Some(s)) if s.success() => tracing::debug!("{what}: done"),
        Ok(Some(s)) => tracing::warn!("{what}: {s}"),
        Ok(None) => {
            // The group's id is the child's pid (process_group(0)).
            let group = Pid::from_raw(child.id() as i32);
            let killed = killpg(group, Signal::SIGKILL).map_err(std::io::Error::from);
            let reaped = child.wait();
            match killed.and(reaped) {
                Ok(_) => tracing::warn!(
                    "{what}: still running after {} s: killed",
                    timeout.as_secs_f32()
                ),
                Err(e) => tracing::warn!(
                    "{what}: still running after {} s, could not kill it: {e}",
                    timeout.as_secs_f32()
                ),
            }
        }
        Err(e) => tracing::warn!("{what}: waiting for it: {e}"),
    }
}

/// The child's exit status, or `None` if it is still running after `timeout`. Polls:
/// std has no wait with a time limit, and a hook runs rarely (an interface up or down).
fn wait_at_most(child: &mut Child, timeout: Duration) -> std::io::Result<Option<ExitStatus>> {
    let deadline = Instant::now() + timeout;
    let mut pause = Duration::from_millis(1);
    loop {
        if let Some(status) = child.try_wait()? {
            return Ok(Some(status));
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Ok(None);
        }
        std::thread::sleep(pause.min(left));
        pause = (pause * 2).min(Duration::from_millis(50));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dataplane::{InterfaceOptions, Unnumbered};
    use crate::ipsec::InnerFamily;

    fn vi12() -> VirtualAccess {
        VirtualAccess {
            name: "Vi12".into(),
            number: 12,
            template: 1,
            local: "198.51.100.1".parse().unwrap(),
            peer: "2001:db8::a:c".parse().unwrap(),
            profile: "DVTI".into(),
        }
    }

    /// Whether process `pid` is gone (or a zombie waiting for init to reap it).
    fn gone(pid: &str) -> bool {
        std::fs::read_to_string(format!("/proc/{pid}/stat")).map_or(true, |stat| {
            stat.rsplit(')')
                .next()
                .unwrap()
                .trim_start()
                .starts_with('Z')
        })
    }

    /// A hook that hangs on `up` (a shell script waiting on a `sleep` it started) is
    /// killed with its `sleep` at the time limit, one WARN line says so, and the
    /// `down` queued behind it runs.
    #[test]
    fn a_hanging_hook_is_killed_at_its_time_limit_and_the_next_one_runs() {
        let dir = std::env::temp_dir().join(format!("ikev1d-hook-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let script = dir.join("vi-hook");
        std::fs::write(
            &script,
            format!(
                "#!/bin/sh\ncd {}\nif [ \"$1\" = up ]; then sleep 30 & echo $! >sleep.$$; wait; fi\n\
                 echo \"$1 $2\" >>ran\n",
                dir.display()
            ),
        )
        .unwrap();
        std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755))
            .unwrap();
        let spec = TunnelSpec::for_test(Default::default());
        let up = HookCall::new(HookEvent::Up, &vi12(), &spec);
        let down = HookCall::new(HookEvent::Down, &vi12(), &spec);
        let limit = Duration::from_secs(1);

        // The log line, on this thread.
        let out = crate::daemon::Captured::default();
        let sink = out.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_ansi(false)
            .with_writer(move || sink.clone())
            .finish();
        let started = Instant::now();
        tracing::subscriber::with_default(subscriber, || run(&script, &up, limit));
        let waited = started.elapsed();
        assert!(waited >= limit && waited < limit * 5, "{waited:?}");
        let log = out.text();
        let expected = format!(
            "WARN ikev1d::daemon::hook: interface hook {} up Vi12 2001:db8::a:c 198.51.100.1: \
             still running after 1 s: killed",
            script.display()
        );
        assert!(log.contains(&expected), "{log}");
        assert_eq!(log.lines().count(), 1, "{log}");
        let sleeps: Vec<String> = std::fs::read_dir(&dir)
            .unwrap()
            .filter_map(|e| e.ok()?.file_name().into_string().ok())
            .filter(|n| n.starts_with("sleep."))
            .collect();
        assert_eq!(sleeps.len(), 1, "{sleeps:?}");
        let sleep = std::fs::read_to_string(dir.join(&sleeps[0])).unwrap();
        // SIGKILL is delivered on the signalled process's next way through the kernel.
        let killed_at = Instant::now();
        while !gone(sleep.trim()) && killed_at.elapsed() < limit * 5 {
            std::thread::sleep(Duration::from_millis(10));
        }
        assert!(gone(sleep.trim()), "the hook's sleep {sleep} outlived it");
        assert!(!dir.join("ran").exists(), "the killed hook went on");

        // On the hook's thread: the `down` behind a hanging `up` runs, and the thread
        // ends without reporting a death when told to.
        let (events_tx, mut events) = tokio::sync::mpsc::unbounded_channel();
        let hook = Hook::start(script.clone(), limit, events_tx).unwrap();
        let queue = hook.queue();
        queue.call(up);
        queue.call(down);
        drop(queue);
        let started = Instant::now();
        while !dir.join("ran").exists() && started.elapsed() < limit * 10 {
            std::thread::sleep(Duration::from_millis(20));
        }
        assert_eq!(
            std::fs::read_to_string(dir.join("ran")).unwrap(),
            "down Vi12\n"
        );
        tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap()
            .block_on(hook.finish());
        assert!(events.try_recv().is_err(), "a death was reported");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_hook_gets_the_event_interface_peer_and_inner_addresses_as_argv_and_environment() {
        let va = vi12();
        let spec = TunnelSpec {
            name: "Vi12".into(),
            if_id: va.if_id(),
            local: va.local,
            peer: va.peer,
            inner: InnerFamily::V4,
            ipv4: None,
            ipv6: vec![("2001:db8:1::1".parse().unwrap(), 64)],
            link_local: None,
            mtu: None,
            routes: vec![],
            options: InterfaceOptions {
                unnumbered: Some(Unnumbered {
                    interface: "lo".into(),
                    address: "192.168.23.1".parse().unwrap(),
                }),
                ..Default::default()
            },
        };
        let call = HookCall::new(HookEvent::Down, &va, &spec);
        assert_eq!(call.args, ["down", "Vi12", "2001:db8::a:c", "198.51.100.1"]);
        let env: std::collections::HashMap<_, _> = call.env.into_iter().collect();
        assert_eq!(env["IKEV1D_EVENT"], "down");
        assert_eq!(env["IKEV1D_INTERFACE"], "Vi12");
        assert_eq!(env["IKEV1D_TEMPLATE"], "Virtual-Template1");
        assert_eq!(env["IKEV1D_PROFILE"], "DVTI");
        assert_eq!(env["IKEV1D_UNNUMBERED"], "lo");
        assert_eq!(env["IKEV1D_INNER_IPV6"], "2001:db8:1::1/64");
        assert_eq!(env["IKEV1D_INNER_IPV4"], "192.168.23.1/32");
    }
}
