//! Byte cursor for decoding and a length-patching writer for encoding (rustls
//! `msgs/codec.rs` shape). Every read is bounds-checked; a short read becomes a
//! `DecodeError` naming the structure being read, the offset and the caller's reason.

use super::{DecodeError, DecodeErrorKind, PayloadType};
use std::ops::Range;

/// A cursor over a borrowed buffer. `base` is the absolute offset of `buf[0]` in the
/// buffer handed to the public decoder, so errors and spans point into that buffer;
/// `ty` is the payload being decoded, for errors.
#[derive(Debug, Clone)]
pub(crate) struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
    base: usize,
    ty: Option<PayloadType>,
}

type Result<T> = std::result::Result<T, DecodeError>;

impl<'a> Reader<'a> {
    pub(crate) fn new(buf: &'a [u8], base: usize, ty: Option<PayloadType>) -> Self {
        Reader {
            buf,
            pos: 0,
            base,
            ty,
        }
    }

    /// Absolute offset of the next unread byte.
    pub(crate) fn offset(&self) -> usize {
        self.base + self.pos
    }

    pub(crate) fn left(&self) -> usize {
        self.buf.len() - self.pos
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.left() == 0
    }

    /// An error about this structure at the current offset.
    pub(crate) fn fail(&self, reason: &'static str) -> DecodeError {
        self.fail_at(self.offset(), reason)
    }

    pub(crate) fn fail_at(&self, offset: usize, reason: &'static str) -> DecodeError {
        self.error_at(offset, DecodeErrorKind::Malformed(reason))
    }

    pub(crate) fn error_at(&self, offset: usize, kind: DecodeErrorKind) -> DecodeError {
        DecodeError {
            payload_type: self.ty,
            offset,
            kind,
        }
    }

    /// The next `n` bytes, or `reason` if fewer are left (nothing is consumed then).
    pub(crate) fn take(&mut self, n: usize, reason: &'static str) -> Result<&'a [u8]> {
        if n > self.left() {
            return Err(self.fail(reason));
        }
        let s = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }

    fn take_array<const N: usize>(&mut self, reason: &'static str) -> Result<[u8; N]> {
        let s = self.take(N, reason)?;
        let mut a = [0; N];
        a.copy_from_slice(s);
        Ok(a)
    }

    pub(crate) fn take_u8(&mut self, reason: &'static str) -> Result<u8> {
        self.take_array::<1>(reason).map(|[b]| b)
    }

    pub(crate) fn take_u16(&mut self, reason: &'static str) -> Result<u16> {
        self.take_array(reason).map(u16::from_be_bytes)
    }

    pub(crate) fn take_u32(&mut self, reason: &'static str) -> Result<u32> {
        self.take_array(reason).map(u32::from_be_bytes)
    }

    pub(crate) fn take_cookie(&mut self, reason: &'static str) -> Result<[u8; 8]> {
        self.take_array(reason)
    }

    /// A child reader over the next `n` bytes (which this reader skips), decoding a
    /// structure of type `ty`.
    pub(crate) fn sub(
        &mut self,
        n: usize,
        ty: Option<PayloadType>,
        reason: &'static str,
    ) -> Result<Reader<'a>> {
        let base = self.offset();
        self.take(n, reason).map(|buf| Reader::new(buf, base, ty))
    }

    /// A generic payload header (RFC 2408 3.2) of a `ty` payload, checked against
    /// what is left: returns the next-payload field, the span of header + body, and
    /// a reader over the body. Proposal and transform payloads (3.5, 3.6) use it too.
    pub(crate) fn take_payload(
        &mut self,
        ty: PayloadType,
    ) -> Result<(PayloadType, Range<usize>, Reader<'a>)> {
        let start = self.offset();
        let fail = |offset, reason| DecodeError {
            payload_type: Some(ty),
            offset,
            kind: DecodeErrorKind::Malformed(reason),
        };
        const TRUNCATED: &str = "truncated generic payload header";
        if self.left() < 4 {
            return Err(fail(start, TRUNCATED));
        }
        let next = PayloadType(self.take_u8(TRUNCATED)?);
        self.take_u8(TRUNCATED)?; // RESERVED: ignored on receipt, sent as zero
        let len = usize::from(self.take_u16(TRUNCATED)?);
        if len < 4 {
            // A zero length would otherwise make a payload walker spin in place.
            return Err(fail(
                start + 2,
                "payload length below the 4-byte generic header",
            ));
        }
        let body = self
            .sub(len - 4, Some(ty), TRUNCATED)
            .map_err(|_| fail(start + 2, "payload length beyond the enclosing data"))?;
        Ok((next, start..start + len, body))
    }

    /// Everything not yet read.
    pub(crate) fn rest(&mut self) -> &'a [u8] {
        let s = &self.buf[self.pos..];
        self.pos = self.buf.len();
        s
    }
}

/// Write a generic payload header (RFC 2408 3.2: next payload, RESERVED, 16-bit
/// length), let `body` write the rest, then patch the length to cover both. Proposal
/// and transform payloads (3.5, 3.6) share this header.
///
/// # Panics
/// If the payload exceeds 65535 bytes, which no IKEv1 payload can (the length field
/// is 16 bits); only a caller bug gets here, never decoded input re-encoded.
pub(crate) fn put_payload(out: &mut Vec<u8>, next: PayloadType, body: impl FnOnce(&mut Vec<u8>)) {
    let start = out.len();
    out.extend_from_slice(&[next.0, 0, 0, 0]);
    body(out);
    let len = u16::try_from(out.len() - start).expect("ISAKMP payload longer than 65535 bytes");
    out[start + 2..start + 4].copy_from_slice(&len.to_be_bytes());
}

/// Encode a chain of payloads, each header's next-payload field naming the type of
/// the item after it and the last one NONE (RFC 2408 3.1, 3.5, 3.6).
pub(crate) fn put_chain<T>(
    out: &mut Vec<u8>,
    items: &[T],
    type_of: impl Fn(&T) -> PayloadType,
    body: impl Fn(&T, &mut Vec<u8>),
) {
    for (i, item) in items.iter().enumerate() {
        let next = items.get(i + 1).map_or(PayloadType::NONE, &type_of);
        put_payload(out, next, |o| body(item, o));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reader_bounds() {
        let mut r = Reader::new(&[1, 2, 3, 4, 5, 6, 7], 10, None);
        assert_eq!(r.take_u8("a"), Ok(1));
        assert_eq!(r.take_u16("b"), Ok(0x0203));
        assert_eq!(r.offset(), 13);
        let mut sub = r.sub(2, Some(PayloadType::ID), "c").unwrap();
        assert_eq!(sub.offset(), 13);
        let e = sub.take_u32("child is bounded").unwrap_err();
        assert_eq!(
            (e.payload_type, e.offset, e.reason()),
            (Some(PayloadType::ID), 13, "child is bounded")
        );
        assert_eq!(sub.rest(), &[4, 5]);
        let e = r.take_u32("short").unwrap_err();
        assert_eq!((e.payload_type, e.offset), (None, 15), "nothing consumed");
        assert_eq!(r.left(), 2);
        assert!(r.sub(3, None, "d").is_err());
        assert_eq!(r.rest(), &[6, 7]);
        assert!(r.is_empty());
    }

    #[test]
    fn payload_length_is_patched() {
        let mut out = vec![0xee];
        put_payload(&mut out, PayloadType::NONCE, |o| {
            o.extend_from_slice(&[9; 5])
        });
        // next payload, RESERVED, length 9 (4 header + 5 body), body
        assert_eq!(out, [0xee, 10, 0, 0, 9, 9, 9, 9, 9, 9]);
    }
}
