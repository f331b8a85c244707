//! The IOS configuration vocabulary: keyword matching and the algorithm keywords of
//! `crypto isakmp policy`, `crypto ipsec transform-set` and `set pfs`. Both dialects
//! spell algorithms the IOS way (TOML: `encryption = "aes 256"`), so one table each.

use crate::crypto::{CipherAlg, DhGroup, EspAuth, EspEncr, EspTransform, HashAlg};

/// IOS accepts any unambiguous prefix of a keyword, case-insensitively (`encr` for
/// `encryption`, `int` for `interface`); an exact match wins over longer keywords
/// (`key` is not ambiguous with `keepalive`). Our keyword sets at each position are
/// subsets of IOS's, so a prefix IOS resolves uniquely resolves to the same word here.
pub(crate) fn pick<'a>(token: &str, words: &[&'a str]) -> Option<&'a str> {
    if let Some(exact) = words.iter().find(|w| w.eq_ignore_ascii_case(token)) {
        return Some(exact);
    }
    let mut candidates = words.iter().filter(|w| starts_with_ignore_case(w, token));
    match (candidates.next(), candidates.next()) {
        (Some(only), None) if !token.is_empty() => Some(only),
        _ => None,
    }
}

/// Does `word` begin with `prefix`, ASCII case aside? Compared in place: the token may
/// be a key (`crypto isakmp key K address A` tries K as a keyword), and a lowercased
/// copy would be a copy of the key left in freed memory.
pub(crate) fn starts_with_ignore_case(word: &str, prefix: &str) -> bool {
    word.len() >= prefix.len()
        && word.as_bytes()[..prefix.len()].eq_ignore_ascii_case(prefix.as_bytes())
}

/// `group N` / `set pfs groupN`: IOS numbers its groups as IKE does (RFC 2409 6.1-6.2,
/// RFC 3526, RFC 5903 for 19-21, RFC 5114 for 24).
pub(crate) fn group_from_number(n: &str) -> Result<DhGroup, String> {
    n.parse::<u16>()
        .ok()
        .and_then(DhGroup::from_id)
        .ok_or_else(|| {
            format!("unsupported DH group `{n}`: use 1, 2, 5, 14, 15, 16, 19, 20, 21 or 24")
        })
}

pub(crate) fn group_number(g: DhGroup) -> u32 {
    g.id().into()
}

fn aes_bits(bits: Option<&str>) -> Result<u16, String> {
    match bits {
        None => Ok(128),
        Some(b @ ("128" | "192" | "256")) => Ok(b.parse().expect("literal")),
        Some(b) => Err(format!("AES key size `{b}`: use 128, 192 or 256")),
    }
}

fn only<'a>(words: &[&'a str]) -> Result<Option<&'a str>, String> {
    match words {
        [] => Ok(None),
        [w] => Ok(Some(w)),
        [_, extra @ ..] => Err(format!("unexpected `{}`", extra.join(" "))),
    }
}

/// `encryption des | 3des | aes [128|192|256]` (without the keyword).
pub(crate) fn parse_cipher(words: &[&str]) -> Result<CipherAlg, String> {
    let Some((alg, rest)) = words.split_first() else {
        return Err("missing algorithm: des, 3des or aes [128|192|256]".into());
    };
    match alg.to_ascii_lowercase().as_str() {
        "des" if rest.is_empty() => Ok(CipherAlg::Des),
        "3des" if rest.is_empty() => Ok(CipherAlg::TripleDes),
        "aes" => Ok(CipherAlg::Aes(aes_bits(only(rest)?)?)),
        _ => Err(format!(
            "unsupported encryption `{}`: use des, 3des or aes [128|192|256]",
            words.join(" ")
        )),
    }
}

/// As `show running-config` prints it: `des`, `3des`, `aes`, `aes 256`.
pub(crate) fn cipher_words(c: CipherAlg) -> String {
    match c {
        CipherAlg::Des => "des".into(),
        CipherAlg::TripleDes => "3des".into(),
        CipherAlg::Aes(128) => "aes".into(),
        CipherAlg::Aes(bits) => format!("aes {bits}"),
    }
}

const HASHES: [(&str, HashAlg); 5] = [
    ("md5", HashAlg::Md5),
    ("sha", HashAlg::Sha1),
    ("sha256", HashAlg::Sha256),
    ("sha384", HashAlg::Sha384),
    ("sha512", HashAlg::Sha512),
];

pub(crate) fn parse_hash(word: &str) -> Result<HashAlg, String> {
    HASHES
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case(word))
        .map(|(_, h)| *h)
        .ok_or_else(|| format!("unsupported hash `{word}`: use md5, sha, sha256, sha384 or sha512"))
}

pub(crate) fn hash_word(h: HashAlg) -> &'static str {
    HASHES
        .iter()
        .find(|(_, x)| *x == h)
        .map(|(name, _)| *name)
        .expect("every HashAlg has a keyword")
}

const ESP_AUTHS: [(&str, EspAuth); 5] = [
    ("esp-md5-hmac", EspAuth::HmacMd5),
    ("esp-sha-hmac", EspAuth::HmacSha1),
    ("esp-sha256-hmac", EspAuth::HmacSha256),
    ("esp-sha384-hmac", EspAuth::HmacSha384),
    ("esp-sha512-hmac", EspAuth::HmacSha512),
];

pub(crate) fn parse_esp_auth(word: &str) -> Result<EspAuth, String> {
    ESP_AUTHS
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case(word))
        .map(|(_, a)| *a)
        .ok_or_else(|| {
            format!(
                "unsupported ESP integrity `{word}`: use esp-md5-hmac, esp-sha-hmac, esp-sha256-hmac, esp-sha384-hmac or esp-sha512-hmac"
            )
        })
}

/// An ESP cipher from its AES key size.
type KeyedCipher = fn(u16) -> EspEncr;

/// The ciphers that take a key size: `esp-aes`, `esp-gcm`, `esp-gmac` (128 when absent).
const KEYED_CIPHERS: [(&str, KeyedCipher); 3] = [
    ("esp-aes", EspEncr::Aes),
    ("esp-gcm", EspEncr::AesGcm),
    ("esp-gmac", EspEncr::AesGmac),
];

pub(crate) fn parse_esp_encr(words: &[&str]) -> Result<EspEncr, String> {
    let Some((alg, rest)) = words.split_first() else {
        return Err("missing ESP encryption".into());
    };
    let alg = alg.to_ascii_lowercase();
    if let Some((_, make)) = KEYED_CIPHERS.iter().find(|(name, _)| *name == alg) {
        return Ok(make(aes_bits(only(rest)?)?));
    }
    match alg.as_str() {
        "esp-des" if rest.is_empty() => Ok(EspEncr::Des),
        "esp-3des" if rest.is_empty() => Ok(EspEncr::TripleDes),
        "esp-null" if rest.is_empty() => Ok(EspEncr::Null),
        _ => Err(format!(
            "unsupported ESP encryption `{}`: use esp-des, esp-3des, esp-aes [128|192|256], esp-gcm [128|192|256], esp-gmac [128|192|256] or esp-null",
            words.join(" ")
        )),
    }
}

/// The transforms of `crypto ipsec transform-set NAME t1 [t2]`: one ESP cipher and, as
/// IOS requires, one ESP HMAC unless the cipher is `esp-gcm` or `esp-gmac` (which take
/// none); in either order (IOS prints the cipher first: `EspTransform::ios_name`).
pub(crate) fn parse_transforms(words: &[&str]) -> Result<EspTransform, String> {
    let mut encr = None;
    let mut auth = None;
    let mut i = 0;
    while i < words.len() {
        let w = words[i].to_ascii_lowercase();
        if w.ends_with("-hmac") {
            if auth.is_some() {
                return Err("more than one ESP integrity transform".into());
            }
            auth = Some(parse_esp_auth(&w)?);
            i += 1;
        } else {
            if encr.is_some() {
                return Err(format!("unexpected transform `{}`", words[i]));
            }
            let takes_bits = KEYED_CIPHERS.iter().any(|(name, _)| *name == w)
                && words
                    .get(i + 1)
                    .is_some_and(|b| b.chars().all(|c| c.is_ascii_digit()));
            let n = if takes_bits { 2 } else { 1 };
            encr = Some(parse_esp_encr(&words[i..i + n])?);
            i += n;
        }
    }
    let Some(encr) = encr else {
        return Err(
            "no ESP encryption transform (esp-aes, esp-gcm, esp-gmac, esp-null, esp-3des, esp-des)"
                .into(),
        );
    };
    Ok(EspTransform::new(encr, auth.unwrap_or(EspAuth::None))?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_resolve_like_ios() {
        let words = ["encryption", "hash", "group", "lifetime", "authentication"];
        assert_eq!(pick("encr", &words), Some("encryption"));
        assert_eq!(pick("AUTH", &words), Some("authentication"));
        assert_eq!(pick("x", &words), None);
        assert_eq!(pick("", &words), None);
        assert_eq!(pick("key", &["key", "keepalive"]), Some("key"));
        assert_eq!(pick("ke", &["key", "keepalive"]), None);
        assert_eq!(pick("keep", &["key", "keepalive"]), Some("keepalive"));
    }

    #[test]
    fn algorithms_round_trip_through_their_words() {
        for c in CipherAlg::ALL {
            let w = cipher_words(c);
            assert_eq!(parse_cipher(&w.split(' ').collect::<Vec<_>>()), Ok(c));
        }
        for h in HashAlg::ALL {
            assert_eq!(parse_hash(hash_word(h)), Ok(h));
        }
        for g in DhGroup::ALL {
            assert_eq!(group_from_number(&group_number(g).to_string()), Ok(g));
        }
        for t in EspTransform::all() {
            let text = t.ios_name();
            assert_eq!(
                parse_transforms(&text.split(' ').collect::<Vec<_>>()),
                Ok(t),
                "{text}"
            );
        }
        for a in EspAuth::ALL {
            assert_eq!(parse_esp_auth(a.ios_name()), Ok(a));
        }
    }

    /// Cisco's "next generation encryption" words, as an upgraded router has them.
    #[test]
    fn ios_next_generation_words() {
        let parse =
            |s: &str| parse_transforms(&s.split(' ').collect::<Vec<_>>()).map(|t| (t.encr, t.auth));
        assert_eq!(
            parse("esp-gcm 256"),
            Ok((EspEncr::AesGcm(256), EspAuth::None))
        );
        assert_eq!(parse("esp-gcm"), Ok((EspEncr::AesGcm(128), EspAuth::None)));
        assert_eq!(
            parse("ESP-GCM 192"),
            Ok((EspEncr::AesGcm(192), EspAuth::None))
        );
        assert_eq!(
            parse("esp-gmac"),
            Ok((EspEncr::AesGmac(128), EspAuth::None))
        );
        assert_eq!(
            parse("esp-aes 256 esp-sha384-hmac"),
            Ok((EspEncr::Aes(256), EspAuth::HmacSha384))
        );
        assert_eq!(
            parse("esp-sha512-hmac esp-aes 256"),
            Ok((EspEncr::Aes(256), EspAuth::HmacSha512))
        );
        assert_eq!(
            parse("esp-null esp-sha256-hmac"),
            Ok((EspEncr::Null, EspAuth::HmacSha256))
        );
        assert_eq!(group_from_number("19"), Ok(DhGroup::Ecp256));
        assert_eq!(group_from_number("20"), Ok(DhGroup::Ecp384));
        assert_eq!(group_from_number("21"), Ok(DhGroup::Ecp521));
        assert_eq!(group_from_number("24"), Ok(DhGroup::Modp2048s256));
    }

    #[test]
    fn bad_algorithms_are_named() {
        assert!(parse_cipher(&["aes", "512"]).unwrap_err().contains("512"));
        assert!(parse_cipher(&["blowfish"])
            .unwrap_err()
            .contains("blowfish"));
        assert!(parse_hash("sha1").unwrap_err().contains("sha1"));
        assert!(group_from_number("22")
            .unwrap_err()
            .contains("19, 20, 21 or 24"));
        assert!(group_from_number("x").is_err());
        assert!(parse_transforms(&["esp-aes", "esp-gcm"]).is_err());
        assert!(parse_transforms(&["esp-sha-hmac"])
            .unwrap_err()
            .contains("no ESP encryption"));
        assert!(parse_transforms(&["esp-aes"])
            .unwrap_err()
            .contains("ESP without integrity"));
        assert!(parse_transforms(&["esp-null"])
            .unwrap_err()
            .contains("ESP without integrity"));
        assert!(parse_transforms(&["esp-gcm", "256", "esp-sha256-hmac"])
            .unwrap_err()
            .contains("take no ESP integrity transform"));
        assert!(parse_transforms(&["esp-gmac", "esp-sha-hmac"]).is_err());
        assert!(parse_transforms(&["esp-gcm", "512"])
            .unwrap_err()
            .contains("512"));
        assert!(parse_transforms(&["esp-aes", "esp-des", "esp-sha-hmac"]).is_err());
    }
}
