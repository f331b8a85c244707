//! What XFRM cannot do itself, done by the kernel's netfilter through the `nft`
//! command: `ip tcp adjust-mss` / `ipv6 tcp adjust-mss` (TCP SYNs crossing the tunnel
//! interface, forwarded or the host's own, in either direction, get at most that MSS:
//! `tcp option maxseg size set`) and `crypto ipsec df-bit set` (the DF bit of every
//! outer IPv4 packet to the peer; XFRM only copies it or clears it).
//!
//! Each tunnel that needs a rule gets a table of its own, `inet ikev1d_<interface>`,
//! replaced as a whole in one `nft -f` transaction and deleted with the tunnel, so a
//! restarted daemon replaces a crashed one's leftovers table by table, as it does with
//! XFRM states, and never touches another table.

use crate::dataplane::{DfBit, TunnelSpec};
use std::collections::HashSet;
use std::io::{self, Write};
use std::net::IpAddr;
use std::process::{Command, Stdio};

const NFT: &str = "nft";
const TABLE_PREFIX: &str = "ikev1d_";

/// The tunnel's table name.
pub(super) fn table(tunnel: &str) -> String {
    format!("{TABLE_PREFIX}{tunnel}")
}

/// The tunnel's rules, or `None` when its lines need none.
pub(super) fn ruleset(spec: &TunnelSpec) -> Option<String> {
    let o = &spec.options;
    let name = &spec.name;
    // `syn / syn,rst`: SYN set, RST clear, as IOS clamps SYN and SYN-ACK.
    let clamp = |dir: &str, family: &str, mss: u16| {
        format!(
            "\t\t{dir}name \"{name}\" meta nfproto {family} tcp flags syn / syn,rst \
             tcp option maxseg size > {mss} tcp option maxseg size set {mss}\n"
        )
    };
    let mut pre = String::new();
    let mut post = String::new();
    for (family, mss) in [("ipv4", o.adjust_mss_v4), ("ipv6", o.adjust_mss_v6)] {
        if let Some(mss) = mss {
            pre += &clamp("iif", family, mss);
            post += &clamp("oif", family, mss);
        }
    }
    // IPv6 has no DF bit: `df-bit` only concerns IPv4 outer headers.
    if let (DfBit::Set, IpAddr::V4(local), IpAddr::V4(peer)) = (o.df_bit, spec.local, spec.peer) {
        post +=
            &format!("\t\tip saddr {local} ip daddr {peer} ip frag-off set ip frag-off | 0x4000\n");
    }
    if pre.is_empty() && post.is_empty() {
        return None;
    }
    let chain = |hook: &str, rules: &str| {
        if rules.is_empty() {
            String::new()
        } else {
            format!(
                "\tchain {hook} {{\n\t\ttype filter hook {hook} priority mangle; policy accept;\n{rules}\t}}\n"
            )
        }
    };
    Some(format!(
        "table inet {} {{\n{}{}}}\n",
        table(name),
        chain("prerouting", &pre),
        chain("postrouting", &post)
    ))
}

/// Replace the tunnel's table with `ruleset`, or delete it (`None`), in one
/// transaction.
pub(super) fn replace(tunnel: &str, ruleset: Option<&str>) -> io::Result<()> {
    let t = table(tunnel);
    // Creating it first makes the delete succeed whether or not it existed.
    let script = format!(
        "table inet {t}\ndelete table inet {t}\n{}",
        ruleset.unwrap_or("")
    );
    run(&["-f", "-"], &script).map(drop)
}

/// The tables a previous instance left (`ikev1d_*`), by tunnel name; none when the
/// command is missing (then nothing can have made them).
pub(super) fn leftovers() -> HashSet<String> {
    match run(&["list", "tables", "inet"], "") {
        Ok(out) => out
            .lines()
            .filter_map(|l| l.strip_prefix("table inet ")?.strip_prefix(TABLE_PREFIX))
            .map(|t| t.trim().to_string())
            .collect(),
        Err(_) => HashSet::new(),
    }
}

fn run(args: &[&str], stdin: &str) -> io::Result<String> {
    let mut child = Command::new(NFT)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| match e.kind() {
            io::ErrorKind::NotFound => io::Error::new(
                e.kind(),
                "`ip tcp adjust-mss` and `crypto ipsec df-bit set` need the nft command \
                 on the kernel data path (Debian: apt install nftables)",
            ),
            _ => e,
        })?;
    if let Some(mut input) = child.stdin.take() {
        input.write_all(stdin.as_bytes())?;
    }
    let out = child.wait_with_output()?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(io::Error::other(format!(
            "nft {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dataplane::InterfaceOptions;

    fn spec(options: InterfaceOptions) -> TunnelSpec {
        TunnelSpec::for_test(options)
    }

    #[test]
    fn a_tunnel_without_such_lines_needs_no_table() {
        assert_eq!(ruleset(&spec(InterfaceOptions::default())), None);
        let mut v6 = spec(InterfaceOptions {
            df_bit: DfBit::Set,
            ..InterfaceOptions::default()
        });
        v6.local = "2001:db8::2".parse().unwrap();
        v6.peer = "2001:db8::3".parse().unwrap();
        assert_eq!(ruleset(&v6), None, "no DF bit in IPv6");
    }

    #[test]
    fn adjust_mss_clamps_both_directions_and_df_bit_set_marks_the_outer_packets() {
        let r = ruleset(&spec(InterfaceOptions {
            adjust_mss_v4: Some(1360),
            adjust_mss_v6: Some(1340),
            df_bit: DfBit::Set,
            ..InterfaceOptions::default()
        }))
        .unwrap();
        assert!(r.starts_with("table inet ikev1d_Tunnel5 {\n\tchain prerouting {\n\t\ttype filter hook prerouting priority mangle;"), "{r}");
        for rule in [
            "iifname \"Tunnel5\" meta nfproto ipv4 tcp flags syn / syn,rst tcp option maxseg size > 1360 tcp option maxseg size set 1360",
            "oifname \"Tunnel5\" meta nfproto ipv4 tcp flags syn / syn,rst tcp option maxseg size > 1360 tcp option maxseg size set 1360",
            "oifname \"Tunnel5\" meta nfproto ipv6 tcp flags syn / syn,rst tcp option maxseg size > 1340 tcp option maxseg size set 1340",
            "ip saddr 192.0.2.2 ip daddr 192.0.2.3 ip frag-off set ip frag-off | 0x4000",
        ] {
            assert!(r.contains(rule), "{rule}\n{r}");
        }
    }
}
