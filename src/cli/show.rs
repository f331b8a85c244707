//! `ikev1d show isakmp|ipsec|admission [--json]`: ask the daemon, print JSON or IOS's
//! layout.

use super::ShowWhat;
use crate::daemon::control::{query, Request};
use crate::daemon::show::{
    render_admission, render_ipsec, render_isakmp, AdmissionStatsView, IpsecSaView, IsakmpSaView,
};
use std::path::Path;
use std::process::ExitCode;

/// The daemon's reply, or a message on stderr saying why there is none.
fn ask(socket: &Path, request: Request) -> Option<String> {
    match query(socket, request) {
        Ok(r) => Some(r),
        Err(e) => {
            let at = socket.display();
            match e.kind() {
                // Connected, but no answer: a busy or stuck daemon.
                std::io::ErrorKind::TimedOut | std::io::ErrorKind::UnexpectedEof => {
                    eprintln!("ikev1d: the daemon at {at} did not answer: {e}")
                }
                _ => eprintln!(
                    "ikev1d: cannot reach the daemon at {at}: {e} (is ikev1d running? are you root?)"
                ),
            }
            None
        }
    }
}

pub fn run(what: ShowWhat) -> ExitCode {
    let (socket, json, request) = match what {
        ShowWhat::Isakmp { socket, json } => (socket, json, Request::ShowIsakmp),
        ShowWhat::Ipsec { socket, json } => (socket, json, Request::ShowIpsec),
        ShowWhat::Admission { socket, json } => (socket, json, Request::ShowAdmission),
    };
    let Some(reply) = ask(&socket, request) else {
        return ExitCode::FAILURE;
    };
    if json {
        print!("{reply}");
        return ExitCode::SUCCESS;
    }
    let text = match request {
        Request::ShowIsakmp => serde_json::from_str::<Vec<IsakmpSaView>>(&reply).map(|v| {
            // The admission counters' summary line (IOS shows them apart).
            let summary = ask(&socket, Request::ShowAdmission)
                .and_then(|a| serde_json::from_str::<AdmissionStatsView>(&a).ok())
                .map(|a| format!("\n{}", a.summary()))
                .unwrap_or_default();
            render_isakmp(&v) + &summary
        }),
        Request::ShowIpsec => {
            serde_json::from_str::<Vec<IpsecSaView>>(&reply).map(|v| render_ipsec(&v))
        }
        Request::ShowAdmission => {
            serde_json::from_str::<AdmissionStatsView>(&reply).map(|a| render_admission(&a))
        }
    };
    match text {
        Ok(t) => {
            print!("{t}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!(
                "ikev1d: unexpected reply from the daemon ({e}): {}",
                reply.trim()
            );
            ExitCode::FAILURE
        }
    }
}
