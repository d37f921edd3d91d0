//! Shared by the fuzz targets: how a fuzz input picks its options and where the byte stream
//! is split into reads.
//!
//! An input is `[flags, seed, payload...]`. `flags` picks the target's options; `seed`
//! drives a small xorshift generator that cuts `payload` into pieces of 1 to 64 bytes
//! (seed 0: the whole payload as one read), so the fuzzer explores both the bytes and the
//! read boundaries.

/// The options byte, the split seed and the payload of one fuzz input.
pub struct Input<'a> {
    pub flags: u8,
    pub seed: u8,
    pub payload: &'a [u8],
}

impl<'a> Input<'a> {
    /// `None` for inputs too short to carry the two leading bytes.
    pub fn parse(data: &'a [u8]) -> Option<Self> {
        match data {
            [flags, seed, payload @ ..] => Some(Input {
                flags: *flags,
                seed: *seed,
                payload,
            }),
            _ => None,
        }
    }

    /// The payload cut into the reads the seed chooses.
    pub fn pieces(&self) -> Vec<&'a [u8]> {
        if self.seed == 0 {
            return vec![self.payload];
        }
        let mut state = u32::from(self.seed).wrapping_mul(0x9E37_79B9) | 1;
        let mut rest = self.payload;
        let mut out = Vec::new();
        while !rest.is_empty() {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            let len = (1 + state as usize % 64).min(rest.len());
            let (piece, tail) = rest.split_at(len);
            out.push(piece);
            rest = tail;
        }
        out
    }
}
