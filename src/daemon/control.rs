//! The control socket: a Unix stream socket, root-only (mode 0600 in a 0700 directory,
//! and the peer's uid checked), one request line per connection, one JSON reply.
//! Requests: `show isakmp [--peer A]`, `show ipsec [--peer A] [--interface TunnelN]`,
//! `show admission`. The reply is streamed (a JSON array of 10,000 SAs is written
//! piece by piece, never held whole). Both ends are bounded in time (per piece), and
//! the server in connections and request size: a stuck client never holds the daemon,
//! a stuck daemon never holds `ikev1d show`.

use crate::dataplane::threads::inject_fault;
use std::io::Write;
use std::net::IpAddr;
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt};
use tokio::sync::{mpsc, Semaphore};
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

/// `show isakmp [--peer A]`, `show ipsec [--peer A] [--interface TunnelN]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    ShowIsakmp {
        peer: Option<IpAddr>,
    },
    ShowIpsec {
        peer: Option<IpAddr>,
        interface: Option<String>,
    },
    /// IOS `show crypto call admission statistics`: one JSON object.
    ShowAdmission,
}

impl Request {
    fn parse(line: &str) -> Result<Request, String> {
        let mut words = line.split_whitespace();
        let what = match (words.next(), words.next()) {
            (Some("show"), Some(what @ ("isakmp" | "ipsec" | "admission"))) => what,
            _ => return Err(format!("unknown request {:?}", line.trim())),
        };
        let (mut peer, mut interface) = (None, None);
        while let Some(option) = words.next() {
            let value = words
                .next()
                .ok_or_else(|| format!("{option} needs a value"))?;
            match option {
                "--peer" => {
                    let addr = value
                        .parse()
                        .map_err(|_| format!("--peer {value}: not an IP address"))?;
                    peer = Some(addr);
                }
                "--interface" if what == "ipsec" => interface = Some(value.to_string()),
                _ => return Err(format!("show {what}: unknown option {option}")),
            }
        }
        Ok(match what {
            "isakmp" => Request::ShowIsakmp { peer },
            "admission" if peer.is_some() => return Err("show admission takes no --peer".into()),
            "admission" => Request::ShowAdmission,
            _ => Request::ShowIpsec { peer, interface },
        })
    }

    fn line(&self) -> String {
        let (what, peer, interface) = match self {
            Request::ShowIsakmp { peer } => ("isakmp", peer, &None),
            Request::ShowIpsec { peer, interface } => ("ipsec", peer, interface),
            Request::ShowAdmission => ("admission", &None, &None),
        };
        let mut line = format!("show {what}");
        if let Some(peer) = peer {
            line += &format!(" --peer {peer}");
        }
        if let Some(interface) = interface {
            line += &format!(" --interface {interface}");
        }
        line
    }
}

/// The reply to a query, in pieces: the daemon sends parts of the JSON text as it
/// serialises them (a `show` of 10,000 SAs is never one string), and closes the
/// channel at the end.
pub type ReplySender = mpsc::Sender<String>;
/// A request from a client and where to send the JSON reply.
pub type Query = (Request, ReplySender);

/// How many reply pieces wait for the client at most: the serialising task waits for
/// a slow reader instead of buffering the whole reply.
const REPLY_PIECES: usize = 4;
/// The size of a reply piece.
const PIECE: usize = 64 << 10;

/// Send `items` as one JSON array, in pieces of about `PIECE` bytes.
pub async fn stream_array<T: serde::Serialize>(
    items: impl IntoIterator<Item = T>,
    reply: ReplySender,
) {
    let mut piece = String::from("[");
    for (i, item) in items.into_iter().enumerate() {
        if i > 0 {
            piece.push(',');
        }
        // The views are plain data: serialising them cannot fail.
        piece += &serde_json::to_string(&item).unwrap_or_else(|_| "null".into());
        if piece.len() >= PIECE && reply.send(std::mem::take(&mut piece)).await.is_err() {
            return;
        }
    }
    piece.push(']');
    let _ = reply.send(piece).await;
}

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
    let request = match Request::parse(&line) {
        Ok(r) => r,
        Err(why) => {
            let reply = serde_json::json!({ "error": why }).to_string();
            let _ = timeout(CLIENT_IO, write.write_all(format!("{reply}\n").as_bytes())).await;
            return;
        }
    };
    let (tx, mut rx) = mpsc::channel(REPLY_PIECES);
    if queries.send((request, tx)).await.is_err() {
        return;
    }
    // The first piece within ANSWER (the daemon reads every SA's counters first), each
    // next one too; each write within CLIENT_IO.
    let mut first = true;
    loop {
        let piece = match timeout(ANSWER, rx.recv()).await {
            Ok(Some(piece)) => piece,
            Ok(None) if !first => break,
            _ if first => "{\"error\":\"the daemon did not answer in time\"}".into(),
            // Cut short: the client sees JSON that does not parse, never a wrong list.
            _ => return,
        };
        if timeout(CLIENT_IO, write.write_all(piece.as_bytes()))
            .await
            .is_err()
            || first && piece.starts_with('{')
        {
            break;
        }
        first = false;
    }
    let _ = timeout(CLIENT_IO, write.write_all(b"\n")).await;
}

/// Client side, for `ikev1d show`: send the request and copy the JSON reply to
/// `out` as it comes, or fail once the daemon has been silent for `CLIENT_READ`.
pub fn query(path: &Path, request: &Request, out: &mut dyn Write) -> std::io::Result<()> {
    use std::io::{Error, ErrorKind, Read};
    let mut stream = std::os::unix::net::UnixStream::connect(path)?;
    stream.set_write_timeout(Some(CLIENT_IO))?;
    stream.set_read_timeout(Some(CLIENT_READ))?;
    let closed = || {
        Error::new(
            ErrorKind::UnexpectedEof,
            "the daemon closed the connection without a reply (too many clients?)",
        )
    };
    let copied = writeln!(stream, "{}", request.line()).and_then(|()| {
        let mut buf = vec![0u8; PIECE];
        let mut total = 0;
        loop {
            let n = stream.read(&mut buf)?;
            if n == 0 {
                return Ok(total);
            }
            out.write_all(&buf[..n])?;
            total += n;
        }
    });
    match copied {
        Ok(n) if n > 0 => Ok(()),
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
    fn requests_with_filters_parse_and_bad_ones_say_why() {
        let r = Request::parse("show ipsec --peer 2001:db8::a:5 --interface Tunnel5\n").unwrap();
        assert_eq!(
            r,
            Request::ShowIpsec {
                peer: Some("2001:db8::a:5".parse().unwrap()),
                interface: Some("Tunnel5".into())
            }
        );
        assert_eq!(Request::parse(&r.line()).unwrap(), r);
        assert_eq!(
            Request::parse("show isakmp --peer 192.0.2.1").unwrap(),
            Request::ShowIsakmp {
                peer: Some("192.0.2.1".parse().unwrap())
            }
        );
        for (bad, why) in [
            (
                "show isakmp --interface Tunnel1",
                "unknown option --interface",
            ),
            ("show ipsec --peer", "--peer needs a value"),
            ("show ipsec --peer Tunnel1", "not an IP address"),
            ("show crypto", "unknown request"),
        ] {
            let e = Request::parse(bad).unwrap_err();
            assert!(e.contains(why), "{bad}: {e}");
        }
    }

    /// A reply far larger than a socket buffer or a piece arrives whole and parses.
    #[test]
    fn a_large_reply_streams_through_as_one_json_array() {
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
                let line = req.line();
                tokio::spawn(stream_array(
                    (0..20_000).map(move |i| (i, line.clone())),
                    reply,
                ));
            }
        });
        let _guard = rt.enter();
        let p = path.clone();
        let request = Request::ShowIpsec {
            peer: None,
            interface: Some("Tunnel7".into()),
        };
        let reply = rt
            .block_on(tokio::task::spawn_blocking(move || {
                let mut out = Vec::new();
                query(&p, &request, &mut out).map(|()| out)
            }))
            .unwrap()
            .unwrap();
        let items: Vec<(u32, String)> = serde_json::from_slice(&reply).unwrap();
        assert_eq!(items.len(), 20_000);
        assert_eq!(
            items[19_999],
            (19_999, "show ipsec --interface Tunnel7".into())
        );
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
                let _ = reply.send("[]".into()).await;
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
