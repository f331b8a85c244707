//! Engine scenarios: two engines in memory (see `util::Pair`).

mod captures;
mod dvti;
mod fvrf;
mod gre;
mod handshake;
mod hardening;
mod knobs;
mod lifecycle;
mod liveness;
mod malformed;
mod many_tunnels;
mod mismatch;
mod profiles;
mod rekey;
mod troubleshooting_doc;
mod unreliable;
mod util;
