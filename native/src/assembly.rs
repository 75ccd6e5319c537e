//! Trace assembly in file mode: spans grouped by trace id, every open trace complete at end
//! of input.
//!
//! The reference is `runtime_monitor/assembly.py`'s `Assembler` with a constant clock (the
//! file mode the monitor uses for files): the same duplicate and late rules, the same LRU
//! eviction by last activity checked after each `add`, the same memory of handed-out traces
//! (`remember_completed`, default `max_open_traces`), the same outcomes, reasons (word for
//! word) and counters, and `close` in the same order. Streaming mode is the same assembler
//! with a clock: [`FileAssembler::add_at`] stamps each trace's last activity and
//! [`FileAssembler::poll`] hands out the traces that are idle (the sidecar's
//! `StreamingMonitor`, through `stream_run.rs`).

use std::collections::BTreeMap;

use foldhash::{HashMap, HashSet};

use crate::open_index::{OpenIndex, NIL};
use crate::order::Trace;
use crate::store::SpanStore;

/// How a trace was handed out (Python's `AssemblyResult.outcome`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Outcome {
    // declared in the order of the names, so the derived order is Python's string order
    Complete,
    Incomplete,
    Late,
}

impl Outcome {
    pub fn name(self) -> &'static str {
        match self {
            Outcome::Complete => "complete",
            Outcome::Incomplete => "incomplete",
            Outcome::Late => "late",
        }
    }
}

/// One trace handed out (Python's `AssemblyResult`).
#[derive(Debug)]
pub struct Assembled {
    pub trace: Trace,
    pub outcome: Outcome,
    pub reason: String,
}

/// How many spans an open trace holds before its span ids get a set of their own
/// (duplicate checks stay linear in the trace's size).
const SET_FROM: usize = 32;

/// Span `sid` of open trace `s` into the trace's set of span ids, which is made once the
/// trace has [`SET_FROM`] spans: from its `packed` ones and `unpacked` (its others, `sid`
/// among them).
fn note_span<'a>(
    sets: &mut HashMap<u32, HashSet<[u8; 8]>>,
    s: u32,
    sid: [u8; 8],
    packed: &'a [u8],
    unpacked: impl ExactSizeIterator<Item = &'a [u8; 8]>,
) {
    match sets.get_mut(&s) {
        Some(set) => {
            set.insert(sid);
        }
        None if SpanStore::packed_len(packed) + unpacked.len() >= SET_FROM => {
            let set = SpanStore::packed_ids(packed)
                .chain(unpacked)
                .copied()
                .collect();
            sets.insert(s, set);
        }
        None => {}
    }
}

/// In unpacked mode, the store may hold this many rows beyond twice the open spans before
/// the open traces are packed ([`FileAssembler::unpacked`]).
const COMPACT_FROM: usize = 1 << 20;

/// One open trace: its spans packed by the store ([`SpanStore::pack`]; one chunk per
/// `add` that brought some), a place in the order of last activity, its flags.
#[derive(Debug)]
struct Slot {
    tid: [u8; 16],
    packed: Box<[u8]>,
    /// the neighbours in the order of last activity (NIL at the ends)
    prev: u32,
    next: u32,
    /// during an `add`: the index of this trace's list of new rows in `Pending`, or NIL
    pend: u32,
    /// the clock at the trace's last span (streaming; 0 in file mode)
    last_ns: i64,
    /// the earliest start of its spans: the order in which `close` hands traces out
    /// (known before they are unpacked, so each is unpacked only when its turn comes)
    start_ns: u64,
    late: bool,
    /// a span without a parent arrived (streaming: the trace may complete when idle)
    has_root: bool,
}

/// The open traces, as cheap per trace as the assembler's job allows (a 56-byte slot, an
/// 8-byte bucket and the packed spans): slots in a slab (freed ones reused), found by
/// trace id through an open-addressing table of (slot, hash) with linear probing, in the
/// order of last activity (Python's `OrderedDict` with `move_to_end`) as a list linked
/// through the slots.
#[derive(Debug, Default)]
struct OpenTraces {
    slots: Vec<Slot>,
    free: Vec<u32>,
    /// the slots by trace id
    index: OpenIndex,
    len: usize,
    head: u32,
    tail: u32,
    hasher: foldhash::fast::RandomState,
    /// the span ids of the open traces of SET_FROM spans or more, by slot
    sets: HashMap<u32, HashSet<[u8; 8]>>,
}

impl OpenTraces {
    fn new() -> OpenTraces {
        OpenTraces {
            head: NIL,
            tail: NIL,
            ..OpenTraces::default()
        }
    }

    fn hash(&self, tid: &[u8; 16]) -> u32 {
        use std::hash::BuildHasher;
        self.hasher.hash_one(tid) as u32
    }

    /// The bucket and slot of trace `tid`, if it is open.
    fn find(&self, tid: &[u8; 16]) -> Option<(usize, u32)> {
        self.index
            .find(self.hash(tid), |s| self.slots[s as usize].tid == *tid)
    }

    /// Open trace `tid` (absent) at the end of the order; its slot.
    fn insert(&mut self, tid: [u8; 16], last_ns: i64, late: bool) -> u32 {
        let slot = Slot {
            tid,
            packed: Box::default(),
            prev: self.tail,
            next: NIL,
            pend: NIL,
            last_ns,
            start_ns: u64::MAX,
            late,
            has_root: false,
        };
        let s = match self.free.pop() {
            Some(s) => {
                self.slots[s as usize] = slot;
                s
            }
            None => {
                self.slots.push(slot);
                u32::try_from(self.slots.len() - 1).expect("fewer than 2^32 open traces")
            }
        };
        let h = self.hash(&tid);
        self.index.insert(self.len, s, h);
        self.link_last(s);
        self.len += 1;
        s
    }

    fn link_last(&mut self, s: u32) {
        self.slots[s as usize].prev = self.tail;
        self.slots[s as usize].next = NIL;
        match self.tail {
            NIL => self.head = s,
            t => self.slots[t as usize].next = s,
        }
        self.tail = s;
    }

    fn unlink(&mut self, s: u32) {
        let (p, n) = (self.slots[s as usize].prev, self.slots[s as usize].next);
        match p {
            NIL => self.head = n,
            p => self.slots[p as usize].next = n,
        }
        match n {
            NIL => self.tail = p,
            n => self.slots[n as usize].prev = p,
        }
    }

    fn move_to_end(&mut self, s: u32) {
        if self.tail != s {
            self.unlink(s);
            self.link_last(s);
        }
    }

    /// Close trace `tid` (open): its slot's number (free now) and its tid, packed spans
    /// and flags.
    fn remove(&mut self, tid: &[u8; 16]) -> (u32, Slot) {
        let (hole, s) = self.find(tid).expect("an open trace");
        self.index.remove_at(hole);
        self.unlink(s);
        self.sets.remove(&s);
        self.len -= 1;
        let empty = Slot {
            tid: [0; 16],
            packed: Box::default(),
            prev: NIL,
            next: NIL,
            pend: NIL,
            last_ns: 0,
            start_ns: u64::MAX,
            late: false,
            has_root: false,
        };
        let out = std::mem::replace(&mut self.slots[s as usize], empty);
        if self.len == 0 {
            // nothing open: give the slab and the table back
            *self = OpenTraces {
                hasher: self.hasher.clone(),
                ..OpenTraces::new()
            };
        } else {
            self.free.push(s);
        }
        (s, out)
    }

    /// The slots from the least recently active on.
    fn in_order(&self) -> impl Iterator<Item = u32> + '_ {
        let mut s = self.head;
        std::iter::from_fn(move || {
            (s != NIL).then(|| {
                let out = s;
                s = self.slots[s as usize].next;
                out
            })
        })
    }
}

/// The rows an `add` accepted, per open trace (lists reused from `add` to `add`).
#[derive(Debug, Default)]
struct Pending {
    /// (slot, its new rows in input order, their span ids); the first `used` are this
    /// add's
    lists: Vec<(u32, Vec<u32>, Vec<[u8; 8]>)>,
    used: usize,
}

/// An insertion-ordered map (Python's `OrderedDict` of handed-out traces): entries in a
/// hash map, their order as stamps in a B-tree.
#[derive(Debug)]
struct Lru<V> {
    map: HashMap<[u8; 16], (u64, V)>,
    order: BTreeMap<u64, [u8; 16]>,
    next: u64,
}

impl<V> Default for Lru<V> {
    fn default() -> Self {
        Lru {
            map: HashMap::default(),
            order: BTreeMap::new(),
            next: 0,
        }
    }
}

impl<V> Lru<V> {
    fn len(&self) -> usize {
        self.map.len()
    }

    fn get(&self, k: &[u8; 16]) -> Option<&V> {
        self.map.get(k).map(|(_, v)| v)
    }

    /// Insert at the end (the key must be absent).
    fn push(&mut self, k: [u8; 16], v: V) {
        let s = self.next;
        self.next += 1;
        self.order.insert(s, k);
        self.map.insert(k, (s, v));
    }

    fn remove(&mut self, k: &[u8; 16]) -> Option<V> {
        let (s, v) = self.map.remove(k)?;
        self.order.remove(&s);
        Some(v)
    }

    fn first(&self) -> Option<[u8; 16]> {
        self.order.values().next().copied()
    }
}

/// Python's `Assembler` in file mode; see the module docs.
#[derive(Debug)]
pub struct FileAssembler {
    pub max_open_traces: usize,
    pub remember_completed: usize,
    open: OpenTraces,
    /// span ids (sorted) of the last `remember_completed` traces handed out
    done: Lru<Box<[[u8; 8]]>>,
    open_spans: usize,
    pending: Pending,
    /// Unpacked mode ([`FileAssembler::unpacked`]): per slot, its spans that are still
    /// store rows. None when every open trace's spans wait packed.
    held: Option<Vec<Vec<u32>>>,
    /// unpacked mode packs the open traces when the store holds this many rows more than
    /// twice the open spans ([`COMPACT_FROM`]; tests lower it)
    compact_from: usize,
    pub duplicates: u64,
    pub evicted: u64,
    pub late: u64,
    pub completed: u64,
}

impl FileAssembler {
    /// `max_open_traces` >= 1 (Python refuses less); remembers as many handed-out traces.
    pub fn new(max_open_traces: usize) -> FileAssembler {
        FileAssembler::with_remember(max_open_traces, max_open_traces)
    }

    pub fn with_remember(max_open_traces: usize, remember_completed: usize) -> FileAssembler {
        assert!(max_open_traces >= 1, "max_open_traces must be >= 1");
        FileAssembler {
            max_open_traces,
            remember_completed,
            open: OpenTraces::new(),
            done: Lru::default(),
            open_spans: 0,
            pending: Pending::default(),
            held: None,
            compact_from: COMPACT_FROM,
            duplicates: 0,
            evicted: 0,
            late: 0,
            completed: 0,
        }
    }

    /// An assembler that leaves the open traces' spans in the store as rows, for a run
    /// that reads every trace at the end (`monitor` over files): packing them only to
    /// unpack them at close cost a tenth of such a run. Their memory is the store's; when
    /// the store holds more than twice the open spans (rows of traces handed out early pin
    /// the newer rows behind them, [`SpanStore::release`]), the open traces' rows are
    /// packed after all, so memory stays bounded by the open spans.
    pub fn unpacked(max_open_traces: usize) -> FileAssembler {
        FileAssembler {
            held: Some(vec![]),
            ..FileAssembler::new(max_open_traces)
        }
    }

    pub fn open_traces(&self) -> usize {
        self.open.len
    }

    pub fn open_spans(&self) -> usize {
        self.open_spans
    }

    /// `Assembler.add`: buffer `rows` of `store` (one request's spans, in input order);
    /// returns the traces evicted to stay within `max_open_traces`. The rows are released
    /// from the store (an open trace's spans wait packed: [`SpanStore::pack`]); the rows
    /// of a returned trace are new ones, the caller's to release once it is done with them.
    pub fn add(
        &mut self,
        store: &mut SpanStore,
        rows: impl IntoIterator<Item = u32>,
    ) -> Vec<Assembled> {
        self.add_at(store, rows, 0)
    }

    /// Whether open trace `s` holds span `sid` already (packed, held, or new in this
    /// `add`).
    fn holds(&self, store: &SpanStore, s: u32, sid: &[u8; 8]) -> bool {
        if let Some(set) = self.open.sets.get(&s) {
            return set.contains(sid);
        }
        let slot = &self.open.slots[s as usize];
        SpanStore::packed_ids(&slot.packed).any(|x| x == sid)
            || (slot.pend != NIL && self.pending.lists[slot.pend as usize].2.contains(sid))
            || self.held.as_ref().is_some_and(|h| {
                h.get(s as usize)
                    .is_some_and(|rows| rows.iter().any(|&r| store.span_id(r) == sid))
            })
    }

    /// Add row `r` (not a duplicate) to open trace `s`'s new rows: held (unpacked mode) or
    /// pending until the end of this `add`.
    fn push(&mut self, store: &SpanStore, s: u32, r: u32) {
        let slot = &mut self.open.slots[s as usize];
        slot.start_ns = slot.start_ns.min(store.start_ns(r));
        let sid = *store.span_id(r);
        let sets = &mut self.open.sets;
        if let Some(held) = &mut self.held {
            if held.len() <= s as usize {
                held.resize_with(s as usize + 1, Vec::new);
            }
            let rows = &mut held[s as usize];
            rows.push(r);
            let ids = rows.iter().map(|&r| store.span_id(r));
            note_span(sets, s, sid, &slot.packed, ids);
            return;
        }
        if slot.pend == NIL {
            let p = &mut self.pending;
            if p.used == p.lists.len() {
                p.lists.push((s, vec![], vec![]));
            }
            p.lists[p.used].0 = s;
            slot.pend = p.used as u32;
            p.used += 1;
        }
        let (_, list, ids) = &mut self.pending.lists[slot.pend as usize];
        list.push(r);
        ids.push(sid);
        note_span(sets, s, sid, &slot.packed, ids.iter());
    }

    /// [`FileAssembler::add`] at clock `now` (nanoseconds): streaming mode's `add`, which
    /// stamps every trace a span of the request touches (duplicates too, as in Python).
    pub fn add_at(
        &mut self,
        store: &mut SpanStore,
        rows: impl IntoIterator<Item = u32>,
        now: i64,
    ) -> Vec<Assembled> {
        let mut dropped = vec![];
        for r in rows {
            let tid = *store.trace_id(r);
            let sid = *store.span_id(r);
            let seen = self.done.get(&tid);
            let s = match self.open.find(&tid) {
                None => {
                    let mut late = false;
                    if let Some(seen) = seen {
                        if seen.binary_search(&sid).is_ok() {
                            self.duplicates += 1;
                            dropped.push(r);
                            continue;
                        }
                        late = true;
                    }
                    self.open.insert(tid, now, late)
                }
                Some((_, s)) => {
                    self.open.move_to_end(s);
                    s
                }
            };
            let slot = &mut self.open.slots[s as usize];
            slot.last_ns = now;
            let done_dup = slot.late && seen.is_some_and(|x| x.binary_search(&sid).is_ok());
            if done_dup || self.holds(store, s, &sid) {
                self.duplicates += 1;
                dropped.push(r);
                continue;
            }
            self.push(store, s, r);
            let slot = &mut self.open.slots[s as usize];
            slot.has_root |= store.is_root(r);
            if slot.late {
                self.late += 1;
            }
            self.open_spans += 1;
        }
        // the new rows of each trace packed as one chunk, then given back as rows
        let used = std::mem::take(&mut self.pending.used);
        for (s, list, ids) in &mut self.pending.lists[..used] {
            ids.clear();
            let slot = &mut self.open.slots[*s as usize];
            slot.pend = NIL;
            let mut packed = std::mem::take(&mut slot.packed).into_vec();
            store.pack(list, &mut packed);
            slot.packed = packed.into_boxed_slice();
            store.release(list.drain(..));
        }
        store.release(dropped);
        if self.held.is_some() && store.held() > 2 * self.open_spans + self.compact_from {
            self.pack_held(store);
        }
        self.evict(store)
    }

    /// Unpacked mode: pack every open trace's held rows (see [`FileAssembler::unpacked`]).
    fn pack_held(&mut self, store: &mut SpanStore) {
        let Some(held) = &mut self.held else {
            return;
        };
        for (s, rows) in held.iter_mut().enumerate() {
            if rows.is_empty() {
                continue;
            }
            let slot = &mut self.open.slots[s];
            let mut packed = std::mem::take(&mut slot.packed).into_vec();
            store.pack(rows, &mut packed);
            slot.packed = packed.into_boxed_slice();
            store.release(rows.drain(..));
        }
    }

    /// `Assembler.close`: every open trace handed out ("end of input"), sorted by (trace
    /// start, trace id, outcome).
    pub fn close(&mut self, store: &mut SpanStore) -> Vec<Assembled> {
        self.closing()
            .into_iter()
            .map(|tid| self.finish(store, tid, "end of input".to_owned(), None, true))
            .collect()
    }

    /// The open traces' ids in [`FileAssembler::close`]'s order (trace ids are unique
    /// among open traces, so the outcome never decides): hand each out with
    /// [`FileAssembler::finish_closing`] when its turn comes, so that its spans are
    /// unpacked right before they are read, not all of them first.
    pub fn closing(&self) -> Vec<[u8; 16]> {
        let mut order: Vec<(u64, [u8; 16])> = self
            .open
            .in_order()
            .map(|s| {
                let slot = &self.open.slots[s as usize];
                (slot.start_ns, slot.tid)
            })
            .collect();
        order.sort_unstable();
        order.into_iter().map(|(_, tid)| tid).collect()
    }

    /// Hand out open trace `tid` at the end of input (see [`FileAssembler::closing`]),
    /// for a caller that adds nothing after it: unlike [`FileAssembler::close`], its span
    /// ids are not remembered (no later span will be told a duplicate by them).
    pub fn finish_closing(&mut self, store: &mut SpanStore, tid: [u8; 16]) -> Assembled {
        self.finish(store, tid, "end of input".to_owned(), None, false)
    }

    /// `Assembler.poll(now)`, streaming mode: hand out, least recently active first, every
    /// trace idle for `idle_ns` that has late spans or its root, or that has been idle for
    /// `rootless_idle_ns` without a root (a partial trace). The reasons are the Python
    /// assembler's rules, not its words (the sidecar reports no reason).
    pub fn poll(
        &mut self,
        store: &mut SpanStore,
        now: i64,
        idle_ns: i64,
        rootless_idle_ns: i64,
    ) -> Vec<Assembled> {
        let mut ready = vec![];
        for s in self.open.in_order() {
            let o = &self.open.slots[s as usize];
            let idle = now.saturating_sub(o.last_ns);
            if idle < idle_ns {
                break; // everything after this arrived later still
            }
            if o.late {
                ready.push((o.tid, "late spans, idle"));
            } else if o.has_root {
                ready.push((o.tid, "root seen, idle"));
            } else if idle >= rootless_idle_ns {
                ready.push((o.tid, "no root arrived, idle"));
            }
        }
        ready
            .into_iter()
            .map(|(tid, why)| self.finish(store, tid, why.to_owned(), None, true))
            .collect()
    }

    fn finish(
        &mut self,
        store: &mut SpanStore,
        tid: [u8; 16],
        mut reason: String,
        outcome: Option<Outcome>,
        remember: bool,
    ) -> Assembled {
        let (s, o) = self.open.remove(&tid);
        // the held rows and the packed ones, in any order (`Trace::new` sorts them)
        let mut rows = vec![];
        if let Some(held) = &mut self.held {
            if let Some(h) = held.get_mut(s as usize) {
                rows = std::mem::take(h);
            }
            if self.open.len == 0 {
                held.clear(); // the slots were given back (`OpenTraces::remove`)
            }
        }
        rows.extend(store.unpack(&tid, &o.packed));
        self.open_spans -= rows.len();
        let outcome = match outcome {
            None if o.late => Outcome::Late,
            None => Outcome::Complete,
            Some(x) => {
                if o.late {
                    reason = format!("late spans {reason}"); // evicted late spans: incomplete
                }
                x
            }
        };
        match outcome {
            Outcome::Complete => self.completed += 1,
            Outcome::Incomplete => self.evicted += 1,
            Outcome::Late => {}
        }
        if remember && self.remember_completed > 0 {
            let mut ids: Vec<[u8; 8]> = self.done.remove(&tid).map(Vec::from).unwrap_or_default();
            ids.extend(rows.iter().map(|&r| *store.span_id(r)));
            ids.sort_unstable();
            ids.dedup();
            self.done.push(tid, ids.into_boxed_slice());
            while self.done.len() > self.remember_completed {
                let first = self.done.first().expect("non-empty");
                self.done.remove(&first);
            }
        }
        Assembled {
            trace: Trace::new(store, tid, rows),
            outcome,
            reason,
        }
    }

    fn evict(&mut self, store: &mut SpanStore) -> Vec<Assembled> {
        let mut out = vec![];
        while self.open.len > self.max_open_traces {
            let tid = self.open.slots[self.open.head as usize].tid;
            let reason = format!(
                "evicted: more than max_open_traces={} open traces",
                self.max_open_traces
            );
            out.push(self.finish(store, tid, reason, Some(Outcome::Incomplete), true));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::order::tests::{batch, S};

    /// One handed-out trace: (trace byte, outcome, reason, span bytes).
    type Out = (u8, Outcome, String, Vec<u8>);

    /// Feed requests one `add` each, then close: with the open traces packed, unpacked,
    /// and unpacked but packed after every `add` (all three hand out the same).
    fn run(max: usize, requests: &[&[S]]) -> (Vec<Out>, FileAssembler) {
        let (out, asm, shape) = run_in(FileAssembler::new(max), requests);
        let (unpacked, b, shape_b) = run_in(FileAssembler::unpacked(max), requests);
        let mut packing = FileAssembler::unpacked(max);
        packing.compact_from = 0;
        let (compacted, c, shape_c) = run_in(packing, requests);
        for (got, x, sh) in [(unpacked, b, shape_b), (compacted, c, shape_c)] {
            assert_eq!(got, out);
            assert_eq!(sh, shape);
            let counters = |a: &FileAssembler| (a.duplicates, a.evicted, a.late, a.completed);
            assert_eq!(counters(&x), counters(&asm));
        }
        (out, asm)
    }

    /// Per span of a handed-out trace (by position): its parent's and children's span bytes.
    type Shape = Vec<(Option<u8>, Vec<u8>)>;

    fn run_in(mut asm: FileAssembler, requests: &[&[S]]) -> (Vec<Out>, FileAssembler, Vec<Shape>) {
        let mut store = SpanStore::new();
        let (mut out, mut shapes) = (vec![], vec![]);
        let mut hand_out = |store: &mut SpanStore, got: Vec<Assembled>| {
            for a in got {
                let t = &a.trace;
                let byte = |r: u32| store.span_id(r)[7];
                shapes.push(
                    t.rows
                        .iter()
                        .map(|&r| {
                            let children = t.children(r).iter().map(|&c| byte(c)).collect();
                            (t.parent(r).map(byte), children)
                        })
                        .collect(),
                );
                let sids = a.trace.rows.iter().map(|&r| store.span_id(r)[7]).collect();
                store.release(a.trace.rows.iter().copied());
                out.push((a.trace.trace_id[0], a.outcome, a.reason, sids));
            }
        };
        for req in requests {
            let rows = store.add_batch(&batch(req));
            let got = asm.add(&mut store, rows);
            hand_out(&mut store, got);
        }
        let got = asm.close(&mut store);
        hand_out(&mut store, got);
        // every row was handed out in a trace or dropped as a duplicate
        assert_eq!(store.held(), 0);
        (out, asm, shapes)
    }

    #[test]
    fn packed_and_unpacked_hand_out_the_same() {
        // `run` compares the three modes; random requests with duplicates, evictions,
        // late spans, parents within and across requests
        let mut rng = crate::test_rng::Rng(0x0a55_e3b1);
        for _ in 0..400 {
            let requests: Vec<Vec<S>> = (0..1 + rng.index(6))
                .map(|_| {
                    (0..rng.index(12))
                        .map(|_| {
                            let parent = rng.below(6) as u8; // 0: a root
                            let start = rng.below(50);
                            let tid = 1 + rng.below(6) as u8;
                            (
                                tid,
                                1 + rng.below(10) as u8,
                                parent,
                                start,
                                start + rng.below(9),
                            )
                        })
                        .collect()
                })
                .collect();
            let refs: Vec<&[S]> = requests.iter().map(Vec::as_slice).collect();
            run(1 + rng.index(4), &refs);
        }
    }

    const EVICTED: &str = "evicted: more than max_open_traces=1 open traces";

    #[test]
    fn duplicates_in_an_open_trace_are_dropped_first_wins() {
        let (out, asm) = run(
            10,
            &[&[(1, 1, 0, 5, 9), (1, 1, 0, 0, 1)], &[(1, 1, 0, 7, 7)]],
        );
        assert_eq!(
            out,
            [(1, Outcome::Complete, "end of input".into(), vec![1])]
        );
        assert_eq!(
            (asm.duplicates, asm.completed, asm.evicted, asm.late),
            (2, 1, 0, 0)
        );
        assert_eq!(asm.open_traces(), 0);
    }

    #[test]
    fn eviction_is_least_recently_active_first() {
        // trace 1 opens first but is touched again (by a duplicate) after trace 2
        let (out, asm) = run(
            2,
            &[&[
                (1, 1, 0, 0, 1),
                (2, 1, 0, 0, 1),
                (1, 1, 0, 0, 1),
                (3, 1, 0, 0, 1),
            ]],
        );
        let reason = "evicted: more than max_open_traces=2 open traces".to_owned();
        assert_eq!(out[0], (2, Outcome::Incomplete, reason, vec![1]));
        assert_eq!(asm.evicted, 1);
        assert_eq!(asm.duplicates, 1);
    }

    #[test]
    fn late_spans_after_eviction() {
        let (out, asm) = run(
            1,
            &[
                &[(1, 1, 0, 0, 9)],
                &[(2, 1, 0, 0, 9)], // evicts trace 1
                &[(1, 1, 0, 0, 9)], // a retry of trace 1: duplicate
                &[(1, 2, 1, 3, 4)], // new span of trace 1: late; evicts trace 2
                // evicting trace 2 made it the one remembered trace, so trace 1's span ids
                // are forgotten: its retry is late too, as in Python
                &[(1, 1, 0, 0, 9), (1, 3, 1, 4, 5)],
            ],
        );
        assert_eq!(
            out,
            [
                (1, Outcome::Incomplete, EVICTED.into(), vec![1]),
                (2, Outcome::Incomplete, EVICTED.into(), vec![1]),
                (1, Outcome::Late, "end of input".into(), vec![1, 2, 3]),
            ]
        );
        assert_eq!(
            (asm.duplicates, asm.late, asm.evicted, asm.completed),
            (1, 3, 2, 0)
        );
    }

    #[test]
    fn evicted_late_spans_say_so() {
        let (out, _) = run(
            1,
            &[
                &[(1, 1, 0, 0, 9)],
                &[(2, 1, 0, 0, 9)],
                &[(1, 2, 1, 0, 9)],
                &[(3, 1, 0, 0, 9)],
            ],
        );
        assert_eq!(
            out[2],
            (
                1,
                Outcome::Incomplete,
                format!("late spans {EVICTED}"),
                vec![2]
            )
        );
        // trace 1 remembers spans 1 and 2 now: a retry of either is a duplicate
    }

    #[test]
    fn handed_out_traces_are_remembered_up_to_the_limit() {
        // with max 1, only the last handed-out trace is remembered: trace 1's retry after
        // trace 2 was handed out is assembled again as new
        let (out, asm) = run(
            1,
            &[
                &[(1, 1, 0, 0, 9)],
                &[(2, 1, 0, 0, 9)],
                &[(3, 1, 0, 0, 9)],
                &[(1, 1, 0, 0, 9)],
            ],
        );
        assert_eq!(out.len(), 4);
        assert_eq!(
            out[3],
            (1, Outcome::Complete, "end of input".into(), vec![1])
        );
        assert_eq!(asm.duplicates, 0);
        assert_eq!(asm.evicted, 3);
    }

    #[test]
    fn close_sorts_by_start_then_trace_id() {
        let (out, _) = run(10, &[&[(3, 1, 0, 5, 9), (2, 1, 0, 7, 9), (1, 1, 0, 7, 9)]]);
        let order: Vec<u8> = out.iter().map(|o| o.0).collect();
        assert_eq!(order, [3, 1, 2]);
    }

    #[test]
    fn large_traces_switch_to_a_set() {
        let spans: Vec<S> = (1..=100u8)
            .chain(1..=100)
            .map(|i| (1, i, 0, 0, 1))
            .collect();
        let (out, asm) = run(1, &[&spans]);
        assert_eq!(out[0].3.len(), 100);
        assert_eq!(asm.duplicates, 100);
    }

    #[test]
    fn traces_across_requests_keep_their_spans_and_parents() {
        // trace 1 over three requests: its ids become a set during the second, whose
        // duplicates are found among the packed spans and among the request's own
        let first: Vec<S> = (1..=20u8)
            .map(|i| (1, i, i - 1, u64::from(i), 50))
            .collect();
        let mut second: Vec<S> = (15..=40u8)
            .map(|i| (1, i, i - 1, u64::from(i), 50))
            .collect();
        second.push((1, 33, 0, 0, 1));
        second.push((2, 1, 0, 0, 1));
        let third: Vec<S> = (1..=40u8).map(|i| (1, i, 0, 0, 1)).collect();
        let mut store = SpanStore::new();
        let mut asm = FileAssembler::new(10);
        for req in [&first, &second, &third] {
            let rows = store.add_batch(&batch(req));
            assert!(asm.add(&mut store, rows).is_empty());
            assert_eq!(store.held(), 0, "open traces hold no rows");
        }
        assert_eq!((asm.open_traces(), asm.open_spans()), (2, 41));
        assert_eq!(asm.duplicates, 6 + 1 + 40);
        let out = asm.close(&mut store);
        let t = &out
            .iter()
            .find(|a| a.trace.trace_id[0] == 1)
            .expect("trace 1")
            .trace;
        assert_eq!(t.len(), 40);
        assert!(!t.is_partial());
        for &r in &t.rows {
            let i = store.span_id(r)[7];
            // the first arrival wins: span 33's parent is 32, as in the second request
            let parent = t.parent(r).map(|p| store.span_id(p)[7]);
            assert_eq!(parent, (i > 1).then_some(i - 1));
            assert_eq!((store.start_ns(r), store.end_ns(r)), (u64::from(i), 50));
        }
        // the remembered span ids come from the packed spans
        let rows = store.add_batch(&batch(&[(1, 40, 0, 0, 1), (1, 41, 0, 0, 1)]));
        let rows: Vec<u32> = rows.collect();
        for a in &out {
            store.release(a.trace.rows.iter().copied());
        }
        assert!(asm.add(&mut store, rows).is_empty());
        assert_eq!((asm.duplicates, asm.late), (48, 1));
    }

    #[test]
    fn open_traces_table_survives_many_opens_and_closes() {
        // eviction one by one with a small limit: slots and buckets are reused, and every
        // trace is found again while open
        let mut store = SpanStore::new();
        let mut asm = FileAssembler::new(50);
        let mut handed = 0;
        for round in 0..20u64 {
            let spans: Vec<S> = (0..200u64)
                .map(|i| ((i * 7 + round) % 251) as u8)
                .map(|t| (t, (round % 200) as u8 + 1, 0, 0, 1))
                .collect();
            let rows = store.add_batch(&batch(&spans));
            for a in asm.add(&mut store, rows) {
                handed += a.trace.len();
                store.release(a.trace.rows);
            }
            assert_eq!(asm.open_traces(), 50);
        }
        for a in asm.close(&mut store) {
            handed += a.trace.len();
            store.release(a.trace.rows);
        }
        assert_eq!(handed as u64 + asm.duplicates, 20 * 200);
        assert_eq!(
            (asm.open_traces(), asm.open_spans(), store.held()),
            (0, 0, 0)
        );
    }

    #[test]
    fn open_traces_match_a_model() {
        // random opens, touches and closes against a Vec kept in the order of last activity
        let mut x: u64 = 0x2545_f491_4f6c_dd1d;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let mut open = OpenTraces::new();
        let mut model: Vec<[u8; 16]> = vec![];
        for _ in 0..20_000 {
            let k = next() % 300;
            let tid = [
                (k % 7) as u8,
                0,
                0,
                0,
                0,
                0,
                0,
                0,
                0,
                0,
                0,
                0,
                0,
                0,
                0,
                (k / 7) as u8,
            ];
            let at = model.iter().position(|t| *t == tid);
            match (next() % 3, at) {
                (0, Some(i)) => {
                    let (_, slot) = open.remove(&tid);
                    assert_eq!(slot.tid, tid);
                    model.remove(i);
                }
                (_, Some(i)) => {
                    let (_, s) = open.find(&tid).expect("open");
                    open.move_to_end(s);
                    model.remove(i);
                    model.push(tid);
                }
                (_, None) => {
                    assert!(open.find(&tid).is_none());
                    open.insert(tid, 0, false);
                    model.push(tid);
                }
            }
            assert_eq!(open.len, model.len());
        }
        let order: Vec<[u8; 16]> = open
            .in_order()
            .map(|s| open.slots[s as usize].tid)
            .collect();
        assert_eq!(order, model);
        for tid in &model {
            assert!(open.find(tid).is_some());
        }
    }

    #[test]
    fn poll_hands_out_idle_traces_with_a_root_least_recently_active_first() {
        let mut store = SpanStore::new();
        let mut asm = FileAssembler::new(10);
        // trace 1: a root at t=0; trace 2: no root at t=0; trace 3: a root at t=5
        let rows = store.add_batch(&batch(&[(1, 1, 0, 0, 1), (2, 2, 9, 0, 1)]));
        assert!(asm.add_at(&mut store, rows, 0).is_empty());
        let rows = store.add_batch(&batch(&[(3, 1, 0, 0, 1)]));
        assert!(asm.add_at(&mut store, rows, 5).is_empty());
        assert!(asm.poll(&mut store, 9, 10, 100).is_empty()); // nothing idle for 10 yet
        let got = asm.poll(&mut store, 12, 10, 100);
        let ids: Vec<u8> = got.iter().map(|a| a.trace.trace_id[0]).collect();
        assert_eq!(ids, [1]); // 2 has no root and waits for the rootless idle time
        let got = asm.poll(&mut store, 15, 10, 100);
        assert_eq!(
            got.iter().map(|a| a.trace.trace_id[0]).collect::<Vec<_>>(),
            [3]
        );
        // a span of trace 2 arriving refreshes it; a late span of trace 1 reopens it late
        let rows = store.add_batch(&batch(&[(2, 3, 9, 0, 1), (1, 2, 1, 0, 1)]));
        assert!(asm.add_at(&mut store, rows, 50).is_empty());
        assert!(asm
            .poll(&mut store, 140, 10, 100)
            .iter()
            .all(|a| a.trace.trace_id[0] == 1 && a.outcome == Outcome::Late));
        let got = asm.poll(&mut store, 150, 10, 100);
        assert_eq!(got.len(), 1);
        assert!(got[0].trace.is_partial() && got[0].outcome == Outcome::Complete);
        assert_eq!((asm.completed, asm.late, asm.open_traces()), (3, 1, 0));
    }
}
