//! A tiny seeded generator for tests that pick at random but must be repeatable.

/// xorshift64*, its state mixed from a key and a seed (so neighbouring keys start far
/// apart; never zero): deterministic, good enough to pick policies and faults.
pub struct XorShift(u64);

impl XorShift {
    pub fn new(key: u64, seed: u64) -> XorShift {
        let mut z = key.wrapping_add(seed).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        XorShift((z ^ (z >> 31)) | 1)
    }

    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// A number in `0..n` (`0` when `n` is 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}
