//! ESP anti-replay window (RFC 4303 3.4.3), a bitmap ring in the shape of boringtun's
//! `ReceivingKeyCounterValidator`: `check` is cheap and runs before the ICV; `mark`
//! runs only once the ICV is good, so forged packets cannot move the window.
//!
//! Owned by the one receive thread that handles the SA: no atomics, no lock.
//!
//! A window of size 0 is IOS's `set security-association replay disable`: the receiver
//! checks nothing (RFC 4303 3.4.3: the receiver may disable anti-replay, "the sender
//! does not know"), as the kernel does for an XFRM state whose replay window is 0.

const WORD_BITS: u32 = 64;
/// Ring words: a power of two, one word more than the largest window so that moving
/// to a new word never clears bits still inside the window.
const RING_WORDS: u32 = 32;
/// Largest window in packets (IOS's largest `replay window-size` is 1024); IOS's
/// default is 64.
pub(crate) const MAX_WINDOW: u32 = (RING_WORDS - 1) * WORD_BITS;
pub(crate) const MIN_WINDOW: u32 = 64;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Replay {
    /// Sequence number 0 is never sent (RFC 4303 3.3.3: the first packet is 1).
    Zero,
    /// Left of the window.
    TooOld,
    /// Already received.
    Duplicate,
}

#[derive(Clone)]
pub(crate) struct ReplayWindow {
    /// Highest sequence number accepted so far; 0 before the first.
    top: u32,
    /// 0: no anti-replay check (`replay disable`).
    size: u32,
    /// Bit `seq % (RING_WORDS * 64)`; bits above `top` are always clear.
    ring: [u64; RING_WORDS as usize],
}

impl std::fmt::Debug for ReplayWindow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ReplayWindow(top={}, size={})", self.top, self.size)
    }
}

fn locate(seq: u32) -> (usize, u64) {
    let word = (seq / WORD_BITS) % RING_WORDS;
    (word as usize, 1u64 << (seq % WORD_BITS))
}

impl ReplayWindow {
    /// A window of `size` packets, clamped to `MIN_WINDOW..=MAX_WINDOW`; 0 checks
    /// nothing.
    pub fn new(size: u32) -> Self {
        ReplayWindow {
            top: 0,
            size: if size == 0 {
                0
            } else {
                size.clamp(MIN_WINDOW, MAX_WINDOW)
            },
            ring: [0; RING_WORDS as usize],
        }
    }

    /// Would `seq` be accepted? Cheap; call before checking the ICV.
    pub fn check(&self, seq: u32) -> Result<(), Replay> {
        if self.size == 0 {
            return Ok(());
        }
        if seq == 0 {
            return Err(Replay::Zero);
        }
        if seq > self.top {
            return Ok(());
        }
        if self.top - seq >= self.size {
            return Err(Replay::TooOld);
        }
        let (word, bit) = locate(seq);
        if self.ring[word] & bit != 0 {
            return Err(Replay::Duplicate);
        }
        Ok(())
    }

    /// Record `seq` as received; call only after its ICV checked out.
    pub fn mark(&mut self, seq: u32) -> Result<(), Replay> {
        self.check(seq)?;
        if self.size == 0 {
            return Ok(());
        }
        if seq > self.top {
            // Clear the words entered between the old top and seq; the word holding
            // the old top keeps its bits (all at or below top).
            let from = self.top / WORD_BITS;
            let to = seq / WORD_BITS;
            let steps = (to - from).min(RING_WORDS);
            for i in 1..=steps {
                self.ring[((from + i) % RING_WORDS) as usize] = 0;
            }
            self.top = seq;
        }
        let (word, bit) = locate(seq);
        self.ring[word] |= bit;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn accept(w: &mut ReplayWindow, seq: u32) -> Result<(), Replay> {
        w.check(seq)?;
        w.mark(seq)
    }

    #[test]
    fn in_order_and_reordered_inside_the_window_pass_once() {
        let mut w = ReplayWindow::new(64);
        for seq in [1, 2, 3, 10, 5, 4, 9, 6] {
            assert_eq!(accept(&mut w, seq), Ok(()), "seq {seq}");
        }
        for seq in [1, 4, 10, 6] {
            assert_eq!(accept(&mut w, seq), Err(Replay::Duplicate), "seq {seq}");
        }
        assert_eq!(accept(&mut w, 7), Ok(()));
    }

    #[test]
    fn zero_is_never_accepted() {
        let w = ReplayWindow::new(64);
        assert_eq!(w.check(0), Err(Replay::Zero));
    }

    #[test]
    fn left_of_the_window_is_too_old() {
        let mut w = ReplayWindow::new(64);
        accept(&mut w, 100).unwrap();
        // 100 - 37 = 63 < 64: still inside; 100 - 36 = 64: outside.
        assert_eq!(w.check(37), Ok(()));
        assert_eq!(w.check(36), Err(Replay::TooOld));
        assert_eq!(accept(&mut w, 37), Ok(()));
        assert_eq!(accept(&mut w, 37), Err(Replay::Duplicate));
    }

    #[test]
    fn far_ahead_jump_clears_stale_bits() {
        let mut w = ReplayWindow::new(64);
        for seq in 1..=200 {
            accept(&mut w, seq).unwrap();
        }
        // A jump of many ring lengths: every old bit must be gone, so sequence numbers
        // that alias the old ones modulo the ring are new.
        let far = 200 + 10 * RING_WORDS * WORD_BITS;
        assert_eq!(accept(&mut w, far), Ok(()));
        assert_eq!(accept(&mut w, far - 1), Ok(()));
        assert_eq!(accept(&mut w, far - 63), Ok(()));
        assert_eq!(accept(&mut w, far - 64), Err(Replay::TooOld));
        assert_eq!(accept(&mut w, far), Err(Replay::Duplicate));
    }

    #[test]
    fn jump_by_less_than_the_ring_keeps_window_bits() {
        let mut w = ReplayWindow::new(1024);
        for seq in 1..=2000 {
            accept(&mut w, seq).unwrap();
        }
        accept(&mut w, 2500).unwrap();
        // 2000 is inside the 1024 window behind 2500 and was received.
        assert_eq!(w.check(2000), Err(Replay::Duplicate));
        // 2100..2499 were never received.
        assert_eq!(accept(&mut w, 2300), Ok(()));
        assert_eq!(w.check(2500 - 1024), Err(Replay::TooOld));
    }

    #[test]
    fn window_size_is_clamped() {
        let mut w = ReplayWindow::new(32);
        accept(&mut w, 1000).unwrap();
        assert_eq!(w.check(1000 - 63), Ok(()));
        assert_eq!(w.check(1000 - 64), Err(Replay::TooOld));
        let mut w = ReplayWindow::new(u32::MAX);
        accept(&mut w, 5000).unwrap();
        assert_eq!(w.check(5000 - MAX_WINDOW + 1), Ok(()));
        assert_eq!(w.check(5000 - MAX_WINDOW), Err(Replay::TooOld));
    }

    /// `replay disable`: duplicates, old and zero sequence numbers all pass.
    #[test]
    fn a_zero_window_checks_nothing() {
        let mut w = ReplayWindow::new(0);
        for seq in [5000, 5000, 1, 0, 4999, 1] {
            assert_eq!(accept(&mut w, seq), Ok(()), "seq {seq}");
        }
    }

    /// IOS's `replay window-size 1024`: 1023 behind the top still passes.
    #[test]
    fn a_1024_window_reaches_1023_back() {
        let mut w = ReplayWindow::new(1024);
        accept(&mut w, 3000).unwrap();
        assert_eq!(accept(&mut w, 3000 - 1023), Ok(()));
        assert_eq!(w.check(3000 - 1024), Err(Replay::TooOld));
    }

    #[test]
    fn last_sequence_number_is_accepted() {
        let mut w = ReplayWindow::new(64);
        accept(&mut w, u32::MAX - 1).unwrap();
        assert_eq!(accept(&mut w, u32::MAX), Ok(()));
        assert_eq!(accept(&mut w, u32::MAX), Err(Replay::Duplicate));
    }
}
