//! docs/troubleshooting.md stays true: every ikev1d line quoted in its "Responder" and
//! "Initiator" tables is a line the engine logs, level and text as the daemon prints
//! them, when the seed's configuration comes up (R2 = side a initiates, R3 = side b
//! responds). Message IDs, SPIs and conn-ids vary from run to run: in both, a number of
//! four or more digits and the hex digits after `0x` match any.

use super::util::*;
use std::time::Duration;

const DOC: &str = include_str!("../../../docs/troubleshooting.md");

/// Printed by the daemon, not the engine: tests/netns-userspace.sh finds it in a real
/// daemon's log.
const DAEMON_LINES: &[&str] = &["INFO ikev1d ready "];

/// The `DEBUG ...` / `INFO ...` quotes in the ikev1d column (the third) of the table
/// under `### SECTION `.
fn quotes(section: &str) -> Vec<&'static str> {
    let heading = format!("### {section} ");
    let body = DOC
        .split_once(heading.as_str())
        .unwrap_or_else(|| panic!("docs/troubleshooting.md has no {heading:?}"))
        .1;
    let body = body.split_once("\n### ").map_or(body, |(table, _)| table);
    body.lines()
        .filter_map(|row| row.strip_prefix('|')?.split('|').nth(2))
        .flat_map(|cell| cell.split('`').skip(1).step_by(2))
        .filter(|q| {
            ["DEBUG ", "INFO ", "WARN ", "ERROR "]
                .iter()
                .any(|l| q.starts_with(l))
        })
        .filter(|q| !DAEMON_LINES.iter().any(|d| q.starts_with(d)))
        .collect()
}

/// Whitespace runs as one space, `0x` + hex digits as `0x#`, 4+ digits as `#`.
fn normalize(line: &str) -> String {
    let words: Vec<&str> = line.split_whitespace().collect();
    let line = words.join(" ");
    let mut out = String::new();
    let mut rest = line.as_str();
    while let Some(c) = rest.chars().next() {
        if let Some(hex) = rest.strip_prefix("0x") {
            out.push_str("0x#");
            rest = hex.trim_start_matches(|c: char| c.is_ascii_hexdigit());
        } else if c.is_ascii_digit() {
            let digits = rest.len() - rest.trim_start_matches(|c: char| c.is_ascii_digit()).len();
            out.push_str(if digits >= 4 { "#" } else { &rest[..digits] });
            rest = &rest[digits..];
        } else {
            out.push(c);
            rest = &rest[c.len_utf8()..];
        }
    }
    out
}

fn check_section(section: &str, side: &Side) {
    let logged: Vec<String> = side
        .logs
        .iter()
        .map(|ev| normalize(&format!("{} {ev}", ev.level())))
        .collect();
    let quoted = quotes(section);
    assert!(
        quoted.len() > 10,
        "{section}: only {} quotes found",
        quoted.len()
    );
    let missing: Vec<&&str> = quoted
        .iter()
        .filter(|q| !logged.contains(&normalize(q)))
        .collect();
    assert!(
        missing.is_empty(),
        "{section} table quotes lines the {} does not log: {missing:#?}\nit logs: {logged:#?}",
        section.to_lowercase()
    );
}

#[test]
fn every_quoted_line_is_logged_by_the_seed_exchange() {
    let mut pair = Pair::reference();
    pair.initiate(false);
    pair.run_for(Duration::from_secs(1));
    pair.assert_agree();
    check_section("Responder", &pair.b);
    check_section("Initiator", &pair.a);
}

#[test]
fn normalize_hides_what_varies() {
    assert_eq!(
        normalize("DEBUG Node 684392623,  Old State = IKE_QM_READY"),
        "DEBUG Node #, Old State = IKE_QM_READY"
    );
    assert_eq!(
        normalize("inbound spi 0x9100D872(2432751730), port 500, SA 1001"),
        "inbound spi 0x#(#), port 500, SA #"
    );
}
