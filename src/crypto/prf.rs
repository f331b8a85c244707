//! Hash algorithms and their HMAC PRFs (RFC 2409 section 4: prf = HMAC of the negotiated hash).

/// Phase 1 hash / PRF (IKE attribute 2 values: 1 MD5, 2 SHA, 4 SHA2-256, 5 SHA2-384, 6 SHA2-512).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HashAlg {
    Md5,
    Sha1,
    Sha256,
    Sha384,
    Sha512,
}

impl HashAlg {
    pub const ALL: [HashAlg; 5] = [
        HashAlg::Md5,
        HashAlg::Sha1,
        HashAlg::Sha256,
        HashAlg::Sha384,
        HashAlg::Sha512,
    ];

    /// IKE attribute value (RFC 2409 appendix A, RFC 4868 for SHA-2).
    pub fn ike_id(self) -> u16 {
        todo!()
    }
    pub fn from_ike_id(id: u16) -> Option<Self> {
        let _ = id;
        todo!()
    }
    /// Output length in bytes.
    pub fn output_len(self) -> usize {
        todo!()
    }
    /// Hash block length in bytes (the IV derivation truncates the hash to the cipher block).
    pub fn hash(self, parts: &[&[u8]]) -> Vec<u8> {
        let _ = parts;
        todo!()
    }
    /// HMAC(key, parts[0] | parts[1] | ...).
    pub fn prf(self, key: &[u8], parts: &[&[u8]]) -> Vec<u8> {
        let _ = (key, parts);
        todo!()
    }
    /// IOS name as `show crypto isakmp sa detail` prints it: "md5", "sha", "sha256", ...
    pub fn ios_name(self) -> &'static str {
        todo!()
    }
}
