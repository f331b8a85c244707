//! Where the daemon's log goes. Under systemd, stderr is a stream to the journal
//! (`JOURNAL_STREAM` names it, systemd.exec(5)): then every event goes to journald
//! natively, its fields as journal fields (`PEER`, `CONN_ID`, `MSG_ID`, `TUNNEL`,
//! `SPI_IN`, `SPI_OUT`), so that `journalctl -u ikev1d PEER=2001:db8::3` shows one
//! peer. Elsewhere each event is one line on stderr: the IOS text first, the fields
//! after it.

use std::fmt;
use tracing::{Event, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::time::{FormatTime, SystemTime};
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields, FormattedFields};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::EnvFilter;

/// Install the subscriber: journald when stderr is the journal, else stderr lines.
pub fn init(filter: EnvFilter) {
    let registry = tracing_subscriber::registry().with(filter);
    let journald = stderr_is_the_journal()
        .then(|| tracing_journald::layer().ok())
        .flatten();
    match journald {
        // Field names as they are (no `F_` prefix): journalctl filters read like IOS
        // words (`PEER=`, `CONN_ID=`).
        Some(layer) => registry
            .with(
                layer
                    .with_field_prefix(None)
                    .with_syslog_identifier("ikev1d".into()),
            )
            .init(),
        None => registry
            .with(
                tracing_subscriber::fmt::layer()
                    .event_format(IosLines)
                    .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
                    .with_writer(std::io::stderr),
            )
            .init(),
    }
}

/// systemd.exec(5): `JOURNAL_STREAM` is the device and inode of the stream the journal
/// reads; stderr is that stream unless it was redirected since.
fn stderr_is_the_journal() -> bool {
    let Some(stream) = std::env::var_os("JOURNAL_STREAM") else {
        return false;
    };
    let Ok(stat) = nix::sys::stat::fstat(std::io::stderr()) else {
        return false;
    };
    stream.to_string_lossy() == format!("{}:{}", stat.st_dev, stat.st_ino)
}

/// `TIME LEVEL message fields span-fields`: the line starts as IOS's does, with the
/// words of `debug crypto isakmp`; the SA's fields follow for grep and scripts.
struct IosLines;

impl<S, N> FormatEvent<S, N> for IosLines
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        SystemTime.format_time(&mut writer)?;
        write!(writer, " {:>5} ", event.metadata().level())?;
        ctx.format_fields(writer.by_ref(), event)?;
        for span in ctx
            .event_scope()
            .into_iter()
            .flat_map(tracing_subscriber::registry::Scope::from_root)
        {
            if let Some(fields) = span.extensions().get::<FormattedFields<N>>() {
                if !fields.is_empty() {
                    write!(writer, " {}", fields.fields)?;
                }
            }
        }
        writeln!(writer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::daemon::Captured;

    #[test]
    fn a_line_starts_with_the_ios_words_and_ends_with_the_sa_fields() {
        let out = Captured::default();
        let sink = out.clone();
        let subscriber = tracing_subscriber::registry().with(
            tracing_subscriber::fmt::layer()
                .event_format(IosLines)
                .with_ansi(false)
                .with_writer(move || sink.clone()),
        );
        tracing::subscriber::with_default(subscriber, || {
            let span = tracing::error_span!("isakmp", peer = %"2001:db8::3", conn_id = 1001);
            let _in = span.enter();
            tracing::debug!(
                msg_id = 42u32,
                "Old State = IKE_I_MM1 New State = IKE_I_MM2"
            );
        });
        let text = out.text();
        let line = text.split_once(' ').unwrap().1;
        assert_eq!(
            line,
            "DEBUG Old State = IKE_I_MM1 New State = IKE_I_MM2 msg_id=42 peer=2001:db8::3 conn_id=1001\n"
        );
    }
}
