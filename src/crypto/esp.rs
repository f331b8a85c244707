//! ESP transforms (RFC 4303 framing; RFC 2405/2451/3602 ciphers, RFC 2403/2404/4868 ICVs).
//! Per-packet work is in place in the caller's buffer: no allocation per packet.

use super::CryptoError;
use std::ops::Range;

/// ESP encryption (IPsec transform ID: 2 ESP_DES, 3 ESP_3DES, 12 ESP_AES + key length).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EspEncr {
    Des,
    TripleDes,
    /// Key length in bits.
    Aes(u16),
}

/// ESP authentication (IPsec attribute 5: 1 HMAC-MD5, 2 HMAC-SHA, 5 HMAC-SHA2-256).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EspAuth {
    /// 96-bit ICV
    HmacMd5,
    /// 96-bit ICV
    HmacSha1,
    /// 128-bit ICV (RFC 4868)
    HmacSha256,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct EspTransform {
    pub encr: EspEncr,
    pub auth: EspAuth,
}

impl EspEncr {
    pub const ALL: [EspEncr; 5] = [
        EspEncr::Des,
        EspEncr::TripleDes,
        EspEncr::Aes(128),
        EspEncr::Aes(192),
        EspEncr::Aes(256),
    ];
    /// IPsec DOI transform ID (RFC 2407 4.4.4).
    pub fn transform_id(self) -> u8 {
        todo!()
    }
    pub fn from_transform_id(id: u8, key_bits: Option<u16>) -> Option<Self> {
        let _ = (id, key_bits);
        todo!()
    }
    /// Key-length attribute (6) to send: AES only.
    pub fn key_length_attr(self) -> Option<u16> {
        todo!()
    }
    pub fn key_len(self) -> usize {
        todo!()
    }
    pub fn block_len(self) -> usize {
        todo!()
    }
    /// IOS transform-set keyword: "esp-des", "esp-3des", "esp-aes", "esp-aes 256".
    pub fn ios_name(self) -> &'static str {
        todo!()
    }
    /// Linux XFRM algorithm name: "cbc(des)", "cbc(des3_ede)", "cbc(aes)".
    pub fn xfrm_name(self) -> &'static str {
        todo!()
    }
}

impl EspAuth {
    pub const ALL: [EspAuth; 3] = [EspAuth::HmacMd5, EspAuth::HmacSha1, EspAuth::HmacSha256];
    /// IPsec DOI attribute 5 value.
    pub fn attr_id(self) -> u16 {
        todo!()
    }
    pub fn from_attr_id(id: u16) -> Option<Self> {
        let _ = id;
        todo!()
    }
    pub fn key_len(self) -> usize {
        todo!()
    }
    pub fn icv_len(self) -> usize {
        todo!()
    }
    /// IOS keyword: "esp-md5-hmac", "esp-sha-hmac", "esp-sha256-hmac".
    pub fn ios_name(self) -> &'static str {
        todo!()
    }
    /// Linux XFRM algorithm name: "hmac(md5)", "hmac(sha1)", "hmac(sha256)".
    pub fn xfrm_name(self) -> &'static str {
        todo!()
    }
}

impl EspTransform {
    /// KEYMAT bytes needed: encryption key then authentication key (RFC 2409 5.5).
    pub fn keymat_len(self) -> usize {
        self.encr.key_len() + self.auth.key_len()
    }
}

/// Result of `EspSa::open`: where the inner packet is in the caller's buffer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Opened {
    pub seq: u32,
    pub next_header: u8,
    pub payload: Range<usize>,
}

/// One direction of an ESP SA with prepared key schedules. `Debug` shows the SPI only.
pub struct EspSa {
    pub spi: u32,
    pub transform: EspTransform,
}

impl std::fmt::Debug for EspSa {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "EspSa(spi={:#010x}, {:?})", self.spi, self.transform)
    }
}

impl EspSa {
    pub fn new(
        spi: u32,
        transform: EspTransform,
        enc_key: &[u8],
        auth_key: &[u8],
    ) -> Result<Self, CryptoError> {
        let _ = (spi, transform, enc_key, auth_key);
        todo!()
    }
    /// Bytes before the payload: SPI, sequence number, IV.
    pub fn header_len(&self) -> usize {
        todo!()
    }
    /// Largest number of bytes `seal` adds after the payload (padding, pad length, next header, ICV).
    pub fn max_trailer_len(&self) -> usize {
        todo!()
    }
    /// Build an ESP packet in place. The inner packet is at
    /// `buf[header_len()..header_len() + payload_len]`; `iv` is `block_len` random bytes.
    /// Returns the ESP packet length (`buf[..len]`).
    pub fn seal(
        &self,
        seq: u32,
        iv: &[u8],
        next_header: u8,
        buf: &mut [u8],
        payload_len: usize,
    ) -> Result<usize, CryptoError> {
        let _ = (seq, iv, next_header, buf, payload_len);
        todo!()
    }
    /// Check the ICV (constant time), then decrypt in place and check the padding.
    pub fn open(&self, packet: &mut [u8]) -> Result<Opened, CryptoError> {
        let _ = packet;
        todo!()
    }
}
