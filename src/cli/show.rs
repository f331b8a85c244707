//! `ikev1d show isakmp|ipsec [--json]`: ask the daemon, print JSON or IOS's layout.

use super::ShowWhat;
use crate::daemon::control::{query, Request};
use crate::daemon::show::{render_ipsec, render_isakmp, IpsecSaView, IsakmpSaView};
use std::io::Write;
use std::process::ExitCode;

pub fn run(what: ShowWhat) -> ExitCode {
    let (socket, json, request) = match what {
        ShowWhat::Isakmp { socket, json, peer } => (socket, json, Request::ShowIsakmp { peer }),
        ShowWhat::Ipsec {
            socket,
            json,
            peer,
            interface,
        } => (socket, json, Request::ShowIpsec { peer, interface }),
    };
    let report = |e: std::io::Error| {
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
        ExitCode::FAILURE
    };
    if json {
        // Streamed as it comes: a show of 10,000 SAs is never held whole here either.
        let mut out = std::io::BufWriter::new(std::io::stdout().lock());
        return match query(&socket, &request, &mut out).and_then(|()| out.flush()) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => report(e),
        };
    }
    let mut reply = Vec::new();
    if let Err(e) = query(&socket, &request, &mut reply) {
        return report(e);
    }
    let reply = String::from_utf8_lossy(&reply);
    let text = match request {
        Request::ShowIsakmp { .. } => {
            serde_json::from_str::<Vec<IsakmpSaView>>(&reply).map(|v| render_isakmp(&v))
        }
        Request::ShowIpsec { .. } => {
            serde_json::from_str::<Vec<IpsecSaView>>(&reply).map(|v| render_ipsec(&v))
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
