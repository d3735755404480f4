//! A plain bitmap in bytes, bit `i % 8` of byte `i / 8` (least significant first): the
//! same order as the journal file's pages, so a page is a slice of it.

/// A fixed-length bitmap with a count of set bits.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Bits {
    bytes: Vec<u8>,
    len: u64,
    ones: u64,
}

impl Bits {
    /// `len` clear bits.
    pub fn new(len: u64) -> Bits {
        Bits {
            bytes: vec![0; len.div_ceil(8) as usize],
            len,
            ones: 0,
        }
    }

    /// Set bits.
    pub fn count(&self) -> u64 {
        self.ones
    }

    /// Bit `i` (false past the end).
    pub fn get(&self, i: u64) -> bool {
        i < self.len && self.bytes[(i / 8) as usize] & (1 << (i % 8)) != 0
    }

    /// Sets bit `i`; true when it was clear. Past the end: nothing.
    pub fn set(&mut self, i: u64) -> bool {
        if i >= self.len || self.get(i) {
            return false;
        }
        self.bytes[(i / 8) as usize] |= 1 << (i % 8);
        self.ones += 1;
        true
    }

    /// Clears bit `i`; true when it was set.
    pub fn clear(&mut self, i: u64) -> bool {
        if !self.get(i) {
            return false;
        }
        self.bytes[(i / 8) as usize] &= !(1 << (i % 8));
        self.ones -= 1;
        true
    }

    /// Sets every bit.
    pub fn set_all(&mut self) {
        for i in 0..self.len {
            self.set(i);
        }
    }

    /// The bytes from `start` (at most `n` of them; fewer at the end, none past it).
    pub fn bytes(&self, start: usize, n: usize) -> &[u8] {
        let a = start.min(self.bytes.len());
        let b = (start + n).min(self.bytes.len());
        &self.bytes[a..b]
    }

    /// Sets the bits of `src` (bytes in this order) at byte `start`, ignoring bits past
    /// the end.
    pub fn or_bytes(&mut self, start: usize, src: &[u8]) {
        for (k, &b) in src.iter().enumerate() {
            for bit in 0..8 {
                if b & (1 << bit) != 0 {
                    self.set(((start + k) * 8 + bit) as u64);
                }
            }
        }
    }

    /// The first set bit at or after `from`: skips clear bytes eight at a time, so a scan
    /// of a sparse bitmap costs a byte compare per 64 bits.
    pub fn next_one(&self, from: u64) -> Option<u64> {
        if from >= self.len {
            return None;
        }
        let mut k = (from / 8) as usize;
        let first = self.bytes[k] & (0xffu8 << (from % 8));
        if first != 0 {
            let i = k as u64 * 8 + u64::from(first.trailing_zeros());
            return (i < self.len).then_some(i);
        }
        k += 1;
        while k < self.bytes.len() {
            if let Some(chunk) = self.bytes.get(k..k + 8) {
                if chunk.iter().all(|&b| b == 0) {
                    k += 8;
                    continue;
                }
            }
            let b = self.bytes[k];
            if b != 0 {
                let i = k as u64 * 8 + u64::from(b.trailing_zeros());
                return (i < self.len).then_some(i);
            }
            k += 1;
        }
        None
    }

    /// Indices of the set bits, in order.
    pub fn ones(&self) -> impl Iterator<Item = u64> + '_ {
        self.bytes
            .iter()
            .enumerate()
            .filter(|(_, &b)| b != 0)
            .flat_map(|(k, &b)| {
                (0..8)
                    .filter(move |bit| b & (1 << bit) != 0)
                    .map(move |bit| k as u64 * 8 + bit)
            })
            .filter(move |&i| i < self.len)
    }
}
