//! IOS "type 7" secrets (`key 7 094F471A1A0A`, `service password-encryption`): an
//! obfuscation, not encryption. The algorithm is public: two decimal digits give an
//! offset into a fixed 53-character string, then each hex pair is a byte XORed with the
//! string from that offset on. Type 6 (AES with the router's master key) cannot be
//! decoded without the key, which is never in the configuration.

use crate::crypto::Secret;

const XLAT: &[u8] = b"dsfd;kfoA,.iyewrkldJKDHSUBsgvca69834ncxv9873254k;fg87";

/// The clear key of a type 7 string, or why it is not one (the message never quotes it).
pub(crate) fn decode(s: &str) -> Result<Secret, String> {
    let bad = || "not a type 7 string (two decimal digits, then hex pairs)".to_string();
    let b = s.as_bytes();
    if b.len() < 4 || !b.len().is_multiple_of(2) || !s.is_ascii() {
        return Err(bad());
    }
    let seed: usize = s[..2].parse().map_err(|_| bad())?;
    let mut clear = Vec::with_capacity(b.len() / 2 - 1);
    for (i, pair) in s.as_bytes()[2..].chunks(2).enumerate() {
        let pair = std::str::from_utf8(pair).map_err(|_| bad())?;
        let byte = u8::from_str_radix(pair, 16).map_err(|_| bad())?;
        clear.push(byte ^ XLAT[(seed + i) % XLAT.len()]);
    }
    Ok(Secret::new(clear))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn type7_strings_from_ios_decode() {
        // The same key, "cisco", as IOS writes it with different offsets.
        for s in [
            "094F471A1A0A",
            "02050D480809",
            "0822455D0A16",
            "121A0C041104",
        ] {
            assert_eq!(decode(s).unwrap().as_bytes(), b"cisco", "{s}");
        }
        for bad in [
            "",
            "09",
            "094F471A1A0",
            "XX4F471A1A0A",
            "094G471A1A0A",
            "é94F471A1A0A",
        ] {
            assert!(decode(bad).is_err(), "{bad}");
        }
    }
}
