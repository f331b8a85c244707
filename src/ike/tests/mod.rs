//! Engine scenarios: two engines in memory (see `util::Pair`).

mod handshake;
mod lifecycle;
mod malformed;
mod mismatch;
mod unreliable;
mod util;
