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

/// Span ids of an open trace: a list while small, a set once large (duplicate checks stay
/// linear in the trace's size).
#[derive(Debug)]
struct Open {
    rows: Vec<u32>,
    // boxed: a set is 48 bytes inline, and most traces never need one
    #[allow(clippy::box_collection)]
    ids: Option<Box<HashSet<[u8; 8]>>>,
    late: bool,
    /// a span without a parent arrived (streaming: the trace may complete when idle)
    has_root: bool,
    /// the clock at the trace's last span (streaming; 0 in file mode)
    last_ns: i64,
}

const SET_FROM: usize = 32;

impl Open {
    fn contains(&self, store: &SpanStore, sid: &[u8; 8]) -> bool {
        match &self.ids {
            Some(set) => set.contains(sid),
            None => self.rows.iter().any(|&r| store.span_id(r) == sid),
        }
    }

    fn push(&mut self, store: &SpanStore, row: u32) {
        self.rows.push(row);
        if let Some(set) = &mut self.ids {
            set.insert(*store.span_id(row));
        } else if self.rows.len() >= SET_FROM {
            self.ids = Some(Box::new(
                self.rows.iter().map(|&r| *store.span_id(r)).collect(),
            ));
        }
    }
}

/// An insertion-ordered map with move-to-end (Python's `OrderedDict` as the assembler uses
/// it): entries in a hash map, their order as stamps in a B-tree.
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

    fn get_mut(&mut self, k: &[u8; 16]) -> Option<&mut V> {
        self.map.get_mut(k).map(|(_, v)| v)
    }

    /// Insert at the end (the key must be absent).
    fn push(&mut self, k: [u8; 16], v: V) {
        let s = self.next;
        self.next += 1;
        self.order.insert(s, k);
        self.map.insert(k, (s, v));
    }

    fn move_to_end(&mut self, k: &[u8; 16]) {
        let s = self.next;
        if let Some((stamp, _)) = self.map.get_mut(k) {
            if *stamp + 1 == s {
                return; // already the last (a request's spans of one trace come together)
            }
            self.order.remove(stamp);
            *stamp = s;
            self.order.insert(s, *k);
            self.next += 1;
        }
    }

    fn remove(&mut self, k: &[u8; 16]) -> Option<V> {
        let (s, v) = self.map.remove(k)?;
        self.order.remove(&s);
        Some(v)
    }

    fn first(&self) -> Option<[u8; 16]> {
        self.order.values().next().copied()
    }

    fn keys(&self) -> impl Iterator<Item = &[u8; 16]> {
        self.order.values()
    }
}

/// Python's `Assembler` in file mode; see the module docs.
#[derive(Debug)]
pub struct FileAssembler {
    pub max_open_traces: usize,
    pub remember_completed: usize,
    open: Lru<Open>,
    /// span ids (sorted) of the last `remember_completed` traces handed out
    done: Lru<Box<[[u8; 8]]>>,
    open_spans: usize,
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
            open: Lru::default(),
            done: Lru::default(),
            open_spans: 0,
            duplicates: 0,
            evicted: 0,
            late: 0,
            completed: 0,
        }
    }

    pub fn open_traces(&self) -> usize {
        self.open.len()
    }

    pub fn open_spans(&self) -> usize {
        self.open_spans
    }

    /// `Assembler.add`: buffer `rows` of `store` (one request's spans, in input order);
    /// returns the traces evicted to stay within `max_open_traces`. Duplicates are released
    /// from the store at once; the rows of a returned trace are the caller's to release
    /// once it is done with them.
    pub fn add(
        &mut self,
        store: &mut SpanStore,
        rows: impl IntoIterator<Item = u32>,
    ) -> Vec<Assembled> {
        self.add_at(store, rows, 0)
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
            let sid = store.span_id(r);
            let seen = self.done.get(&tid);
            if self.open.get(&tid).is_none() {
                let mut late = false;
                if let Some(seen) = seen {
                    if seen.binary_search(sid).is_ok() {
                        self.duplicates += 1;
                        dropped.push(r);
                        continue;
                    }
                    late = true;
                }
                self.open.push(
                    tid,
                    Open {
                        rows: vec![],
                        ids: None,
                        late,
                        has_root: false,
                        last_ns: now,
                    },
                );
            } else {
                self.open.move_to_end(&tid);
            }
            let o = self.open.get_mut(&tid).expect("just inserted or present");
            o.last_ns = now;
            let done_dup = o.late && seen.is_some_and(|s| s.binary_search(sid).is_ok());
            if done_dup || o.contains(store, sid) {
                self.duplicates += 1;
                dropped.push(r);
                continue;
            }
            o.push(store, r);
            o.has_root |= store.is_root(r);
            if o.late {
                self.late += 1;
            }
            self.open_spans += 1;
        }
        store.release(dropped);
        self.evict(store)
    }

    /// `Assembler.close`: every open trace handed out ("end of input"), sorted by (trace
    /// start, trace id, outcome).
    pub fn close(&mut self, store: &SpanStore) -> Vec<Assembled> {
        let tids: Vec<[u8; 16]> = self.open.keys().copied().collect();
        let mut out: Vec<Assembled> = tids
            .into_iter()
            .map(|tid| self.finish(store, tid, "end of input".to_owned(), None))
            .collect();
        out.sort_by(|a, b| {
            (a.trace.start_ns, a.trace.trace_id, a.outcome).cmp(&(
                b.trace.start_ns,
                b.trace.trace_id,
                b.outcome,
            ))
        });
        out
    }

    /// `Assembler.poll(now)`, streaming mode: hand out, least recently active first, every
    /// trace idle for `idle_ns` that has late spans or its root, or that has been idle for
    /// `rootless_idle_ns` without a root (a partial trace). The reasons are the Python
    /// assembler's rules, not its words (the sidecar reports no reason).
    pub fn poll(
        &mut self,
        store: &SpanStore,
        now: i64,
        idle_ns: i64,
        rootless_idle_ns: i64,
    ) -> Vec<Assembled> {
        let mut ready = vec![];
        for tid in self.open.keys() {
            let o = self.open.get(tid).expect("ordered keys are open");
            let idle = now.saturating_sub(o.last_ns);
            if idle < idle_ns {
                break; // everything after this arrived later still
            }
            if o.late {
                ready.push((*tid, "late spans, idle"));
            } else if o.has_root {
                ready.push((*tid, "root seen, idle"));
            } else if idle >= rootless_idle_ns {
                ready.push((*tid, "no root arrived, idle"));
            }
        }
        ready
            .into_iter()
            .map(|(tid, why)| self.finish(store, tid, why.to_owned(), None))
            .collect()
    }

    fn finish(
        &mut self,
        store: &SpanStore,
        tid: [u8; 16],
        mut reason: String,
        outcome: Option<Outcome>,
    ) -> Assembled {
        let o = self.open.remove(&tid).expect("an open trace");
        self.open_spans -= o.rows.len();
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
        if self.remember_completed > 0 {
            let mut ids: Vec<[u8; 8]> = self.done.remove(&tid).map(Vec::from).unwrap_or_default();
            ids.extend(o.rows.iter().map(|&r| *store.span_id(r)));
            ids.sort_unstable();
            ids.dedup();
            self.done.push(tid, ids.into_boxed_slice());
            while self.done.len() > self.remember_completed {
                let first = self.done.first().expect("non-empty");
                self.done.remove(&first);
            }
        }
        Assembled {
            trace: Trace::new(store, tid, o.rows),
            outcome,
            reason,
        }
    }

    fn evict(&mut self, store: &SpanStore) -> Vec<Assembled> {
        let mut out = vec![];
        while self.open.len() > self.max_open_traces {
            let tid = self.open.first().expect("non-empty");
            let reason = format!(
                "evicted: more than max_open_traces={} open traces",
                self.max_open_traces
            );
            out.push(self.finish(store, tid, reason, Some(Outcome::Incomplete)));
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

    /// Feed requests one `add` each, then close.
    fn run(max: usize, requests: &[&[S]]) -> (Vec<Out>, FileAssembler) {
        let mut store = SpanStore::new();
        let mut asm = FileAssembler::new(max);
        let mut out = vec![];
        let mut hand_out = |store: &mut SpanStore, got: Vec<Assembled>| {
            for a in got {
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
        let got = asm.close(&store);
        hand_out(&mut store, got);
        // every row was handed out in a trace or dropped as a duplicate
        assert_eq!(store.held(), 0);
        (out, asm)
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
    fn poll_hands_out_idle_traces_with_a_root_least_recently_active_first() {
        let mut store = SpanStore::new();
        let mut asm = FileAssembler::new(10);
        // trace 1: a root at t=0; trace 2: no root at t=0; trace 3: a root at t=5
        let rows = store.add_batch(&batch(&[(1, 1, 0, 0, 1), (2, 2, 9, 0, 1)]));
        assert!(asm.add_at(&mut store, rows, 0).is_empty());
        let rows = store.add_batch(&batch(&[(3, 1, 0, 0, 1)]));
        assert!(asm.add_at(&mut store, rows, 5).is_empty());
        assert!(asm.poll(&store, 9, 10, 100).is_empty()); // nothing idle for 10 yet
        let got = asm.poll(&store, 12, 10, 100);
        let ids: Vec<u8> = got.iter().map(|a| a.trace.trace_id[0]).collect();
        assert_eq!(ids, [1]); // 2 has no root and waits for the rootless idle time
        let got = asm.poll(&store, 15, 10, 100);
        assert_eq!(
            got.iter().map(|a| a.trace.trace_id[0]).collect::<Vec<_>>(),
            [3]
        );
        // a span of trace 2 arriving refreshes it; a late span of trace 1 reopens it late
        let rows = store.add_batch(&batch(&[(2, 3, 9, 0, 1), (1, 2, 1, 0, 1)]));
        assert!(asm.add_at(&mut store, rows, 50).is_empty());
        assert!(asm
            .poll(&store, 140, 10, 100)
            .iter()
            .all(|a| a.trace.trace_id[0] == 1 && a.outcome == Outcome::Late));
        let got = asm.poll(&store, 150, 10, 100);
        assert_eq!(got.len(), 1);
        assert!(got[0].trace.is_partial() && got[0].outcome == Outcome::Complete);
        assert_eq!((asm.completed, asm.late, asm.open_traces()), (3, 1, 0));
    }
}
