//! The control socket: a Unix stream socket, root-only (mode 0600 in a 0700 directory,
//! and the peer's uid checked), one request line per connection, one JSON reply.
//! Requests: `show isakmp`, `show ipsec`.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt};
use tokio::sync::{mpsc, oneshot};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Request {
    ShowIsakmp,
    ShowIpsec,
}

impl Request {
    fn parse(line: &str) -> Option<Request> {
        match line.trim() {
            "show isakmp" => Some(Request::ShowIsakmp),
            "show ipsec" => Some(Request::ShowIpsec),
            _ => None,
        }
    }
    fn line(self) -> &'static str {
        match self {
            Request::ShowIsakmp => "show isakmp",
            Request::ShowIpsec => "show ipsec",
        }
    }
}

/// A request from a client and where to send the JSON reply.
pub type Query = (Request, oneshot::Sender<String>);

/// Bind the socket (replacing a stale one) with root-only permissions.
pub fn bind(path: &Path) -> std::io::Result<tokio::net::UnixListener> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
    }
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
        _ => {}
    }
    let listener = tokio::net::UnixListener::bind(path)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
    Ok(listener)
}

/// Serve clients until the listener fails; each query goes to the daemon loop.
pub async fn serve(listener: tokio::net::UnixListener, queries: mpsc::Sender<Query>) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            return;
        };
        // Only root (or our own uid, when run unprivileged in tests) may ask.
        let allowed = stream
            .peer_cred()
            .map(|c| c.uid() == 0 || c.uid() == nix::unistd::geteuid().as_raw())
            .unwrap_or(false);
        if !allowed {
            continue;
        }
        let queries = queries.clone();
        tokio::spawn(async move {
            let (read, mut write) = stream.into_split();
            let mut line = String::new();
            let mut reader = tokio::io::BufReader::new(read);
            if reader.read_line(&mut line).await.is_err() {
                return;
            }
            let reply = match Request::parse(&line) {
                Some(req) => {
                    let (tx, rx) = oneshot::channel();
                    if queries.send((req, tx)).await.is_err() {
                        return;
                    }
                    rx.await.unwrap_or_else(|_| "[]".into())
                }
                None => format!("{{\"error\":\"unknown request {:?}\"}}", line.trim()),
            };
            let _ = write.write_all(reply.as_bytes()).await;
            let _ = write.write_all(b"\n").await;
        });
    }
}

/// Client side, for `ikev1d show`: send the request and return the JSON reply.
pub fn query(path: &Path, request: Request) -> std::io::Result<String> {
    let mut stream = std::os::unix::net::UnixStream::connect(path)?;
    writeln!(stream, "{}", request.line())?;
    let mut reply = String::new();
    BufReader::new(stream).read_line(&mut reply)?;
    Ok(reply)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_permissions() {
        let dir = std::env::temp_dir().join(format!("ikev1d-ctl-{}", std::process::id()));
        let path = dir.join("ikev1d.sock");
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let listener = rt.block_on(async { bind(&path) }).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let (tx, mut rx) = mpsc::channel::<Query>(4);
        rt.spawn(serve(listener, tx));
        rt.spawn(async move {
            while let Some((req, reply)) = rx.recv().await {
                let _ = reply.send(format!("[\"{}\"]", req.line()));
            }
        });
        let _guard = rt.enter();
        let p = path.clone();
        let reply = rt
            .block_on(tokio::task::spawn_blocking(move || {
                query(&p, Request::ShowIpsec)
            }))
            .unwrap()
            .unwrap();
        assert_eq!(reply.trim(), "[\"show ipsec\"]");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
