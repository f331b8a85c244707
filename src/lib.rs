//! ikev1d: an IKEv1 daemon that makes a Linux router a drop-in peer for a Cisco IOS
//! router running a route-based VTI. See docs/design.md for the layering:
//! cli -> config -> daemon -> ike -> isakmp -> crypto, with dataplane beside daemon.
#![deny(unsafe_code)]

pub mod cli;
pub mod config;
pub mod crypto;
pub mod daemon;
pub mod dataplane;
pub mod ike;
pub mod isakmp;
#[cfg(test)]
pub mod testutil;
