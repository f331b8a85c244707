//! The control socket: a Unix stream socket, root-only (mode 0600 in a 0700 directory,
//! and the peer's uid checked), one request line per connection, one JSON reply.
//! Requests: `show isakmp`, `show ipsec`, `show admission`. Both ends are bounded in time, and the
//! server in connections and request size: a stuck client never holds the daemon, a
//! stuck daemon never holds `ikev1d show`.

use crate::dataplane::threads::inject_fault;
use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt};
use tokio::sync::{mpsc, oneshot, Semaphore};
use tokio::task::JoinSet;
use tokio::time::timeout;

/// Clients served at once; more are turned away (connection closed without a reply).
const MAX_CLIENTS: usize = 16;
/// The longest request line (`show ipsec` is 10 bytes).
const MAX_REQUEST: u64 = 256;
/// How long a client may take to send its request, or to take the reply.
const CLIENT_IO: Duration = Duration::from_secs(5);
/// How long the daemon may take to answer (`show ipsec` reads every SA's counters).
const ANSWER: Duration = Duration::from_secs(10);
/// What `ikev1d show` waits for: the daemon's own limits and some.
const CLIENT_READ: Duration = Duration::from_secs(15);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Request {
    ShowIsakmp,
    ShowIpsec,
    /// IOS `show crypto call admission statistics`: one JSON object.
    ShowAdmission,
}

impl Request {
    fn parse(line: &str) -> Option<Request> {
        match line.trim() {
            "show isakmp" => Some(Request::ShowIsakmp),
            "show ipsec" => Some(Request::ShowIpsec),
            "show admission" => Some(Request::ShowAdmission),
            _ => None,
        }
    }
    fn line(self) -> &'static str {
        match self {
            Request::ShowIsakmp => "show isakmp",
            Request::ShowIpsec => "show ipsec",
            Request::ShowAdmission => "show admission",
        }
    }
}

/// A request from a client and where to send the JSON reply.
pub type Query = (Request, oneshot::Sender<String>);

/// Bind the socket (replacing a stale one) with root-only permissions. A missing
/// directory is made root-only (mode 0700); an existing one is left as it is (`--socket
/// /tmp/x.sock` must not make /tmp private): the socket's own mode and the peer's uid
/// keep others out.
pub fn bind(path: &Path) -> std::io::Result<tokio::net::UnixListener> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        if !dir.exists() {
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(dir)?;
        }
    }
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
        _ => {}
    }
    let listener = tokio::net::UnixListener::bind(path)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
    Ok(listener)
}

/// Serve clients for as long as the daemon runs; each query goes to the daemon loop.
/// A client task that panics takes this task down with it (the daemon then stops).
pub async fn serve(listener: tokio::net::UnixListener, queries: mpsc::Sender<Query>) {
    inject_fault("control");
    let slots = Arc::new(Semaphore::new(MAX_CLIENTS));
    let mut clients = JoinSet::new();
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            Some(done) = clients.join_next() => {
                if let Err(e) = done {
                    if e.is_panic() {
                        std::panic::resume_unwind(e.into_panic());
                    }
                }
                continue;
            }
        };
        let stream = match accepted {
            Ok((stream, _)) => stream,
            Err(e) => {
                // Out of file descriptors and the like: it passes.
                tracing::warn!("control socket: accept: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        // Only root (or our own uid, when run unprivileged in tests) may ask.
        let allowed = stream
            .peer_cred()
            .map(|c| c.uid() == 0 || c.uid() == nix::unistd::geteuid().as_raw())
            .unwrap_or(false);
        if !allowed {
            continue;
        }
        // Beyond MAX_CLIENTS the connection is closed at once.
        if let Ok(slot) = slots.clone().try_acquire_owned() {
            clients.spawn(client(stream, queries.clone(), slot));
        }
    }
}

/// One connection: its request line, the daemon's answer, the reply; each step bounded.
async fn client(
    stream: tokio::net::UnixStream,
    queries: mpsc::Sender<Query>,
    _slot: tokio::sync::OwnedSemaphorePermit,
) {
    let (read, mut write) = stream.into_split();
    let mut line = String::new();
    let mut reader = tokio::io::BufReader::new(read.take(MAX_REQUEST));
    match timeout(CLIENT_IO, reader.read_line(&mut line)).await {
        Ok(Ok(n)) if n > 0 => {}
        _ => return,
    }
    let reply = match Request::parse(&line) {
        Some(req) => {
            let (tx, rx) = oneshot::channel();
            if queries.send((req, tx)).await.is_err() {
                return;
            }
            match timeout(ANSWER, rx).await {
                Ok(Ok(reply)) => reply,
                _ => "{\"error\":\"the daemon did not answer in time\"}".into(),
            }
        }
        None => format!("{{\"error\":\"unknown request {:?}\"}}", line.trim()),
    };
    let _ = timeout(CLIENT_IO, async {
        write.write_all(reply.as_bytes()).await?;
        write.write_all(b"\n").await
    })
    .await;
}

/// Client side, for `ikev1d show`: send the request and return the JSON reply, or an
/// error once the daemon has not answered in `CLIENT_READ`.
pub fn query(path: &Path, request: Request) -> std::io::Result<String> {
    use std::io::{Error, ErrorKind};
    let mut stream = std::os::unix::net::UnixStream::connect(path)?;
    stream.set_write_timeout(Some(CLIENT_IO))?;
    stream.set_read_timeout(Some(CLIENT_READ))?;
    let mut reply = String::new();
    let asked = writeln!(stream, "{}", request.line())
        .and_then(|()| BufReader::new(stream).read_line(&mut reply));
    let closed = || {
        Error::new(
            ErrorKind::UnexpectedEof,
            "the daemon closed the connection without a reply (too many clients?)",
        )
    };
    match asked {
        Ok(n) if n > 0 => Ok(reply),
        Ok(_) => Err(closed()),
        Err(e) => match e.kind() {
            ErrorKind::WouldBlock | ErrorKind::TimedOut => Err(Error::new(
                ErrorKind::TimedOut,
                format!("no reply within {} s", CLIENT_READ.as_secs()),
            )),
            ErrorKind::ConnectionReset | ErrorKind::BrokenPipe => Err(closed()),
            _ => Err(e),
        },
    }
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

    fn scratch(name: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("ikev1d-ctl-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        dir
    }

    fn mode(path: &Path) -> u32 {
        std::fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    /// `--socket /tmp/x.sock` must not make /tmp private: an existing directory is
    /// left as it is; one the daemon makes is root's alone.
    #[tokio::test]
    async fn bind_makes_a_missing_directory_private_and_leaves_others_alone() {
        let shared = scratch("shared");
        std::fs::create_dir_all(&shared).unwrap();
        std::fs::set_permissions(&shared, std::fs::Permissions::from_mode(0o755)).unwrap();
        let _l = bind(&shared.join("a.sock")).unwrap();
        assert_eq!(mode(&shared), 0o755);
        assert_eq!(mode(&shared.join("a.sock")), 0o600);
        let made = shared.join("run/ikev1d");
        let _m = bind(&made.join("b.sock")).unwrap();
        assert_eq!(mode(&made) & 0o077, 0);
        std::fs::remove_dir_all(shared).unwrap();
    }

    /// A served daemon at `path` that answers every query with "[]".
    async fn daemon(path: &Path) {
        let listener = bind(path).unwrap();
        let (tx, mut rx) = mpsc::channel::<Query>(4);
        tokio::spawn(serve(listener, tx));
        tokio::spawn(async move {
            while let Some((_, reply)) = rx.recv().await {
                let _ = reply.send("[]".into());
            }
        });
    }

    /// A client that sends an endless line gets an answer after `MAX_REQUEST` bytes; one
    /// that sends nothing is closed after `CLIENT_IO`; neither holds the daemon.
    #[tokio::test(start_paused = true)]
    async fn a_request_is_bounded_in_length_and_in_time() {
        use tokio::net::UnixStream;
        let dir = scratch("bounds");
        let path = dir.join("c.sock");
        daemon(&path).await;
        // (No more than it reads: unread data would make the close a reset.)
        let mut endless = UnixStream::connect(&path).await.unwrap();
        endless
            .write_all(&[b'a'; MAX_REQUEST as usize])
            .await
            .unwrap();
        let mut reply = String::new();
        let read = timeout(Duration::from_secs(1), endless.read_to_string(&mut reply));
        read.await.expect("answered at once").unwrap();
        assert!(reply.contains("unknown request"), "{reply}");
        let started = tokio::time::Instant::now();
        let mut silent = UnixStream::connect(&path).await.unwrap();
        let mut buf = Vec::new();
        let closed = timeout(Duration::from_secs(60), silent.read_to_end(&mut buf)).await;
        assert_eq!(closed.expect("closed by the daemon").unwrap(), 0);
        assert!(started.elapsed() >= CLIENT_IO && started.elapsed() < 2 * CLIENT_IO);
        let mut ok = UnixStream::connect(&path).await.unwrap();
        ok.write_all(b"show isakmp\n").await.unwrap();
        let mut reply = String::new();
        ok.read_to_string(&mut reply).await.unwrap();
        assert_eq!(reply.trim(), "[]");
        std::fs::remove_dir_all(dir).unwrap();
    }
}
