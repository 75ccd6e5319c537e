//! A min-queue of large items by a small leading key: what the streaming run buffers its
//! cross-trace events in until the watermark passes them (`stream_run.rs`).
//!
//! `BinaryHeap<Reverse<T>>` moves whole items on every sift and compares them in full; a
//! `serve` under load keeps a few hundred thousand events buffered (the lateness window),
//! so every push and pop walked a heap of 72-byte items through the cache. Here the heap
//! holds 16-byte entries, `(primary key, slab index)`, and the items stay put in a slab;
//! two entries are told apart by the primary key, and only when it ties by the items'
//! own order. Items come out in exactly `BinaryHeap<Reverse<T>>`'s order when `T`'s order
//! is total and starts with the primary key (`Keyed::primary`).

/// An item with a total order whose first component is [`Keyed::primary`].
pub trait Keyed: Ord {
    fn primary(&self) -> u64;
}

pub struct EventQueue<T> {
    /// a binary min-heap of (primary key, slab index)
    heap: Vec<(u64, u32)>,
    slab: Vec<Option<T>>,
    free: Vec<u32>,
}

impl<T> Default for EventQueue<T> {
    fn default() -> Self {
        EventQueue {
            heap: Vec::new(),
            slab: Vec::new(),
            free: Vec::new(),
        }
    }
}

impl<T: Keyed> EventQueue<T> {
    pub fn len(&self) -> usize {
        self.heap.len()
    }

    pub fn is_empty(&self) -> bool {
        self.heap.is_empty()
    }

    fn item(&self, i: u32) -> &T {
        self.slab[i as usize].as_ref().expect("a queued item")
    }

    /// `a` goes before `b`.
    fn before(&self, a: (u64, u32), b: (u64, u32)) -> bool {
        if a.0 != b.0 {
            return a.0 < b.0;
        }
        self.item(a.1) < self.item(b.1)
    }

    pub fn push(&mut self, item: T) {
        let key = item.primary();
        let i = match self.free.pop() {
            Some(i) => {
                self.slab[i as usize] = Some(item);
                i
            }
            None => {
                self.slab.push(Some(item));
                u32::try_from(self.slab.len() - 1).expect("fewer than 2^32 queued items")
            }
        };
        let e = (key, i);
        let mut pos = self.heap.len();
        self.heap.push(e);
        while pos > 0 {
            let parent = (pos - 1) / 2;
            if !self.before(e, self.heap[parent]) {
                break;
            }
            self.heap[pos] = self.heap[parent];
            pos = parent;
        }
        self.heap[pos] = e;
    }

    /// The first item's primary key.
    pub fn peek_primary(&self) -> Option<u64> {
        self.heap.first().map(|e| e.0)
    }

    pub fn pop(&mut self) -> Option<T> {
        let last = self.heap.pop()?;
        let top = if self.heap.is_empty() {
            last
        } else {
            let top = self.heap[0];
            // the hole at the root goes down to where `last` belongs
            let n = self.heap.len();
            let mut pos = 0;
            loop {
                let mut child = 2 * pos + 1;
                if child >= n {
                    break;
                }
                if child + 1 < n && self.before(self.heap[child + 1], self.heap[child]) {
                    child += 1;
                }
                if !self.before(self.heap[child], last) {
                    break;
                }
                self.heap[pos] = self.heap[child];
                pos = child;
            }
            self.heap[pos] = last;
            top
        };
        self.free.push(top.1);
        self.slab[top.1 as usize].take()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_rng::Rng;
    use std::cmp::Reverse;
    use std::collections::BinaryHeap;

    #[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
    struct Item(u64, u8, u64);

    impl Keyed for Item {
        fn primary(&self) -> u64 {
            self.0
        }
    }

    #[test]
    fn items_come_out_in_binary_heap_order() {
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        for round in 0..200 {
            let mut q = EventQueue::default();
            let mut h = BinaryHeap::new();
            let mut seq = 0;
            // few distinct times: ties on the primary key are common
            let times = 1 + rng.below(if round % 2 == 0 { 4 } else { 1000 });
            for _ in 0..rng.index(300) {
                if rng.below(3) == 0 {
                    assert_eq!(q.pop(), h.pop().map(|Reverse(x)| x));
                } else {
                    seq += 1;
                    let (t, b) = (rng.below(times), rng.below(3) as u8);
                    q.push(Item(t, b, seq));
                    h.push(Reverse(Item(t, b, seq)));
                }
                assert_eq!(q.len(), h.len());
                assert_eq!(q.peek_primary(), h.peek().map(|r| r.0 .0));
            }
            while let Some(Reverse(x)) = h.pop() {
                assert_eq!(q.pop(), Some(x));
            }
            assert!(q.is_empty() && q.pop().is_none());
        }
    }
}
