//! A map from scope key text to a value, in least-recently-used order: the open instances
//! of one cross-trace property in the streaming run (Python's `OrderedDict` of instances
//! with `move_to_end`, `stream_run.rs`).
//!
//! A `serve` keeps up to `max_instances` of them open for as long as their keys are live,
//! so each costs what it holds: its key once (an `Arc<str>` shared with the events that
//! name it), its value, two links, in one slab slot; the index is an open-addressing table
//! of (slot, hash) with linear probing, 8 bytes a bucket, at most 3/4 full. A `HashMap`
//! with a separate order queue held the key twice, a bucket sized for the entry, and a
//! queue entry per step.

use std::hash::BuildHasher;
use std::sync::Arc;

use crate::open_index::{OpenIndex, NIL};

/// One slab slot: an entry and its neighbours in the order, or a free slot (`entry` None,
/// `next` the next free slot).
#[derive(Debug)]
struct Slot<V> {
    entry: Option<(Arc<str>, V)>,
    prev: u32,
    next: u32,
}

/// Keys to values, least recently pushed first (see the module docs).
#[derive(Debug)]
pub struct KeyLru<V> {
    slots: Vec<Slot<V>>,
    /// the first free slot (the free ones are chained through `next`)
    free: u32,
    /// the slots by key
    index: OpenIndex,
    len: usize,
    head: u32,
    tail: u32,
    hasher: foldhash::fast::RandomState,
}

impl<V> Default for KeyLru<V> {
    fn default() -> Self {
        KeyLru {
            slots: Vec::new(),
            free: NIL,
            index: OpenIndex::default(),
            len: 0,
            head: NIL,
            tail: NIL,
            hasher: foldhash::fast::RandomState::default(),
        }
    }
}

impl<V> KeyLru<V> {
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    fn hash(&self, key: &str) -> u32 {
        self.hasher.hash_one(key) as u32
    }

    fn key_of(&self, s: u32) -> &str {
        &self.slots[s as usize]
            .entry
            .as_ref()
            .expect("an indexed slot holds an entry")
            .0
    }

    /// The bucket and slot of `key`, if present.
    fn find(&self, key: &str) -> Option<(usize, u32)> {
        self.index.find(self.hash(key), |s| self.key_of(s) == key)
    }

    pub fn contains_key(&self, key: &str) -> bool {
        self.find(key).is_some()
    }

    pub fn get(&self, key: &str) -> Option<&V> {
        let (_, s) = self.find(key)?;
        self.slots[s as usize].entry.as_ref().map(|e| &e.1)
    }

    pub fn get_mut(&mut self, key: &str) -> Option<&mut V> {
        let (_, s) = self.find(key)?;
        self.slots[s as usize].entry.as_mut().map(|e| &mut e.1)
    }

    /// Insert `key` (absent) at the end of the order.
    pub fn push_back(&mut self, key: Arc<str>, value: V) {
        debug_assert!(!self.contains_key(&key), "push_back of a present key");
        let h = self.hash(&key);
        let slot = Slot {
            entry: Some((key, value)),
            prev: self.tail,
            next: NIL,
        };
        let s = match self.free {
            NIL => {
                self.slots.push(slot);
                u32::try_from(self.slots.len() - 1).expect("fewer than 2^32 entries")
            }
            f => {
                self.free = self.slots[f as usize].next;
                self.slots[f as usize] = slot;
                f
            }
        };
        self.index.insert(self.len, s, h);
        match self.tail {
            NIL => self.head = s,
            t => self.slots[t as usize].next = s,
        }
        self.tail = s;
        self.len += 1;
    }

    /// Remove `key`; its value.
    pub fn remove(&mut self, key: &str) -> Option<V> {
        let (hole, s) = self.find(key)?;
        self.index.remove_at(hole);
        Some(self.vacate(s).1)
    }

    /// Unlink slot `s` from the order and free it; its entry.
    fn vacate(&mut self, s: u32) -> (Arc<str>, V) {
        let slot = &mut self.slots[s as usize];
        let (p, n) = (slot.prev, slot.next);
        let entry = slot
            .entry
            .take()
            .expect("a slot in the order holds an entry");
        slot.next = self.free;
        slot.prev = NIL;
        self.free = s;
        match p {
            NIL => self.head = n,
            p => self.slots[p as usize].next = n,
        }
        match n {
            NIL => self.tail = p,
            n => self.slots[n as usize].prev = p,
        }
        self.len -= 1;
        if self.len == 0 {
            // nothing left: the slab starts again; a large one and its table are given
            // back (a small one is kept: one key stepped over and over empties it at
            // every step)
            self.slots.clear();
            self.free = NIL;
            if self.index.buckets() > 64 {
                self.slots = Vec::new();
                self.index = OpenIndex::default();
            }
        }
        entry
    }

    /// Remove the first entry in the order.
    pub fn pop_front(&mut self) -> Option<(Arc<str>, V)> {
        if self.head == NIL {
            return None;
        }
        let key: Arc<str> = Arc::clone(
            &self.slots[self.head as usize]
                .entry
                .as_ref()
                .expect("a slot in the order holds an entry")
                .0,
        );
        let v = self.remove(&key).expect("the first entry is indexed");
        Some((key, v))
    }

    /// The entries, first in the order first.
    pub fn iter(&self) -> impl Iterator<Item = (&Arc<str>, &V)> + '_ {
        let mut s = self.head;
        std::iter::from_fn(move || {
            (s != NIL).then(|| {
                let slot = &self.slots[s as usize];
                s = slot.next;
                let (k, v) = slot
                    .entry
                    .as_ref()
                    .expect("a slot in the order holds an entry");
                (k, v)
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::VecDeque;

    /// The reference: a list of (key, value), oldest first.
    fn check(m: &KeyLru<u32>, r: &VecDeque<(String, u32)>) {
        assert_eq!(m.len(), r.len());
        let got: Vec<(String, u32)> = m.iter().map(|(k, v)| (k.to_string(), *v)).collect();
        let want: Vec<(String, u32)> = r.iter().cloned().collect();
        assert_eq!(got, want);
        for (k, v) in r {
            assert_eq!(m.get(k), Some(v));
        }
    }

    /// Generated operations (a fixed xorshift seed) against a list: pushes, removes,
    /// pops, updates, over few keys so that probe runs collide and wrap.
    #[test]
    fn behaves_as_an_ordered_list() {
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut next = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        for keys in [3u64, 20, 300] {
            let mut m: KeyLru<u32> = KeyLru::default();
            let mut r: VecDeque<(String, u32)> = VecDeque::new();
            for step in 0..20_000u32 {
                let k = format!("k-{}", next() % keys);
                let at = r.iter().position(|(x, _)| *x == k);
                match next() % 4 {
                    0 | 1 => {
                        // step: remove, then push back (as the run steps an instance)
                        let old = m.remove(&k);
                        assert_eq!(old, at.map(|i| r[i].1));
                        if let Some(i) = at {
                            r.remove(i);
                        }
                        m.push_back(Arc::from(k.as_str()), step);
                        r.push_back((k.clone(), step));
                    }
                    2 => {
                        assert_eq!(m.pop_front(), r.pop_front().map(|(k, v)| (Arc::from(k), v)));
                    }
                    _ => {
                        if let Some(v) = m.get_mut(&k) {
                            *v += 1;
                            r[at.expect("present in both")].1 += 1;
                        } else {
                            assert!(at.is_none());
                        }
                    }
                }
                assert_eq!(m.contains_key(&k), r.iter().any(|(x, _)| *x == k));
                if step % 97 == 0 {
                    check(&m, &r);
                }
            }
            check(&m, &r);
            while m.pop_front().is_some() {}
            assert!(m.is_empty() && m.slots.is_empty());
            assert!(m.index.buckets() <= 64 && m.index.is_clear());
            // and it fills again
            m.push_back(Arc::from("again"), 1);
            assert_eq!(
                m.iter().map(|(k, v)| (&**k, *v)).collect::<Vec<_>>(),
                vec![("again", 1)]
            );
        }
    }
}
