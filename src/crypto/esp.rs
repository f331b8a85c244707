//! ESP transforms (RFC 4303 framing; RFC 2405/2451/3602 ciphers, RFC 2403/2404/4868 ICVs).
//! Per-packet work is in place in the caller's buffer: no allocation per packet.

use super::cipher::CbcKey;
use super::prf::{HmacKey, MAX_OUTPUT_LEN};
use super::{CipherAlg, CryptoError, HashAlg};
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
        match self {
            EspEncr::Des => 2,
            EspEncr::TripleDes => 3,
            EspEncr::Aes(_) => 12,
        }
    }
    pub fn from_transform_id(id: u8, key_bits: Option<u16>) -> Option<Self> {
        // RFC 3602 section 5: ESP_AES with key length 128/192/256, 128 when absent.
        match (id, key_bits) {
            (2, None) => Some(EspEncr::Des),
            (3, None) => Some(EspEncr::TripleDes),
            (12, None) => Some(EspEncr::Aes(128)),
            (12, Some(bits @ (128 | 192 | 256))) => Some(EspEncr::Aes(bits)),
            _ => None,
        }
    }
    /// Key-length attribute (6) to send: AES only.
    pub fn key_length_attr(self) -> Option<u16> {
        self.cipher().key_length_attr()
    }
    pub fn key_len(self) -> usize {
        self.cipher().key_len()
    }
    pub fn block_len(self) -> usize {
        self.cipher().block_len()
    }
    /// IOS transform-set keyword: "esp-des", "esp-3des", "esp-aes", "esp-aes 256".
    pub fn ios_name(self) -> &'static str {
        match self {
            EspEncr::Des => "esp-des",
            EspEncr::TripleDes => "esp-3des",
            EspEncr::Aes(192) => "esp-aes 192",
            EspEncr::Aes(256) => "esp-aes 256",
            EspEncr::Aes(_) => "esp-aes",
        }
    }
    /// Linux XFRM algorithm name: "cbc(des)", "cbc(des3_ede)", "cbc(aes)".
    pub fn xfrm_name(self) -> &'static str {
        match self {
            EspEncr::Des => "cbc(des)",
            EspEncr::TripleDes => "cbc(des3_ede)",
            EspEncr::Aes(_) => "cbc(aes)",
        }
    }
    /// The same block cipher as a phase 1 algorithm (ESP uses it in CBC mode too).
    pub fn cipher(self) -> CipherAlg {
        match self {
            EspEncr::Des => CipherAlg::Des,
            EspEncr::TripleDes => CipherAlg::TripleDes,
            EspEncr::Aes(bits) => CipherAlg::Aes(bits),
        }
    }
}

impl EspAuth {
    pub const ALL: [EspAuth; 3] = [EspAuth::HmacMd5, EspAuth::HmacSha1, EspAuth::HmacSha256];
    /// IPsec DOI attribute 5 value.
    pub fn attr_id(self) -> u16 {
        match self {
            EspAuth::HmacMd5 => 1,
            EspAuth::HmacSha1 => 2,
            EspAuth::HmacSha256 => 5,
        }
    }
    pub fn from_attr_id(id: u16) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.attr_id() == id)
    }
    /// The key is as long as the hash output (RFC 2403, 2404, 4868 section 2.1.1).
    pub fn key_len(self) -> usize {
        self.hash().output_len()
    }
    pub fn icv_len(self) -> usize {
        match self {
            EspAuth::HmacMd5 | EspAuth::HmacSha1 => 12,
            EspAuth::HmacSha256 => 16,
        }
    }
    /// IOS keyword: "esp-md5-hmac", "esp-sha-hmac", "esp-sha256-hmac".
    pub fn ios_name(self) -> &'static str {
        match self {
            EspAuth::HmacMd5 => "esp-md5-hmac",
            EspAuth::HmacSha1 => "esp-sha-hmac",
            EspAuth::HmacSha256 => "esp-sha256-hmac",
        }
    }
    /// Linux XFRM algorithm name: "hmac(md5)", "hmac(sha1)", "hmac(sha256)".
    pub fn xfrm_name(self) -> &'static str {
        match self {
            EspAuth::HmacMd5 => "hmac(md5)",
            EspAuth::HmacSha1 => "hmac(sha1)",
            EspAuth::HmacSha256 => "hmac(sha256)",
        }
    }
    /// The hash under the HMAC.
    pub fn hash(self) -> HashAlg {
        match self {
            EspAuth::HmacMd5 => HashAlg::Md5,
            EspAuth::HmacSha1 => HashAlg::Sha1,
            EspAuth::HmacSha256 => HashAlg::Sha256,
        }
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
/// `Send + Sync`: the userspace data path shares it between threads; `seal` and `open`
/// take `&self` and work on clones of the prepared states.
pub struct EspSa {
    pub spi: u32,
    pub transform: EspTransform,
    cipher: CbcKey,
    mac: HmacKey,
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
        let auth_len = transform.auth.key_len();
        if auth_key.len() != auth_len {
            return Err(CryptoError::KeyLength {
                expected: auth_len,
                got: auth_key.len(),
            });
        }
        Ok(EspSa {
            spi,
            transform,
            cipher: CbcKey::new(transform.encr.cipher(), enc_key)?,
            mac: HmacKey::new(transform.auth.hash(), auth_key),
        })
    }
    /// Bytes before the payload: SPI, sequence number, IV.
    pub fn header_len(&self) -> usize {
        SPI_SEQ_LEN + self.transform.encr.block_len()
    }
    /// Largest number of bytes `seal` adds after the payload (padding, pad length, next header, ICV).
    pub fn max_trailer_len(&self) -> usize {
        (self.transform.encr.block_len() - 1) + PAD_LEN_NEXT_HEADER + self.transform.auth.icv_len()
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
        let block = self.transform.encr.block_len();
        let icv_len = self.transform.auth.icv_len();
        let header = self.header_len();
        if iv.len() != block {
            return Err(CryptoError::Malformed("IV is not one cipher block"));
        }
        if payload_len > buf.len() {
            return Err(CryptoError::Malformed(
                "buffer too small for the ESP trailer",
            ));
        }
        // RFC 4303 section 2.4: payload | padding | pad length | next header fills whole
        // cipher blocks (8 or 16 bytes, so also the required 4-byte alignment).
        let pad = (block - (payload_len + PAD_LEN_NEXT_HEADER) % block) % block;
        let encrypted = payload_len + pad + PAD_LEN_NEXT_HEADER;
        let total = header + encrypted + icv_len;
        if buf.len() < total {
            return Err(CryptoError::Malformed(
                "buffer too small for the ESP trailer",
            ));
        }
        buf[..4].copy_from_slice(&self.spi.to_be_bytes());
        buf[4..8].copy_from_slice(&seq.to_be_bytes());
        buf[SPI_SEQ_LEN..header].copy_from_slice(iv);
        let trailer = header + payload_len;
        // Default padding: 1, 2, 3, ... (RFC 4303 section 2.4); pad < 16 fits a u8.
        for (i, b) in buf[trailer..trailer + pad].iter_mut().enumerate() {
            *b = (i + 1) as u8;
        }
        buf[trailer + pad] = pad as u8;
        buf[trailer + pad + 1] = next_header;
        self.cipher
            .encrypt(iv, &mut buf[header..header + encrypted])?;
        let (authenticated, icv) = buf[..total].split_at_mut(header + encrypted);
        self.mac.mac_into(&[authenticated], icv);
        Ok(total)
    }
    /// Check the ICV (constant time), then decrypt in place and check the padding.
    pub fn open(&self, packet: &mut [u8]) -> Result<Opened, CryptoError> {
        let block = self.transform.encr.block_len();
        let icv_len = self.transform.auth.icv_len();
        let header = self.header_len();
        let Some(encrypted) = packet.len().checked_sub(header + icv_len) else {
            return Err(CryptoError::Malformed("ESP packet too short"));
        };
        if encrypted == 0 || encrypted % block != 0 {
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
        let mut expected = [0u8; MAX_OUTPUT_LEN];
        self.mac
            .mac_into(&[authenticated], &mut expected[..icv_len]);
        if !super::ct_eq(&expected[..icv_len], icv) {
            return Err(CryptoError::Integrity);
        }
        let (head, body) = authenticated.split_at_mut(header);
        self.cipher.decrypt(&head[SPI_SEQ_LEN..], body)?;
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

#[cfg(test)]
mod tests {
    use super::*;

    fn all_transforms() -> impl Iterator<Item = EspTransform> {
        EspEncr::ALL.into_iter().flat_map(|encr| {
            EspAuth::ALL
                .into_iter()
                .map(move |auth| EspTransform { encr, auth })
        })
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
        let iv = vec![0x3c; sa.transform.encr.block_len()];
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
        assert_eq!(EspEncr::from_transform_id(11, None), None, "ESP_NULL");
        for a in EspAuth::ALL {
            assert_eq!(EspAuth::from_attr_id(a.attr_id()), Some(a));
        }
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
                let encrypted = packet.len() - sa.header_len() - t.auth.icv_len();
                assert_eq!(encrypted % t.encr.block_len(), 0, "{t:?} {len}");
                assert!(encrypted < len + 2 + t.encr.block_len());
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
}
