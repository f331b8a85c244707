//! Configuration lines as diagnostics may show them: a running configuration holds
//! pre-shared keys, passwords, SNMP communities and TACACS/RADIUS keys, and warnings go
//! to the journal (`ExecStartPre=ikev1d check` and every start). Everything after a word
//! that introduces a secret is replaced by `<removed>`.

/// Words after which IOS writes a secret, in any command (`crypto isakmp key S`,
/// `pre-shared-key address A key S`, `username U password P`, `enable secret S`,
/// `snmp-server community C`, `tacacs-server key K`, `key-string S`, `ip ospf
/// message-digest-key 1 md5 S`, `snmp-server user U G v3 auth sha P priv aes 128 P`,
/// `ip nhrp authentication S`, `set session-key ...`).
const SECRET_WORDS: &[&str] = &[
    "key",
    "key-string",
    "password",
    "secret",
    "community",
    "pre-shared-key",
    "authentication-key",
    "message-digest-key",
    "authentication",
    "session-key",
    "auth",
    "priv",
];

/// Shortest abbreviation of a secret word taken as that word (`pass` for `password`):
/// IOS accepts any unambiguous prefix, and a shorter one might hide nothing secret.
const MIN_ABBREVIATION: usize = 4;

fn introduces_secret(word: &str) -> bool {
    let w = word.to_ascii_lowercase();
    SECRET_WORDS
        .iter()
        .any(|s| *s == w || (w.len() >= MIN_ABBREVIATION && s.starts_with(w.as_str())))
}

/// `words` joined by spaces, with whatever follows a secret-introducing word removed.
pub(crate) fn redacted(words: &[&str]) -> String {
    match words.iter().position(|w| introduces_secret(w)) {
        Some(i) if i + 1 < words.len() => format!("{} <removed>", words[..=i].join(" ")),
        _ => words.join(" "),
    }
}

/// A whole line, redacted.
pub(crate) fn redacted_line(text: &str) -> String {
    redacted(&text.split_whitespace().collect::<Vec<_>>())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_removed_wherever_ios_writes_them() {
        for (line, shown) in [
            (
                "crypto isakmp key S3cret hostname R1",
                "crypto isakmp key <removed>",
            ),
            (
                "pre-shared-key address 192.0.2.1 key K3y",
                "pre-shared-key <removed>",
            ),
            (
                "username admin privilege 15 password 0 Adm1n",
                "username admin privilege 15 password <removed>",
            ),
            (
                "username admin secret 9 $9$abc",
                "username admin secret <removed>",
            ),
            ("enable secret 5 $1$xyz", "enable secret <removed>"),
            (
                "snmp-server community Publ1c RO",
                "snmp-server community <removed>",
            ),
            ("tacacs-server key T4cacs", "tacacs-server key <removed>"),
            (" key-string Ch41n", "key-string <removed>"),
            (
                "ip ospf message-digest-key 1 md5 Osp7",
                "ip ospf message-digest-key <removed>",
            ),
            (
                "ip nhrp authentication Nhrp1",
                "ip nhrp authentication <removed>",
            ),
            (
                "snmp-server user U G v3 auth sha A1 priv aes 128 P1",
                "snmp-server user U G v3 auth <removed>",
            ),
            ("username u pass Abbr3v", "username u pass <removed>"),
            (
                "crypto map CM 10 ipsec-isakmp",
                "crypto map CM 10 ipsec-isakmp",
            ),
            ("tunnel mode gre ip", "tunnel mode gre ip"),
            ("crypto isakmp key", "crypto isakmp key"),
        ] {
            assert_eq!(redacted_line(line), shown, "{line}");
        }
    }
}
