//! `ikev1d show isakmp|ipsec [--json]`: ask the daemon, print JSON or IOS's layout.

use super::ShowWhat;
use crate::daemon::control::{query, Request};
use crate::daemon::show::{render_ipsec, render_isakmp, IpsecSaView, IsakmpSaView};
use std::process::ExitCode;

pub fn run(what: ShowWhat) -> ExitCode {
    let (socket, json, request) = match what {
        ShowWhat::Isakmp { socket, json } => (socket, json, Request::ShowIsakmp),
        ShowWhat::Ipsec { socket, json } => (socket, json, Request::ShowIpsec),
    };
    let reply = match query(&socket, request) {
        Ok(r) => r,
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
            return ExitCode::FAILURE;
        }
    };
    if json {
        print!("{reply}");
        return ExitCode::SUCCESS;
    }
    let text = match request {
        Request::ShowIsakmp => {
            serde_json::from_str::<Vec<IsakmpSaView>>(&reply).map(|v| render_isakmp(&v))
        }
        Request::ShowIpsec => {
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
