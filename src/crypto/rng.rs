//! Randomness is injected (engine tests are deterministic): nonces, cookies, DH secrets,
//! IVs and jitter all come from a `Rng`.

pub trait Rng: Send {
    fn fill(&mut self, buf: &mut [u8]);
    fn next_u32(&mut self) -> u32 {
        let mut b = [0u8; 4];
        self.fill(&mut b);
        u32::from_be_bytes(b)
    }
}

/// The operating system's CSPRNG (getrandom).
#[derive(Debug, Default, Clone, Copy)]
pub struct OsRng;

impl Rng for OsRng {
    fn fill(&mut self, buf: &mut [u8]) {
        getrandom::fill(buf).expect("getrandom failed");
    }
}

/// Deterministic generator for tests and benchmarks (SplitMix64): never for real keys,
/// so only test builds and the `test-rng` feature (the benchmarks) have it.
#[cfg(any(test, feature = "test-rng"))]
#[derive(Debug, Clone)]
pub struct TestRng(u64);

#[cfg(any(test, feature = "test-rng"))]
impl TestRng {
    pub fn new(seed: u64) -> Self {
        TestRng(seed)
    }
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}

#[cfg(any(test, feature = "test-rng"))]
impl Rng for TestRng {
    fn fill(&mut self, buf: &mut [u8]) {
        for chunk in buf.chunks_mut(8) {
            let v = self.next_u64().to_le_bytes();
            chunk.copy_from_slice(&v[..chunk.len()]);
        }
    }
}
