//! `--interface-hook PATH`: a command run when a Virtual-Access interface comes up or
//! goes away, so that a routing daemon (FRR, BIRD) can pick it up (docs/design.md has
//! the contract, docs/ios-mapping.md an FRR example).
//!
//! The command is executed directly with an argument vector and environment variables,
//! never through a shell: the peer's data (its address) cannot become shell syntax.
//! Hooks run one at a time, in the order of the events, on a thread of their own, so
//! that a slow hook delays neither IKE nor the next hook's order (a `down` never
//! overtakes the `up` of the same interface).

use crate::dataplane::TunnelSpec;
use crate::ike::VirtualAccess;
use std::path::PathBuf;
use std::process::Command;
use std::sync::mpsc;
use std::time::Duration;

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

/// The hook runner: calls queue up for its thread.
pub struct Hook {
    tx: mpsc::Sender<HookCall>,
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
    pub fn start(path: PathBuf) -> std::io::Result<Hook> {
        let (tx, rx) = mpsc::channel::<HookCall>();
        let thread = std::thread::Builder::new()
            .name(THREAD_NAME.into())
            .spawn(move || {
                for call in rx {
                    run(&path, &call);
                }
            })?;
        Ok(Hook { tx, thread })
    }

    pub fn queue(&self) -> HookQueue {
        HookQueue(self.tx.clone())
    }

    /// Run what is queued, waiting at most `FINISH_WAIT` (a hung hook does not keep
    /// the daemon from ending).
    pub async fn finish(self) {
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

/// Run the hook and wait for it; its failure is logged, never fatal.
fn run(path: &std::path::Path, call: &HookCall) {
    let outcome = Command::new(path)
        .args(&call.args)
        .envs(call.env.iter().map(|(k, v)| (*k, v)))
        .stdin(std::process::Stdio::null())
        .status();
    let what = format!("interface hook {} {}", path.display(), call.args.join(" "));
    match outcome {
        Ok(s) if s.success() => tracing::debug!("{what}: done"),
        Ok(s) => tracing::warn!("{what}: {s}"),
        Err(e) => tracing::warn!("{what}: could not run: {e}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dataplane::{InterfaceOptions, Unnumbered};
    use crate::ipsec::InnerFamily;

    #[test]
    fn a_hook_gets_the_event_interface_peer_and_inner_addresses_as_argv_and_environment() {
        let va = VirtualAccess {
            name: "Vi12".into(),
            number: 12,
            template: 1,
            local: "198.51.100.1".parse().unwrap(),
            peer: "2001:db8::a:c".parse().unwrap(),
            profile: "DVTI".into(),
        };
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
