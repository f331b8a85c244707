//! ikev1d: an IKEv1 daemon that makes a Linux router a drop-in peer for a Cisco IOS
//! router running a route-based VTI (docs/design.md).
//!
//! Layers, each naming only those below it (tests/layering.rs checks the source):
//!
//! ```text
//! cli -> daemon -> config -> ike ------> isakmp -> crypto
//!                     \        \-------> ipsec --> crypto
//!                      \-> dataplane --> ipsec
//! ```
//! `ike` (the sans-I/O engine) and `dataplane` (kernel XFRM or userspace ESP) never
//! name each other: the engine produces `ipsec::SaSpec`s, the daemon hands them to the
//! data path with the tunnel they belong to. `config` derives what both need.
#![deny(unsafe_code)]

pub mod cli;
pub mod config;
pub mod crypto;
pub mod daemon;
pub mod dataplane;

pub mod ike;
pub mod ipsec;
pub mod isakmp;
#[cfg(test)]
pub mod testutil;
