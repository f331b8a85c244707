//! ESP transforms (RFC 4303 framing; RFC 2405/2451/3602 CBC ciphers, RFC 4106 AES-GCM,
//! RFC 4543 AES-GMAC, RFC 2410 NULL; RFC 2403/2404/4868 HMAC ICVs).
//! Per-packet work is in place in the caller's buffer: no allocation per packet.

use super::cipher::CbcKey;
use super::gcm::{self, GcmKey};
use super::prf::{HmacKey, MAX_OUTPUT_LEN};
use super::{CipherAlg, CryptoError, HashAlg};
use std::ops::Range;

/// ESP encryption: IPsec transform ID (RFC 2407 4.4.4, IANA "IPsec ESP Transform
/// Identifiers") and, for AES, the key length in bits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EspEncr {
    /// 2 ESP_DES
    Des,
    /// 3 ESP_3DES
    TripleDes,
    /// 12 ESP_AES (CBC, RFC 3602), key bits.
    Aes(u16),
    /// 20 ESP_AES-GCM with a 16-octet ICV (RFC 4106), key bits: a combined-mode
    /// cipher that is its own integrity transform.
    AesGcm(u16),
    /// 23 ESP_NULL_AUTH_AES-GMAC (RFC 4543), key bits: integrity only, the payload
    /// travels in clear.
    AesGmac(u16),
    /// 11 ESP_NULL (RFC 2410): no confidentiality, only with an HMAC.
    Null,
}

/// ESP integrity: IPsec DOI attribute 5 (RFC 2407 4.5, IANA "IPsec Authentication
/// Algorithm"), or none where a combined-mode cipher protects the packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EspAuth {
    /// 1, 96-bit ICV
    HmacMd5,
    /// 2, 96-bit ICV
    HmacSha1,
    /// 5, 128-bit ICV (RFC 4868)
    HmacSha256,
    /// 6, 192-bit ICV (RFC 4868)
    HmacSha384,
    /// 7, 256-bit ICV (RFC 4868)
    HmacSha512,
    /// No separate integrity transform: `esp-gcm` and `esp-gmac` authenticate
    /// themselves, and RFC 4106 8.4 / RFC 4543 forbid the attribute with them.
    None,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct EspTransform {
    pub encr: EspEncr,
    pub auth: EspAuth,
}

impl EspEncr {
    pub const ALL: [EspEncr; 12] = [
        EspEncr::Des,
        EspEncr::TripleDes,
        EspEncr::Aes(128),
        EspEncr::Aes(192),
        EspEncr::Aes(256),
        EspEncr::AesGcm(128),
        EspEncr::AesGcm(192),
        EspEncr::AesGcm(256),
        EspEncr::AesGmac(128),
        EspEncr::AesGmac(192),
        EspEncr::AesGmac(256),
        EspEncr::Null,
    ];
    /// IPsec DOI transform ID (RFC 2407 4.4.4).
    pub fn transform_id(self) -> u8 {
        match self {
            EspEncr::Des => 2,
            EspEncr::TripleDes => 3,
            EspEncr::Null => 11,
            EspEncr::Aes(_) => 12,
            EspEncr::AesGcm(_) => 20,
            EspEncr::AesGmac(_) => 23,
        }
    }
    pub fn from_transform_id(id: u8, key_bits: Option<u16>) -> Option<Self> {
        // RFC 3602 section 5: ESP_AES with key length 128/192/256, 128 when absent.
        // RFC 4106 8.4 and RFC 4543 5: GCM and GMAC always carry the key length.
        match (id, key_bits) {
            (2, None) => Some(EspEncr::Des),
            (3, None) => Some(EspEncr::TripleDes),
            (11, None) => Some(EspEncr::Null),
            (12, None) => Some(EspEncr::Aes(128)),
            (12, Some(bits @ (128 | 192 | 256))) => Some(EspEncr::Aes(bits)),
            (20, Some(bits @ (128 | 192 | 256))) => Some(EspEncr::AesGcm(bits)),
            (23, Some(bits @ (128 | 192 | 256))) => Some(EspEncr::AesGmac(bits)),
            _ => None,
        }
    }
    /// Key-length attribute (6) to send: the AES key size, salt not counted.
    pub fn key_length_attr(self) -> Option<u16> {
        match self {
            EspEncr::Aes(bits) | EspEncr::AesGcm(bits) | EspEncr::AesGmac(bits) => Some(bits),
            EspEncr::Des | EspEncr::TripleDes | EspEncr::Null => None,
        }
    }
    /// KEYMAT bytes of the encryption key: GCM and GMAC take a 4-byte salt after the
    /// AES key (RFC 4106 8.1, RFC 4543 3.2), so 20, 28 or 36.
    pub fn key_len(self) -> usize {
        match self {
            EspEncr::AesGcm(bits) | EspEncr::AesGmac(bits) => usize::from(bits) / 8 + gcm::SALT_LEN,
            EspEncr::Null => 0,
            EspEncr::Des | EspEncr::TripleDes | EspEncr::Aes(_) => {
                self.cbc().map_or(0, CipherAlg::key_len)
            }
        }
    }
    /// A combined-mode cipher: it carries its own ICV, no integrity transform.
    pub fn is_combined(self) -> bool {
        matches!(self, EspEncr::AesGcm(_) | EspEncr::AesGmac(_))
    }
    /// Bytes of the IV in each packet: one block in CBC, 8 for GCM/GMAC, none for NULL.
    pub fn iv_len(self) -> usize {
        match self {
            EspEncr::AesGcm(_) | EspEncr::AesGmac(_) => gcm::IV_LEN,
            EspEncr::Null => 0,
            EspEncr::Des | EspEncr::TripleDes | EspEncr::Aes(_) => self.block_len(),
        }
    }
    /// What payload, padding, pad length and next header are aligned to: the cipher
    /// block in CBC, else the 4 bytes RFC 4303 2.4 asks for.
    pub fn block_len(self) -> usize {
        self.cbc().map_or(4, CipherAlg::block_len)
    }
    /// The ICV a combined-mode cipher appends.
    pub fn icv_len(self) -> usize {
        if self.is_combined() {
            gcm::ICV_LEN
        } else {
            0
        }
    }
    /// IOS transform-set keyword: "esp-des", "esp-3des", "esp-aes", "esp-aes 256",
    /// "esp-gcm", "esp-gcm 256", "esp-gmac", "esp-null". IOS shows the default 128-bit
    /// key size without a number.
    pub fn ios_name(self) -> &'static str {
        match self {
            EspEncr::Des => "esp-des",
            EspEncr::TripleDes => "esp-3des",
            EspEncr::Aes(192) => "esp-aes 192",
            EspEncr::Aes(256) => "esp-aes 256",
            EspEncr::Aes(_) => "esp-aes",
            EspEncr::AesGcm(192) => "esp-gcm 192",
            EspEncr::AesGcm(256) => "esp-gcm 256",
            EspEncr::AesGcm(_) => "esp-gcm",
            EspEncr::AesGmac(192) => "esp-gmac 192",
            EspEncr::AesGmac(256) => "esp-gmac 256",
            EspEncr::AesGmac(_) => "esp-gmac",
            EspEncr::Null => "esp-null",
        }
    }
    /// Linux XFRM algorithm name: "cbc(aes)", "rfc4106(gcm(aes))" (an AEAD),
    /// "rfc4543(gcm(aes))" (an AEAD), "ecb(cipher_null)".
    pub fn xfrm_name(self) -> &'static str {
        match self {
            EspEncr::Des => "cbc(des)",
            EspEncr::TripleDes => "cbc(des3_ede)",
            EspEncr::Aes(_) => "cbc(aes)",
            EspEncr::AesGcm(_) => "rfc4106(gcm(aes))",
            EspEncr::AesGmac(_) => "rfc4543(gcm(aes))",
            EspEncr::Null => "ecb(cipher_null)",
        }
    }
    /// The block cipher of a CBC transform (ESP uses the phase 1 ciphers).
    pub fn cbc(self) -> Option<CipherAlg> {
        match self {
            EspEncr::Des => Some(CipherAlg::Des),
            EspEncr::TripleDes => Some(CipherAlg::TripleDes),
            EspEncr::Aes(bits) => Some(CipherAlg::Aes(bits)),
            EspEncr::AesGcm(_) | EspEncr::AesGmac(_) | EspEncr::Null => None,
        }
    }
}

impl EspAuth {
    /// The integrity transforms with an attribute value.
    pub const ALL: [EspAuth; 5] = [
        EspAuth::HmacMd5,
        EspAuth::HmacSha1,
        EspAuth::HmacSha256,
        EspAuth::HmacSha384,
        EspAuth::HmacSha512,
    ];
    /// IPsec DOI attribute 5 value; none is sent with a combined-mode cipher.
    pub fn attr_id(self) -> Option<u16> {
        match self {
            EspAuth::HmacMd5 => Some(1),
            EspAuth::HmacSha1 => Some(2),
            EspAuth::HmacSha256 => Some(5),
            EspAuth::HmacSha384 => Some(6),
            EspAuth::HmacSha512 => Some(7),
            EspAuth::None => None,
        }
    }
    pub fn from_attr_id(id: u16) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.attr_id() == Some(id))
    }
    /// The key is as long as the hash output (RFC 2403, 2404, 4868 section 2.1.1).
    pub fn key_len(self) -> usize {
        self.hash().map_or(0, HashAlg::output_len)
    }
    /// RFC 4868 2.3: SHA-2 HMACs are truncated to half the hash, MD5/SHA-1 to 96 bits.
    pub fn icv_len(self) -> usize {
        match self {
            EspAuth::HmacMd5 | EspAuth::HmacSha1 => 12,
            EspAuth::HmacSha256 => 16,
            EspAuth::HmacSha384 => 24,
            EspAuth::HmacSha512 => 32,
            EspAuth::None => 0,
        }
    }
    /// IOS keyword: "esp-md5-hmac", "esp-sha-hmac", "esp-sha256-hmac",
    /// "esp-sha384-hmac", "esp-sha512-hmac"; empty for none.
    pub fn ios_name(self) -> &'static str {
        match self {
            EspAuth::HmacMd5 => "esp-md5-hmac",
            EspAuth::HmacSha1 => "esp-sha-hmac",
            EspAuth::HmacSha256 => "esp-sha256-hmac",
            EspAuth::HmacSha384 => "esp-sha384-hmac",
            EspAuth::HmacSha512 => "esp-sha512-hmac",
            EspAuth::None => "",
        }
    }
    /// Linux XFRM algorithm name: "hmac(md5)", "hmac(sha1)", "hmac(sha256)", ...
    pub fn xfrm_name(self) -> &'static str {
        match self {
            EspAuth::HmacMd5 => "hmac(md5)",
            EspAuth::HmacSha1 => "hmac(sha1)",
            EspAuth::HmacSha256 => "hmac(sha256)",
            EspAuth::HmacSha384 => "hmac(sha384)",
            EspAuth::HmacSha512 => "hmac(sha512)",
            EspAuth::None => "digest_null",
        }
    }
    /// The hash under the HMAC.
    pub fn hash(self) -> Option<HashAlg> {
        match self {
            EspAuth::HmacMd5 => Some(HashAlg::Md5),
            EspAuth::HmacSha1 => Some(HashAlg::Sha1),
            EspAuth::HmacSha256 => Some(HashAlg::Sha256),
            EspAuth::HmacSha384 => Some(HashAlg::Sha384),
            EspAuth::HmacSha512 => Some(HashAlg::Sha512),
            EspAuth::None => None,
        }
    }
}

impl EspTransform {
    /// IOS's transform-set rules: a combined-mode cipher (`esp-gcm`, `esp-gmac`) takes
    /// no integrity transform; every other cipher, `esp-null` included, needs one.
    pub fn new(encr: EspEncr, auth: EspAuth) -> Result<Self, &'static str> {
        match (encr.is_combined(), auth) {
            (true, EspAuth::None) => Ok(EspTransform { encr, auth }),
            (true, _) => Err(
                "esp-gcm and esp-gmac authenticate the packet themselves: they take no ESP integrity transform",
            ),
            (false, EspAuth::None) => Err(
                "ESP without integrity is not supported: add esp-sha256-hmac (or use esp-gcm)",
            ),
            (false, _) => Ok(EspTransform { encr, auth }),
        }
    }
    /// Every transform `new` accepts.
    pub fn all() -> impl Iterator<Item = EspTransform> {
        EspEncr::ALL.into_iter().flat_map(|encr| {
            EspAuth::ALL
                .into_iter()
                .chain([EspAuth::None])
                .filter_map(move |auth| EspTransform::new(encr, auth).ok())
        })
    }
    /// KEYMAT bytes needed: encryption key (with salt) then authentication key
    /// (RFC 2409 5.5).
    pub fn keymat_len(self) -> usize {
        self.encr.key_len() + self.auth.key_len()
    }
    /// Bytes of the ICV after the packet.
    pub fn icv_len(self) -> usize {
        self.encr.icv_len() + self.auth.icv_len()
    }
    /// The transform-set words: "esp-gcm 256", "esp-aes 256 esp-sha384-hmac".
    pub fn ios_name(self) -> String {
        match self.auth {
            EspAuth::None => self.encr.ios_name().to_string(),
            auth => format!("{} {}", self.encr.ios_name(), auth.ios_name()),
        }
    }
}

/// Result of `EspSa::open`: where the inner packet is in the caller's buffer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Opened {
    pub seq: u32,
    pub next_header: u8,
    pub payload: Range<usize>,
}

/// How the packet is protected.
enum Protection {
    /// CBC encryption, then an HMAC over the whole packet (RFC 4303 3.3.2).
    Cbc(CbcKey, HmacKey),
    /// No encryption, an HMAC over the whole packet (RFC 2410).
    Null(HmacKey),
    /// GCM over the payload with SPI and sequence number as AAD (RFC 4106 5).
    Gcm(GcmKey),
    /// GMAC over the whole packet, payload in clear (RFC 4543 3.5).
    Gmac(GcmKey),
}

/// One direction of an ESP SA with prepared key schedules. `Debug` shows the SPI only.
/// `Send + Sync`: the userspace data path shares it between threads; `seal` and `open`
/// take `&self` and work on clones of the prepared states.
pub struct EspSa {
    pub spi: u32,
    pub transform: EspTransform,
    protection: Protection,
}

impl std::fmt::Debug for EspSa {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "EspSa(spi={:#010x}, {:?})", self.spi, self.transform)
    }
}

/// SPI (4) and sequence number (4) precede the IV (RFC 4303 section 2).
const SPI_SEQ_LEN: usize = 8;
/// Pad Length and Next Header close the encrypted part (RFC 4303 section 2.4).
const PAD_LEN_NEXT_HEADER: usize = 2;

impl EspSa {
    pub fn new(
        spi: u32,
        transform: EspTransform,
        enc_key: &[u8],
        auth_key: &[u8],
    ) -> Result<Self, CryptoError> {
        let check = |key: &[u8], expected: usize| {
            if key.len() == expected {
                Ok(())
            } else {
                Err(CryptoError::KeyLength {
                    expected,
                    got: key.len(),
                })
            }
        };
        check(enc_key, transform.encr.key_len())?;
        check(auth_key, transform.auth.key_len())?;
        let mac = || {
            transform
                .auth
                .hash()
                .map(|h| HmacKey::new(h, auth_key))
                .ok_or(CryptoError::Malformed("ESP without integrity"))
        };
        let protection = match transform.encr {
            EspEncr::AesGcm(_) => Protection::Gcm(GcmKey::new(enc_key)?),
            EspEncr::AesGmac(_) => Protection::Gmac(GcmKey::new(enc_key)?),
            EspEncr::Null => Protection::Null(mac()?),
            EspEncr::Des | EspEncr::TripleDes | EspEncr::Aes(_) => {
                let cipher = transform.encr.cbc().expect("a CBC cipher");
                Protection::Cbc(CbcKey::new(cipher, enc_key)?, mac()?)
            }
        };
        Ok(EspSa {
            spi,
            transform,
            protection,
        })
    }
    /// Bytes before the payload: SPI, sequence number, IV.
    pub fn header_len(&self) -> usize {
        SPI_SEQ_LEN + self.transform.encr.iv_len()
    }
    /// Random bytes `seal` takes as the IV: one block for CBC (RFC 4303 3.3.2: an
    /// unpredictable IV); none for GCM and GMAC, whose IV is the sequence number, nor
    /// for NULL.
    pub fn random_iv_len(&self) -> usize {
        match self.protection {
            Protection::Cbc(..) => self.transform.encr.iv_len(),
            _ => 0,
        }
    }
    /// Largest number of bytes `seal` adds after the payload (padding, pad length, next header, ICV).
    pub fn max_trailer_len(&self) -> usize {
        self.transform.encr.block_len() - 1 + PAD_LEN_NEXT_HEADER + self.transform.icv_len()
    }
    /// Build an ESP packet in place. The inner packet is at
    /// `buf[header_len()..header_len() + payload_len]`; `iv` is `random_iv_len()`
    /// random bytes. Returns the ESP packet length (`buf[..len]`).
    ///
    /// GCM and GMAC take the sequence number, zero-extended to 64 bits, as the explicit
    /// IV (RFC 4106 3.1: unique per packet under one key): the caller never repeats a
    /// sequence number under a key (RFC 4303 3.3.3, the SA is spent before it cycles),
    /// so neither does the IV.
    pub fn seal(
        &self,
        seq: u32,
        iv: &[u8],
        next_header: u8,
        buf: &mut [u8],
        payload_len: usize,
    ) -> Result<usize, CryptoError> {
        let align = self.transform.encr.block_len();
        let icv_len = self.transform.icv_len();
        let header = self.header_len();
        if iv.len() != self.random_iv_len() {
            return Err(CryptoError::Malformed("IV is not one cipher block"));
        }
        if payload_len > buf.len() {
            return Err(CryptoError::Malformed(
                "buffer too small for the ESP trailer",
            ));
        }
        // RFC 4303 section 2.4: payload | padding | pad length | next header fills whole
        // cipher blocks (8 or 16 bytes in CBC), or 4-byte words.
        let pad = (align - (payload_len + PAD_LEN_NEXT_HEADER) % align) % align;
        let encrypted = payload_len + pad + PAD_LEN_NEXT_HEADER;
        let total = header + encrypted + icv_len;
        if buf.len() < total {
            return Err(CryptoError::Malformed(
                "buffer too small for the ESP trailer",
            ));
        }
        buf[..4].copy_from_slice(&self.spi.to_be_bytes());
        buf[4..8].copy_from_slice(&seq.to_be_bytes());
        match self.protection {
            Protection::Gcm(_) | Protection::Gmac(_) => {
                buf[SPI_SEQ_LEN..header].copy_from_slice(&u64::from(seq).to_be_bytes())
            }
            _ => buf[SPI_SEQ_LEN..header].copy_from_slice(iv),
        }
        let trailer = header + payload_len;
        // Default padding: 1, 2, 3, ... (RFC 4303 section 2.4); pad < 16 fits a u8.
        for (i, b) in buf[trailer..trailer + pad].iter_mut().enumerate() {
            *b = (i + 1) as u8;
        }
        buf[trailer + pad] = pad as u8;
        buf[trailer + pad + 1] = next_header;
        let (packet, icv) = buf[..total].split_at_mut(header + encrypted);
        match &self.protection {
            Protection::Cbc(cipher, mac) => {
                let (head, body) = packet.split_at_mut(header);
                cipher.encrypt(&head[SPI_SEQ_LEN..], body)?;
                mac.mac_into(&[packet], icv);
            }
            Protection::Null(mac) => mac.mac_into(&[packet], icv),
            Protection::Gcm(key) => {
                let (head, body) = packet.split_at_mut(header);
                let (aad, iv) = head.split_at(SPI_SEQ_LEN);
                icv.copy_from_slice(&key.seal(explicit_iv(iv), aad, body));
            }
            Protection::Gmac(key) => {
                let iv = explicit_iv(&packet[SPI_SEQ_LEN..header]);
                icv.copy_from_slice(&key.seal(iv, packet, &mut []));
            }
        }
        Ok(total)
    }
    /// Check the ICV (constant time), then decrypt in place and check the padding.
    pub fn open(&self, packet: &mut [u8]) -> Result<Opened, CryptoError> {
        let icv_len = self.transform.icv_len();
        let header = self.header_len();
        let Some(encrypted) = packet.len().checked_sub(header + icv_len) else {
            return Err(CryptoError::Malformed("ESP packet too short"));
        };
        let block = self.transform.encr.block_len();
        if encrypted < PAD_LEN_NEXT_HEADER || encrypted % block != 0 {
            return Err(CryptoError::Malformed(
                "ESP payload is not a whole number of cipher blocks",
            ));
        }
        if packet[..4] != self.spi.to_be_bytes() {
            return Err(CryptoError::Malformed("ESP packet for another SPI"));
        }
        // Authenticate before decrypting (RFC 4303 section 3.4.4): forged packets never
        // reach the cipher, and padding errors cannot serve as an oracle.
        let (authenticated, icv) = packet.split_at_mut(header + encrypted);
        match &self.protection {
            Protection::Cbc(_, mac) | Protection::Null(mac) => {
                let mut expected = [0u8; MAX_OUTPUT_LEN];
                mac.mac_into(&[authenticated], &mut expected[..icv_len]);
                if !super::ct_eq(&expected[..icv_len], icv) {
                    return Err(CryptoError::Integrity);
                }
            }
            Protection::Gcm(key) => {
                let (head, body) = authenticated.split_at_mut(header);
                let (aad, iv) = head.split_at(SPI_SEQ_LEN);
                key.open(explicit_iv(iv), aad, body, icv)?;
            }
            Protection::Gmac(key) => {
                let iv = explicit_iv(&authenticated[SPI_SEQ_LEN..header]);
                key.open(iv, authenticated, &mut [], icv)?;
            }
        }
        let (head, body) = authenticated.split_at_mut(header);
        if let Protection::Cbc(cipher, _) = &self.protection {
            cipher.decrypt(&head[SPI_SEQ_LEN..], body)?;
        }
        let pad = usize::from(body[encrypted - 2]);
        let next_header = body[encrypted - 1];
        let Some(payload_len) = encrypted.checked_sub(pad + PAD_LEN_NEXT_HEADER) else {
            return Err(CryptoError::Malformed("ESP pad length exceeds the payload"));
        };
        // RFC 4303 section 2.4: the receiver checks the default padding 1, 2, 3, ...
        let padding = &body[payload_len..payload_len + pad];
        if padding
            .iter()
            .enumerate()
            .any(|(i, &b)| usize::from(b) != i + 1)
        {
            return Err(CryptoError::Malformed(
                "ESP padding bytes are not 1, 2, 3, ...",
            ));
        }
        Ok(Opened {
            seq: u32::from_be_bytes([head[4], head[5], head[6], head[7]]),
            next_header,
            payload: header..header + payload_len,
        })
    }
}

/// The 8 IV bytes after SPI and sequence number of a GCM/GMAC packet.
fn explicit_iv(iv: &[u8]) -> &[u8; gcm::IV_LEN] {
    iv.try_into().expect("header_len leaves 8 IV bytes")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all_transforms() -> impl Iterator<Item = EspTransform> {
        EspTransform::all()
    }

    fn sa(t: EspTransform) -> EspSa {
        let enc: Vec<u8> = (0..t.encr.key_len() as u8).collect();
        let auth: Vec<u8> = (100..100 + t.auth.key_len() as u8).collect();
        EspSa::new(0x1234_5678, t, &enc, &auth).unwrap()
    }

    /// Seals `payload` into a fresh buffer; returns the buffer truncated to the packet.
    fn seal(sa: &EspSa, seq: u32, payload: &[u8]) -> Vec<u8> {
        let mut buf = vec![0u8; sa.header_len() + payload.len() + sa.max_trailer_len()];
        buf[sa.header_len()..sa.header_len() + payload.len()].copy_from_slice(payload);
        let iv = vec![0x3c; sa.random_iv_len()];
        let len = sa.seal(seq, &iv, 4, &mut buf, payload.len()).unwrap();
        buf.truncate(len);
        buf
    }

    #[test]
    fn esp_sa_is_send_and_sync() {
        fn shared<T: Send + Sync>() {}
        shared::<EspSa>();
    }

    #[test]
    fn ids_and_names() {
        for e in EspEncr::ALL {
            assert_eq!(
                EspEncr::from_transform_id(e.transform_id(), e.key_length_attr()),
                Some(e)
            );
        }
        assert_eq!(
            EspEncr::from_transform_id(12, None),
            Some(EspEncr::Aes(128))
        );
        assert_eq!(EspEncr::from_transform_id(12, Some(512)), None);
        assert_eq!(EspEncr::from_transform_id(11, None), Some(EspEncr::Null));
        assert_eq!(
            EspEncr::from_transform_id(20, None),
            None,
            "GCM needs a key length"
        );
        assert_eq!(
            EspEncr::from_transform_id(18, Some(128)),
            None,
            "8-octet ICV GCM"
        );
        for a in EspAuth::ALL {
            assert_eq!(EspAuth::from_attr_id(a.attr_id().unwrap()), Some(a));
        }
        assert_eq!(EspAuth::None.attr_id(), None);
        assert_eq!(EspAuth::from_attr_id(3), None, "DES-MAC");
        assert_eq!(EspEncr::Aes(256).ios_name(), "esp-aes 256");
        assert_eq!(EspEncr::Aes(128).ios_name(), "esp-aes");
        assert_eq!(EspEncr::TripleDes.xfrm_name(), "cbc(des3_ede)");
        assert_eq!(EspAuth::HmacSha1.xfrm_name(), "hmac(sha1)");
        assert_eq!(EspAuth::HmacSha256.icv_len(), 16);
        let t = EspTransform {
            encr: EspEncr::Aes(256),
            auth: EspAuth::HmacSha256,
        };
        assert_eq!(t.keymat_len(), 64);
    }

    #[test]
    fn seal_then_open_round_trips_every_transform_and_length() {
        for t in all_transforms() {
            let sa = sa(t);
            for len in [0, 1, 13, 14, 15, 16, 17, 100, 1400] {
                let payload: Vec<u8> = (0..len).map(|i| i as u8).collect();
                let mut packet = seal(&sa, 7, &payload);
                assert_eq!(packet[..4], 0x1234_5678u32.to_be_bytes());
                assert_eq!(packet[4..8], 7u32.to_be_bytes());
                let encrypted = packet.len() - sa.header_len() - t.icv_len();
                assert_eq!(encrypted % t.encr.block_len(), 0, "{t:?} {len}");
                assert!(encrypted < len + 2 + t.encr.block_len());
                if t.encr.is_combined() || t.encr == EspEncr::Null {
                    assert_eq!(encrypted % 4, 0, "RFC 4303 2.4 alignment");
                }
                assert!(packet.len() <= sa.header_len() + len + sa.max_trailer_len());
                let opened = sa.open(&mut packet).unwrap();
                assert_eq!(opened.seq, 7);
                assert_eq!(opened.next_header, 4);
                assert_eq!(packet[opened.payload], payload[..], "{t:?} {len}");
            }
        }
    }

    #[test]
    fn any_flipped_bit_fails_the_icv() {
        for t in all_transforms() {
            let sa = sa(t);
            let packet = seal(&sa, 1, b"a datagram of some length");
            for byte in 0..packet.len() {
                let mut bad = packet.clone();
                bad[byte] ^= 0x10;
                let err = sa.open(&mut bad).unwrap_err();
                let expected = if byte < 4 {
                    CryptoError::Malformed("ESP packet for another SPI")
                } else {
                    CryptoError::Integrity
                };
                assert_eq!(err, expected, "{t:?} byte {byte}");
                // Nothing was decrypted: the buffer is as received.
                let mut received = packet.clone();
                received[byte] ^= 0x10;
                assert_eq!(bad, received);
            }
        }
    }

    #[test]
    fn another_key_fails_the_icv() {
        let t = EspTransform {
            encr: EspEncr::Aes(128),
            auth: EspAuth::HmacSha1,
        };
        let mut packet = seal(&sa(t), 1, b"ping");
        let other = EspSa::new(0x1234_5678, t, &[0; 16], &[0; 20]).unwrap();
        assert_eq!(other.open(&mut packet), Err(CryptoError::Integrity));
    }

    #[test]
    fn truncated_and_misaligned_packets_are_malformed() {
        let t = EspTransform {
            encr: EspEncr::TripleDes,
            auth: EspAuth::HmacMd5,
        };
        let sa = sa(t);
        let packet = seal(&sa, 1, b"0123456789");
        for len in 0..packet.len() {
            let mut short = packet[..len].to_vec();
            assert!(sa.open(&mut short).is_err(), "{len} bytes");
        }
    }

    /// Authentic packets whose padding is not 1, 2, 3, ... or whose pad length is too
    /// large are rejected after decryption (RFC 4303 section 2.4).
    #[test]
    fn bad_padding_is_rejected() {
        let t = EspTransform {
            encr: EspEncr::Aes(128),
            auth: EspAuth::HmacSha256,
        };
        let sa = sa(t);
        let enc: Vec<u8> = (0..16).collect();
        let auth: Vec<u8> = (100..132).collect();
        let build = |trailer: &[u8]| {
            // 12 payload bytes + 4-byte trailer: one block.
            let iv = [9u8; 16];
            let mut plain = [&[0xee; 12][..], trailer].concat();
            CipherAlg::Aes(128).encrypt(&enc, &iv, &mut plain).unwrap();
            let mut packet = [
                &0x1234_5678u32.to_be_bytes()[..],
                &[0, 0, 0, 1],
                &iv,
                &plain,
            ]
            .concat();
            let mut icv = [0u8; 16];
            HmacKey::new(HashAlg::Sha256, &auth).mac_into(&[&packet], &mut icv);
            packet.extend_from_slice(&icv);
            packet
        };
        let good = sa.open(&mut build(&[1, 2, 2, 41])).unwrap();
        assert_eq!(good.payload.len(), 12);
        assert_eq!(good.next_header, 41);
        assert_eq!(
            sa.open(&mut build(&[1, 3, 2, 41])),
            Err(CryptoError::Malformed(
                "ESP padding bytes are not 1, 2, 3, ..."
            ))
        );
        assert_eq!(
            sa.open(&mut build(&[0, 0, 200, 41])),
            Err(CryptoError::Malformed("ESP pad length exceeds the payload"))
        );
    }

    #[test]
    fn seal_rejects_small_buffers_and_bad_ivs() {
        let sa = sa(EspTransform {
            encr: EspEncr::Des,
            auth: EspAuth::HmacSha1,
        });
        let mut buf = vec![0u8; sa.header_len() + 10 + sa.max_trailer_len()];
        assert!(sa.seal(1, &[0; 16], 4, &mut buf, 10).is_err());
        // 10 + 2 -> 16 bytes encrypted + 12 ICV: one byte short.
        let mut short = vec![0u8; sa.header_len() + 16 + 12 - 1];
        assert!(sa.seal(1, &[0; 8], 4, &mut short, 10).is_err());
        assert_eq!(sa.seal(1, &[0; 8], 4, &mut buf, 10), Ok(16 + 16 + 12));
        assert!(sa.seal(1, &[0; 8], 4, &mut buf, usize::MAX).is_err());
    }

    #[test]
    fn wrong_key_lengths_are_rejected() {
        let t = EspTransform {
            encr: EspEncr::Aes(192),
            auth: EspAuth::HmacSha256,
        };
        assert_eq!(
            EspSa::new(1, t, &[0; 16], &[0; 32]).unwrap_err(),
            CryptoError::KeyLength {
                expected: 24,
                got: 16
            }
        );
        assert_eq!(
            EspSa::new(1, t, &[0; 24], &[0; 20]).unwrap_err(),
            CryptoError::KeyLength {
                expected: 32,
                got: 20
            }
        );
        assert_eq!(
            format!("{:?}", sa(t)),
            "EspSa(spi=0x12345678, EspTransform { encr: Aes(192), auth: HmacSha256 })"
        );
    }

    /// ESP packets computed independently with OpenSSL (Python `cryptography`): key
    /// bytes 0, 1, 2, ..., salt a0a1a2a3, HMAC key 100, 101, ..., SPI 0x12345678,
    /// sequence number 7, next header 4. GCM's explicit IV is the sequence number; CBC's
    /// is 16 x 0x3c. Each must seal to exactly these bytes and open back.
    #[test]
    fn known_answers_from_an_independent_implementation() {
        use crate::testutil::unhex;
        let payload = b"ikev1d esp-gcm known answer";
        let key_salt = |n: u8| [(0..n).collect::<Vec<u8>>(), vec![0xa0, 0xa1, 0xa2, 0xa3]].concat();
        let cases = [
            (
                EspTransform::new(EspEncr::AesGcm(256), EspAuth::None).unwrap(),
                key_salt(32),
                "123456780000000700000000000000071910594a6786dbb01a2fb70354d636f2\
                 6c1b4ef8b78f46074f4d137bb7e74cc1732477ea0c0c4c461ff07902f8be8161",
            ),
            (
                // RFC 4543 3.5: everything is AAD, the payload stays in clear.
                EspTransform::new(EspEncr::AesGmac(128), EspAuth::None).unwrap(),
                key_salt(16),
                "12345678000000070000000000000007696b65763164206573702d67636d206b\
                 6e6f776e20616e737765720102030304a5f3c62a2c802e6b7638265826789513",
            ),
            (
                EspTransform::new(EspEncr::Aes(256), EspAuth::HmacSha384).unwrap(),
                (0..32).collect(),
                "12345678000000073c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c4b53cd1cfd3a298f\
                 4e472b529363ada69468aa19097a8a6ac5c295ce44e4642bb046d0deba72e1cb\
                 92494fa74f20fae5d99077f0100da963",
            ),
            (
                EspTransform::new(EspEncr::Aes(256), EspAuth::HmacSha512).unwrap(),
                (0..32).collect(),
                "12345678000000073c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c4b53cd1cfd3a298f\
                 4e472b529363ada69468aa19097a8a6ac5c295ce44e4642b34716dd6f4626275\
                 68e5efd8070f92763b790b50d9ecf5f2b95a3cf9de96977b",
            ),
        ];
        for (t, enc, expected) in cases {
            let auth: Vec<u8> = (100..100 + t.auth.key_len() as u8).collect();
            let sa = EspSa::new(0x1234_5678, t, &enc, &auth).unwrap();
            let expected = unhex(expected);
            assert_eq!(seal(&sa, 7, payload), expected, "{}", t.ios_name());
            let mut packet = expected.clone();
            let opened = sa.open(&mut packet).unwrap();
            assert_eq!(&packet[opened.payload], payload);
            assert_eq!((opened.seq, opened.next_header), (7, 4));
        }
    }

    #[test]
    fn new_transforms_have_ios_sizes_and_names() {
        let gcm = EspTransform::new(EspEncr::AesGcm(256), EspAuth::None).unwrap();
        // RFC 4106 8.1: 32 key bytes + 4 salt bytes of KEYMAT; ICV 16, IV 8.
        assert_eq!(gcm.keymat_len(), 36);
        assert_eq!(gcm.icv_len(), 16);
        assert_eq!(gcm.encr.iv_len(), 8);
        assert_eq!(gcm.encr.key_length_attr(), Some(256));
        assert_eq!(gcm.encr.transform_id(), 20);
        assert_eq!(gcm.ios_name(), "esp-gcm 256");
        assert_eq!(gcm.encr.xfrm_name(), "rfc4106(gcm(aes))");
        let gmac = EspTransform::new(EspEncr::AesGmac(128), EspAuth::None).unwrap();
        assert_eq!((gmac.keymat_len(), gmac.encr.transform_id()), (20, 23));
        assert_eq!(gmac.ios_name(), "esp-gmac");
        assert_eq!(gmac.encr.xfrm_name(), "rfc4543(gcm(aes))");
        // RFC 4868: 384- and 512-bit keys, ICVs truncated to half: 192 and 256 bits.
        for (auth, id, key, icv, name) in [
            (
                EspAuth::HmacSha384,
                6,
                48,
                24,
                "esp-aes 256 esp-sha384-hmac",
            ),
            (
                EspAuth::HmacSha512,
                7,
                64,
                32,
                "esp-aes 256 esp-sha512-hmac",
            ),
        ] {
            let t = EspTransform::new(EspEncr::Aes(256), auth).unwrap();
            assert_eq!(
                (auth.attr_id(), auth.key_len(), t.icv_len()),
                (Some(id), key, icv)
            );
            assert_eq!(t.ios_name(), name);
        }
        let null = EspTransform::new(EspEncr::Null, EspAuth::HmacSha256).unwrap();
        assert_eq!((null.encr.key_len(), null.encr.iv_len()), (0, 0));
        assert_eq!(null.encr.xfrm_name(), "ecb(cipher_null)");
        // IOS's combination rules.
        assert!(EspTransform::new(EspEncr::AesGcm(128), EspAuth::HmacSha1).is_err());
        assert!(EspTransform::new(EspEncr::Aes(128), EspAuth::None).is_err());
        assert!(EspTransform::new(EspEncr::Null, EspAuth::None).is_err());
        assert_eq!(EspTransform::all().count(), 6 * 5 + 6);
    }

    /// GCM's IV is the sequence number: two packets never share one, and the same
    /// payload seals differently under consecutive numbers.
    #[test]
    fn gcm_ivs_follow_the_sequence_number() {
        let t = EspTransform::new(EspEncr::AesGcm(128), EspAuth::None).unwrap();
        let sa = sa(t);
        assert_eq!(sa.random_iv_len(), 0);
        let a = seal(&sa, 1, b"same payload");
        let b = seal(&sa, 2, b"same payload");
        assert_eq!(a[8..16], 1u64.to_be_bytes());
        assert_eq!(b[8..16], 2u64.to_be_bytes());
        assert_ne!(a[16..], b[16..]);
        assert_eq!(
            seal(&sa, u32::MAX, b"x")[8..16],
            u64::from(u32::MAX).to_be_bytes()
        );
    }
}
