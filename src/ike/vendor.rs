//! Vendor IDs: the ones we send (RFC 3706 DPD, RFC 3947 NAT-T) and the Cisco ones IOS
//! sends, recognised for the log; anything else is ignored.

use super::log::VendorKind;
use crate::isakmp::vendor_id;

/// Cisco Unity: 14 fixed bytes, then major and minor version.
const CISCO_UNITY_PREFIX: [u8; 14] = [
    0x12, 0xf5, 0xf2, 0x8c, 0x45, 0x71, 0x68, 0xa9, 0x70, 0x2d, 0x9f, 0xe2, 0x74, 0xcc,
];
/// XAUTH (draft-ietf-ipsec-isakmp-xauth).
const XAUTH: [u8; 8] = [0x09, 0x00, 0x26, 0x89, 0xdf, 0xd6, 0xb7, 0x12];
/// Cisco IKE fragmentation.
const CISCO_FRAGMENTATION: [u8; 16] = [
    0x40, 0x48, 0xb7, 0xd5, 0x6e, 0xbc, 0xe8, 0x85, 0x25, 0xe7, 0xde, 0x7f, 0x00, 0xd6, 0xc2, 0xd3,
];
/// Cisco's own-platform VID prefix (followed by version bytes), which IOS answers with
/// "speaking to another IOS box!".
const CISCO_IOS_PREFIX: [u8; 12] = [
    0x1f, 0x07, 0xf7, 0x0e, 0xaa, 0x65, 0x14, 0xd3, 0xb0, 0xfa, 0x96, 0x54,
];

/// The vendor IDs every MM1/MM2 of ours carries.
pub(crate) fn ours() -> [Vec<u8>; 2] {
    [vendor_id::DPD.to_vec(), vendor_id::NAT_T_RFC3947.to_vec()]
}

pub(crate) fn recognise(vid: &[u8]) -> Option<VendorKind> {
    if vid == vendor_id::DPD {
        Some(VendorKind::Dpd)
    } else if vid == vendor_id::NAT_T_RFC3947 {
        Some(VendorKind::NatTRfc3947)
    } else if vid.starts_with(&CISCO_UNITY_PREFIX) {
        Some(VendorKind::Unity)
    } else if vid == XAUTH {
        Some(VendorKind::Xauth)
    } else if vid.starts_with(&CISCO_FRAGMENTATION) {
        Some(VendorKind::CiscoFragmentation)
    } else if vid.starts_with(&CISCO_IOS_PREFIX) {
        Some(VendorKind::CiscoIos)
    } else {
        None
    }
}
