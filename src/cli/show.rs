//! `ikev1d show isakmp|ipsec|admission [--json]`: ask the daemon, print JSON or IOS's
//! layout.

use super::ShowWhat;
use crate::daemon::control::{query, Request};
use crate::daemon::show::{
    render_admission, render_ipsec, render_isakmp, AdmissionStatsView, IpsecSaView, IsakmpSaView,
};
use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

/// Why there is no reply, on stderr.
fn report(socket: &Path, e: std::io::Error) {
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
}

/// The daemon's whole reply, or a message on stderr saying why there is none.
fn ask(socket: &Path, request: &Request) -> Option<Vec<u8>> {
    let mut reply = Vec::new();
    match query(socket, request, &mut reply) {
        Ok(()) => Some(reply),
        Err(e) => {
            report(socket, e);
            None
        }
    }
}

pub fn run(what: ShowWhat) -> ExitCode {
    let (socket, json, request) = match what {
        ShowWhat::Isakmp { socket, json, peer } => (socket, json, Request::ShowIsakmp { peer }),
        ShowWhat::Ipsec {
            socket,
            json,
            peer,
            interface,
        } => (socket, json, Request::ShowIpsec { peer, interface }),
        ShowWhat::Admission { socket, json } => (socket, json, Request::ShowAdmission),
    };
    if json {
        // Streamed as it comes: a show of 10,000 SAs is never held whole here either.
        let mut out = std::io::BufWriter::new(std::io::stdout().lock());
        return match query(&socket, &request, &mut out).and_then(|()| out.flush()) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                report(&socket, e);
                ExitCode::FAILURE
            }
        };
    }
    let Some(reply) = ask(&socket, &request) else {
        return ExitCode::FAILURE;
    };
    let text = match request {
        Request::ShowIsakmp { .. } => {
            serde_json::from_slice::<Vec<IsakmpSaView>>(&reply).map(|v| {
                // The admission counters' summary line (IOS shows them apart).
                let summary = ask(&socket, &Request::ShowAdmission)
                    .and_then(|a| serde_json::from_slice::<AdmissionStatsView>(&a).ok())
                    .map(|a| format!("\n{}", a.summary()))
                    .unwrap_or_default();
                render_isakmp(&v) + &summary
            })
        }
        Request::ShowIpsec { .. } => {
            serde_json::from_slice::<Vec<IpsecSaView>>(&reply).map(|v| render_ipsec(&v))
        }
        Request::ShowAdmission => {
            serde_json::from_slice::<AdmissionStatsView>(&reply).map(|a| render_admission(&a))
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
                String::from_utf8_lossy(&reply).trim()
            );
            ExitCode::FAILURE
        }
    }
}
