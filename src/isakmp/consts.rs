//! Codepoints as newtypes with named constants (rustls `enum_builder!` style): unknown
//! values parse, re-encode and print as numbers.

macro_rules! codepoint {
    ($(#[$m:meta])* $name:ident($ty:ty) { $($(#[$cm:meta])* $c:ident = $v:expr),* $(,)? }) => {
        $(#[$m])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(pub $ty);
        impl $name {
            $($(#[$cm])* pub const $c: $name = $name($v);)*
            /// The RFC name, if this is a known value.
            pub fn name(self) -> Option<&'static str> {
                match self.0 { $($v => Some(stringify!($c)),)* _ => None }
            }
        }
        impl std::fmt::Debug for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                match self.name() { Some(n) => f.write_str(n), None => write!(f, "{}({})", stringify!($name), self.0) }
            }
        }
        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                std::fmt::Debug::fmt(self, f)
            }
        }
    };
}

codepoint!(
    /// RFC 2408 3.1 next payload types, RFC 3947 NAT-D/NAT-OA.
    PayloadType(u8) {
        NONE = 0, SA = 1, PROPOSAL = 2, TRANSFORM = 3, KE = 4, ID = 5, CERT = 6, CERT_REQ = 7,
        HASH = 8, SIG = 9, NONCE = 10, NOTIFY = 11, DELETE = 12, VENDOR_ID = 13,
        NAT_D = 20, NAT_OA = 21, NAT_D_DRAFT = 130, NAT_OA_DRAFT = 131,
    }
);

codepoint!(
    /// RFC 2408 3.1 exchange types, RFC 2409 Quick Mode.
    ExchangeType(u8) {
        BASE = 1, MAIN_MODE = 2, AUTH_ONLY = 3, AGGRESSIVE = 4, INFORMATIONAL = 5,
        QUICK_MODE = 32, NEW_GROUP = 33,
    }
);

codepoint!(
    /// RFC 2408 3.4 / RFC 2407 4.4.1 protocol IDs.
    ProtocolId(u8) { RESERVED = 0, ISAKMP = 1, IPSEC_AH = 2, IPSEC_ESP = 3, IPCOMP = 4 }
);

codepoint!(
    /// RFC 2407 4.6.2.1 identification types.
    IdType(u8) {
        ID_IPV4_ADDR = 1, ID_FQDN = 2, ID_USER_FQDN = 3, ID_IPV4_ADDR_SUBNET = 4,
        ID_IPV6_ADDR = 5, ID_IPV6_ADDR_SUBNET = 6, ID_IPV4_ADDR_RANGE = 7,
        ID_IPV6_ADDR_RANGE = 8, ID_DER_ASN1_DN = 9, ID_DER_ASN1_GN = 10, ID_KEY_ID = 11,
    }
);

codepoint!(
    /// RFC 2408 3.14.1 notify messages, RFC 2407 4.6.3 status, RFC 3706 DPD.
    NotifyType(u16) {
        INVALID_PAYLOAD_TYPE = 1, DOI_NOT_SUPPORTED = 2, SITUATION_NOT_SUPPORTED = 3,
        INVALID_COOKIE = 4, INVALID_MAJOR_VERSION = 5, INVALID_MINOR_VERSION = 6,
        INVALID_EXCHANGE_TYPE = 7, INVALID_FLAGS = 8, INVALID_MESSAGE_ID = 9,
        INVALID_PROTOCOL_ID = 10, INVALID_SPI = 11, INVALID_TRANSFORM_ID = 12,
        ATTRIBUTES_NOT_SUPPORTED = 13, NO_PROPOSAL_CHOSEN = 14, BAD_PROPOSAL_SYNTAX = 15,
        PAYLOAD_MALFORMED = 16, INVALID_KEY_INFORMATION = 17, INVALID_ID_INFORMATION = 18,
        INVALID_CERT_ENCODING = 19, INVALID_CERTIFICATE = 20, CERT_TYPE_UNSUPPORTED = 21,
        INVALID_CERT_AUTHORITY = 22, INVALID_HASH_INFORMATION = 23, AUTHENTICATION_FAILED = 24,
        INVALID_SIGNATURE = 25, ADDRESS_NOTIFICATION = 26, NOTIFY_SA_LIFETIME = 27,
        CERTIFICATE_UNAVAILABLE = 28, UNSUPPORTED_EXCHANGE_TYPE = 29, UNEQUAL_PAYLOAD_LENGTHS = 30,
        CONNECTED = 16384, RESPONDER_LIFETIME = 24576, REPLAY_STATUS = 24577,
        INITIAL_CONTACT = 24578, R_U_THERE = 36136, R_U_THERE_ACK = 36137,
    }
);

/// DOI: IPsec (RFC 2407).
pub const DOI_IPSEC: u32 = 1;
/// Situation: SIT_IDENTITY_ONLY.
pub const SIT_IDENTITY_ONLY: u32 = 1;
/// Phase 1 transform ID KEY_IKE.
pub const KEY_IKE: u8 = 1;

/// Phase 1 attribute types (RFC 2409 appendix A).
pub mod p1_attr {
    pub const ENCRYPTION_ALGORITHM: u16 = 1;
    pub const HASH_ALGORITHM: u16 = 2;
    pub const AUTHENTICATION_METHOD: u16 = 3;
    pub const GROUP_DESCRIPTION: u16 = 4;
    pub const LIFE_TYPE: u16 = 11;
    pub const LIFE_DURATION: u16 = 12;
    pub const KEY_LENGTH: u16 = 14;
    /// Authentication method: pre-shared key.
    pub const AUTH_PRE_SHARED: u16 = 1;
    pub const LIFE_SECONDS: u16 = 1;
    pub const LIFE_KILOBYTES: u16 = 2;
}

/// IPsec DOI SA attributes (RFC 2407 4.5, RFC 3947 encapsulation modes).
pub mod p2_attr {
    pub const SA_LIFE_TYPE: u16 = 1;
    pub const SA_LIFE_DURATION: u16 = 2;
    pub const GROUP_DESCRIPTION: u16 = 3;
    pub const ENCAPSULATION_MODE: u16 = 4;
    pub const AUTHENTICATION_ALGORITHM: u16 = 5;
    pub const KEY_LENGTH: u16 = 6;
    pub const LIFE_SECONDS: u16 = 1;
    pub const LIFE_KILOBYTES: u16 = 2;
    pub const ENCAP_TUNNEL: u16 = 1;
    pub const ENCAP_TRANSPORT: u16 = 2;
    pub const ENCAP_UDP_TUNNEL: u16 = 3;
    pub const ENCAP_UDP_TRANSPORT: u16 = 4;
    /// draft-ietf-ipsec-nat-t-ike-0x values, still sent by older peers.
    pub const ENCAP_UDP_TUNNEL_DRAFT: u16 = 61443;
    pub const ENCAP_UDP_TRANSPORT_DRAFT: u16 = 61444;
}

/// Vendor IDs we send or recognise.
pub mod vendor_id {
    /// RFC 3706 DPD.
    pub const DPD: [u8; 16] = [
        0xaf, 0xca, 0xd7, 0x13, 0x68, 0xa1, 0xf1, 0xc9, 0x6b, 0x86, 0x96, 0xfc, 0x77, 0x57, 0x01,
        0x00,
    ];
    /// RFC 3947 NAT-T: MD5("RFC 3947").
    pub const NAT_T_RFC3947: [u8; 16] = [
        0x4a, 0x13, 0x1c, 0x81, 0x07, 0x03, 0x58, 0x45, 0x5c, 0x57, 0x28, 0xf2, 0x0e, 0x95, 0x45,
        0x2f,
    ];
}
