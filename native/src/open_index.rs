//! An open-addressing index of slab slots by a 32-bit hash: (slot, hash) pairs in a table
//! a power of two long and at most 3/4 full, linear probing, backward-shift deletion.
//!
//! The open traces (`assembly.rs`), the open cross-trace instances (`key_lru.rs`) and the
//! file-mode buckets (`cross.rs`) each keep their entries in a slab and find them through
//! one of these: 8 bytes a bucket, where a `HashMap` entry would hold the key itself. The
//! owner hashes its keys and tells, given a slot, whether it holds the key sought.

/// The slot of an empty bucket (and the owners' "no slot").
pub const NIL: u32 = u32::MAX;

#[derive(Debug, Default, Clone)]
pub struct OpenIndex {
    /// (slot, its key's hash) or (NIL, 0)
    table: Vec<(u32, u32)>,
}

impl OpenIndex {
    /// The table position and slot of the entry of hash `h` whose slot `is` the key's.
    pub fn find(&self, h: u32, mut is: impl FnMut(u32) -> bool) -> Option<(usize, u32)> {
        if self.table.is_empty() {
            return None;
        }
        let mask = self.table.len() - 1;
        let mut i = h as usize & mask;
        loop {
            let (s, hh) = self.table[i];
            if s == NIL {
                return None;
            }
            if hh == h && is(s) {
                return Some((i, s));
            }
            i = (i + 1) & mask;
        }
    }

    /// Index slot `s` (hash `h`, absent), with `len` entries indexed before it: the table
    /// doubles first when one more would fill it past 3/4.
    pub fn insert(&mut self, len: usize, s: u32, h: u32) {
        if (len + 1) * 4 > self.table.len() * 3 {
            let mut table = vec![(NIL, 0); (self.table.len() * 2).max(16)];
            for &(s, h) in self.table.iter().filter(|e| e.0 != NIL) {
                place(&mut table, s, h);
            }
            self.table = table;
        }
        place(&mut self.table, s, h);
    }

    /// Remove the entry at table position `hole` (from [`OpenIndex::find`]): later entries
    /// of its run move into the hole when their home bucket is not between it and them, so
    /// every probe still finds them.
    pub fn remove_at(&mut self, mut hole: usize) {
        let mask = self.table.len() - 1;
        let mut j = (hole + 1) & mask;
        while self.table[j].0 != NIL {
            let home = self.table[j].1 as usize & mask;
            if (j.wrapping_sub(home) & mask) >= (j.wrapping_sub(hole) & mask) {
                self.table[hole] = self.table[j];
                hole = j;
            }
            j = (j + 1) & mask;
        }
        self.table[hole] = (NIL, 0);
    }

    /// How many buckets the table has (for tests of what a run gives back).
    pub fn buckets(&self) -> usize {
        self.table.len()
    }

    /// Whether no bucket holds a slot.
    pub fn is_clear(&self) -> bool {
        self.table.iter().all(|e| e.0 == NIL)
    }
}

fn place(table: &mut [(u32, u32)], s: u32, h: u32) {
    let mask = table.len() - 1;
    let mut i = h as usize & mask;
    while table[i].0 != NIL {
        i = (i + 1) & mask;
    }
    table[i] = (s, h);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Generated inserts and removals, with colliding hashes, against a plain list: every
    /// present slot is found at its hash, no removed one is, and the table stays at most
    /// 3/4 full.
    #[test]
    fn index_agrees_with_a_list_under_inserts_and_removals() {
        let mut rng = crate::test_rng::Rng(0x9e37_79b9);
        let mut index = OpenIndex::default();
        let mut present: Vec<(u32, u32)> = vec![];
        let hash_of = |s: u32| (s % 7).wrapping_mul(0x1000_0001); // many collisions
        for step in 0..5_000u32 {
            if present.is_empty() || rng.below(3) != 0 {
                let s = step;
                index.insert(present.len(), s, hash_of(s));
                present.push((s, hash_of(s)));
            } else {
                let k = rng.index(present.len());
                let (s, h) = present.swap_remove(k);
                let (i, got) = index.find(h, |x| x == s).expect("present");
                assert_eq!(got, s);
                index.remove_at(i);
                assert!(index.find(h, |x| x == s).is_none());
            }
            assert!(present.len() * 4 <= index.buckets() * 3);
        }
        for &(s, h) in &present {
            assert_eq!(index.find(h, |x| x == s).map(|e| e.1), Some(s));
        }
        for &(s, h) in present.clone().iter() {
            let (i, _) = index.find(h, |x| x == s).unwrap();
            index.remove_at(i);
        }
        assert!(index.is_clear());
    }
}
