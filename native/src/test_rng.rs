//! A seeded xorshift generator for the generated tests: the same cases on every run, so a
//! failure is reproduced by running the test again.

pub struct Rng(pub u64);

impl Rng {
    pub fn word(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// A number below `n` (`n` > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.word() % n
    }

    /// An index below `n` (`n` > 0).
    pub fn index(&mut self, n: usize) -> usize {
        self.below(n as u64) as usize
    }

    /// `n` trace ids of at most `distinct` (> 0) values, so that equal ids (a trace id
    /// completed twice) are common when `distinct` is small.
    pub fn trace_ids(&mut self, n: usize, distinct: u64) -> Vec<[u8; 16]> {
        (0..n).map(|_| [self.below(distinct) as u8; 16]).collect()
    }
}
