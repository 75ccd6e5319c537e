//! One streaming run of a plan: the sidecar's `StreamingMonitor` for the untimed formulas
//! the core runs, per trace (with or without `prev`/`last` registers) and across traces
//! (register-free) (`engine/native_stream.py`).
//!
//! The rules are `engine/stream.py`'s (its module docstring), step for step:
//!
//! - Requests are decoded into the owned [`SpanStore`] and buffered by the assembler in
//!   streaming mode ([`FileAssembler::add_at`] with the caller's clock); [`StreamRun::poll`]
//!   hands out the traces whose root has ended and that are idle ([`FileAssembler::poll`])
//!   into a backlog, and decides at most `limit` of them, first in first out, as
//!   `StreamingMonitor.poll(limit=)` does.
//! - Deciding a trace orders its events, computes their letters with the plan's atom
//!   program and steps every per-trace property ([`step_trace`]); the verdict of the final
//!   state is read from the table Python gives at start (`Monitor.final_verdict` per state,
//!   for a whole and for a partial trace), so the core counts verdicts itself and reports a
//!   trace only when some property is violated on it. A trace evicted by `max_open_traces`
//!   counts `incomplete` for every per-trace property.
//! - Cross-trace properties (`per attr[...]`, `per service`, `global`): the events of a
//!   complete trace that belong to some instance (its span has a value for the scope key)
//!   are buffered in a heap ordered by (time, trace id, index in the trace, arrival); at the
//!   end of every `poll` the events at or before the **watermark** (the largest end time of
//!   any complete trace, minus `lateness_ns`) are released to their instances, and the
//!   watermark released so far is remembered. An event at or before it when its trace is
//!   handed out is **late**: counted, never stepped; the open instance it belongs to is
//!   marked late (created if need be), so its verdict becomes `inconclusive` unless it is
//!   final already. Spans arriving after their trace was decided (a `Late` hand-out) reach
//!   instances the same way. An instance is stepped one event at a time, as
//!   `Monitor._run` steps it; when its verdict becomes final it is dropped and remembered as
//!   a verdict (at most `max_instances` remembered, oldest first forgotten), and a violation
//!   is reported with its evidence (the deciding event and the one that raised the
//!   obligation, copied out of the store: [`Witness`]). At most `max_instances` instances
//!   are open per property: creating one more evicts the least recently stepped one, which
//!   is counted and decided `incomplete`.
//! - A trace's id is *done* (its journal entry can go) once every verdict it feeds is given:
//!   at once for per-trace properties, once its last buffered event is released for
//!   cross-trace ones.
//!
//! The traces decided by one call are kept until the next call, so that Python can read the
//! witness events of per-trace violations ([`StreamRun::event`]); a trace with buffered
//! events stays in the store until the last one is released.

use std::cmp::Ordering;
use std::collections::{HashSet, VecDeque};
use std::sync::Arc;

use crate::assembly::{Assembled, FileAssembler, Outcome as Handed};
use crate::automaton::Cached;
use crate::event_queue::{EventQueue, Keyed};
use crate::file_run::{
    event_positions, key_syms, resolve, span_key, trace_letters, LetterScratch, View,
};
use crate::key_lru::KeyLru;
use crate::order::{Event, Trace};
use crate::otlp::{decode_traces, Batch};
use crate::plan::Plan;
use crate::registers;
use crate::run::{local_letter, step_trace, Scope};
use crate::store::{hex, OwnedValue, SpanStore, Sym};
use crate::wire::{Fields, Value};

/// The verdicts, by code (Python's `Verdict` values and `INCOMPLETE`).
pub const VERDICTS: [&str; 6] = [
    "satisfied",
    "violated",
    "presumably_satisfied",
    "presumably_violated",
    "inconclusive",
    "incomplete",
];
const SATISFIED: u8 = 0;
const VIOLATED: u8 = 1;
const INCONCLUSIVE: u8 = 4;
const INCOMPLETE: u8 = 5;
/// late spans' events are queued with this offset on their index (`_cross_late`)
const LATE_INDEX: u32 = 1_000_000;

/// Python's `key_text` of a scope key value the core cannot render (bytes, arrays,
/// key-value lists); None when it has no text.
pub type Render<'r> = &'r mut dyn FnMut(&OwnedValue) -> Option<String>;

/// A property violated on a decided trace: the evidence `Monitor.violation` reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violated {
    /// the plan property
    pub prop: u32,
    /// the trace, as numbered for [`StreamRun::event`] until the next call
    pub trace: u32,
    pub trace_id: String,
    pub state: u32,
    pub decided: Option<u32>,
    pub raised: Option<u32>,
    /// the trace's last event
    pub last: u32,
}

/// A span copied out of the store: the evidence of a cross-trace instance outlives its
/// trace (the fields are what `native_otlp.span_from_fields` takes).
#[derive(Debug, Clone, PartialEq)]
pub struct SpanCopy {
    pub name: String,
    pub kind: &'static str,
    pub status: &'static str,
    pub status_message: String,
    pub start_ns: u64,
    pub end_ns: u64,
    pub service: String,
    pub trace_id: String,
    pub span_id: String,
    pub parent_id: String,
    pub attrs: Vec<(String, OwnedValue)>,
    pub resource: Vec<(String, OwnedValue)>,
    pub scope: String,
    pub events: Vec<String>,
    pub links: Vec<(String, String)>,
}

impl SpanCopy {
    pub fn of(store: &SpanStore, r: u32) -> SpanCopy {
        let pairs = |it: &mut dyn Iterator<Item = (&str, &OwnedValue)>| {
            it.map(|(k, v)| (k.to_owned(), v.clone())).collect()
        };
        SpanCopy {
            name: store.name(r).to_owned(),
            kind: store.kind(r),
            status: store.status(r),
            status_message: store.status_message(r).to_owned(),
            start_ns: store.start_ns(r),
            end_ns: store.end_ns(r),
            service: store.service(r).to_owned(),
            trace_id: store.trace_id_hex(r),
            span_id: store.span_id_hex(r),
            parent_id: store.parent_id_hex(r),
            attrs: pairs(&mut store.attrs(r)),
            resource: pairs(&mut store.resource_attrs(r)),
            scope: store.scope_name(r).to_owned(),
            events: store.event_names(r).map(str::to_owned).collect(),
            links: store
                .links(r)
                .iter()
                .map(|(t, i)| (hex(t), hex(i)))
                .collect(),
        }
    }
}

/// One event of a cross-trace instance's evidence (Python's `Event`).
#[derive(Debug, Clone, PartialEq)]
pub struct Witness {
    pub time_ns: u64,
    pub is_start: bool,
    pub span: Arc<SpanCopy>,
}

/// A cross-trace instance decided `violated`: what `Monitor.violation` reads.
#[derive(Debug, Clone, PartialEq)]
pub struct CrossViolated {
    pub prop: u32,
    pub key: String,
    /// the traces of its events up to the deciding one, in first-seen order (hex)
    pub trace_ids: Vec<String>,
    pub state: u32,
    pub raised: Option<Witness>,
    pub decided: Witness,
}

/// What one call handed out.
#[derive(Debug, Default)]
pub struct Given {
    /// trace ids (hex) whose every verdict the core owes is given, in the reference's
    /// order (`StreamingMonitor.take_done_traces`)
    pub done: Vec<String>,
    /// every trace handed out by this call, in order (complete, evicted, late)
    pub handed: Vec<String>,
    pub violated: Vec<Violated>,
    /// cross-trace instances decided violated, in the order they were decided
    pub cross_violated: Vec<CrossViolated>,
    /// traces taken from the backlog and decided by this call (complete or late, as
    /// `StreamingMonitor.poll` counts them)
    pub decided: usize,
    /// traces this call found complete (moved to the backlog)
    pub completed: usize,
}

/// A handed-out trace kept in the store while something refers to it.
struct Slot {
    trace: Trace,
    refs: u32,
}

#[derive(Default)]
struct Slots {
    items: Vec<Option<Slot>>,
    free: Vec<u32>,
}

impl Slots {
    fn add(&mut self, trace: Trace) -> u32 {
        let slot = Some(Slot { trace, refs: 0 });
        match self.free.pop() {
            Some(i) => {
                self.items[i as usize] = slot;
                i
            }
            None => {
                self.items.push(slot);
                (self.items.len() - 1) as u32
            }
        }
    }

    fn get(&self, i: u32) -> Option<&Trace> {
        self.items.get(i as usize)?.as_ref().map(|s| &s.trace)
    }

    fn hold(&mut self, i: u32) {
        if let Some(Some(s)) = self.items.get_mut(i as usize) {
            s.refs += 1;
        }
    }

    /// Drop one reference; a slot nothing refers to gives its rows back to the store.
    fn unhold(&mut self, i: u32, store: &mut SpanStore) {
        let Some(entry) = self.items.get_mut(i as usize) else {
            return;
        };
        if let Some(s) = entry {
            s.refs = s.refs.saturating_sub(1);
            if s.refs > 0 {
                return;
            }
        } else {
            return;
        }
        if let Some(s) = entry.take() {
            store.release(s.trace.rows);
            self.free.push(i);
        }
    }
}

/// A span's scope keys: (cross-trace property, key) for each that has one.
type Keys = Arc<[(u32, Arc<str>)]>;

/// One property's events of one buffered event: the instance key and its own letter.
#[derive(Debug, Clone)]
struct Hit {
    prop: u32,
    key: Arc<str>,
    letter: u64,
}

/// One event buffered until the watermark passes it.
struct Queued {
    time: u64,
    tid: [u8; 16],
    index: u32,
    seq: u64,
    slot: u32,
    event: u32,
    /// the plan generation the hits were computed with (a reload recomputes them)
    gen: u64,
    hits: Box<[Hit]>,
}

impl Queued {
    fn order(&self) -> (u64, &[u8; 16], u32, u64) {
        (self.time, &self.tid, self.index, self.seq)
    }
}

impl PartialEq for Queued {
    fn eq(&self, other: &Self) -> bool {
        self.order() == other.order()
    }
}
impl Eq for Queued {}
impl PartialOrd for Queued {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Queued {
    fn cmp(&self, other: &Self) -> Ordering {
        self.order().cmp(&other.order())
    }
}
impl Keyed for Queued {
    fn primary(&self) -> u64 {
        self.time
    }
}

/// The traces an instance has events of (Python's `Instance.trace_ids`: a dict, insertion
/// ordered). Most instances see one trace, held inline; more go to the heap.
#[derive(Debug, Default, Clone)]
enum TraceIds {
    #[default]
    None,
    One([u8; 16]),
    Many(Box<ManyIds>),
}

#[derive(Debug, Clone)]
struct ManyIds {
    list: Vec<[u8; 16]>,
    /// from more than 16 on
    set: Option<HashSet<[u8; 16]>>,
}

impl TraceIds {
    fn add(&mut self, t: [u8; 16]) {
        match self {
            TraceIds::None => *self = TraceIds::One(t),
            TraceIds::One(a) => {
                if *a != t {
                    *self = TraceIds::Many(Box::new(ManyIds {
                        list: vec![*a, t],
                        set: None,
                    }));
                }
            }
            TraceIds::Many(m) => m.add(t),
        }
    }

    fn list(&self) -> &[[u8; 16]] {
        match self {
            TraceIds::None => &[],
            TraceIds::One(a) => std::slice::from_ref(a),
            TraceIds::Many(m) => &m.list,
        }
    }
}

impl ManyIds {
    fn add(&mut self, t: [u8; 16]) {
        if self.list.last() == Some(&t) {
            return;
        }
        match &mut self.set {
            Some(set) => {
                if set.insert(t) {
                    self.list.push(t);
                }
            }
            None => {
                if self.list.contains(&t) {
                    return;
                }
                self.list.push(t);
                if self.list.len() > 16 {
                    self.set = Some(self.list.iter().copied().collect());
                }
            }
        }
    }
}

/// An open cross-trace instance (Python's `Instance`, what streaming reads of it). A
/// `serve` holds up to `max_instances` of them per property, so it is kept small (40
/// bytes; `an_open_instance_is_small`): the trace ids inline while there is one, the
/// obligation's witness boxed, its place in the least-recently-stepped order in the
/// [`KeyLru`] that holds it.
#[derive(Debug, Clone)]
struct Inst {
    state: u32,
    /// no event stepped yet (Python: `inst.last is None`)
    first: bool,
    partial: bool,
    late: bool,
    raised: Option<Box<Witness>>,
    ids: TraceIds,
}

/// One cross-trace property's instances: open ones in least-recently-stepped order, and
/// the final verdicts remembered, oldest first (Python's two `OrderedDict`s).
#[derive(Default)]
struct CrossState {
    open: KeyLru<Inst>,
    decided: foldhash::HashMap<Arc<str>, u8>,
    decided_order: VecDeque<Arc<str>>,
}

/// What the verdict of one per-trace property on one trace reads of its stepping.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Shaped {
    state: u32,
    decided: Option<u32>,
    raised: Option<u32>,
    trigger: bool,
}

impl Shaped {
    fn of(o: &crate::run::Outcome) -> Shaped {
        Shaped {
            state: o.state,
            decided: o.decided,
            raised: o.raised,
            trigger: o.trigger,
        }
    }
}

/// The longest key the trace-shape cache keeps, in words: longer traces are stepped.
const SHAPE_WORDS: usize = 1024;

/// The trace-shape cache (`StreamingMonitor`'s `shape_cache`, in the core): the outcomes of
/// the register-free per-trace properties, in plan order, by the trace's letters and event
/// count. Stepping a deterministic automaton over the same letters gives the same state,
/// deciding and raising events and trigger, so traces of one shape are stepped once. At
/// most `limit` shapes are kept (all forgotten when it is reached; 0: no cache).
struct ShapeCache {
    limit: usize,
    map: foldhash::HashMap<Box<[u64]>, Box<[Shaped]>>,
    /// the key of the trace being decided
    key: Vec<u64>,
    hits: u64,
    misses: u64,
}

impl Default for ShapeCache {
    fn default() -> Self {
        ShapeCache {
            limit: 4096,
            map: foldhash::HashMap::default(),
            key: vec![],
            hits: 0,
            misses: 0,
        }
    }
}

impl ShapeCache {
    /// Note the key of a trace of `n` events with `letters`; false when there is no cache
    /// or the trace is too long to keep (the cache holds at most `limit` keys of
    /// [`SHAPE_WORDS`] words).
    fn note(&mut self, letters: &[u64], n: usize) -> bool {
        self.key.clear();
        if self.limit == 0 || letters.len() >= SHAPE_WORDS {
            return false;
        }
        self.key.extend_from_slice(letters);
        self.key.push(n as u64);
        true
    }

    /// The outcomes of the noted shape, if known (counted).
    fn get(&mut self, keyed: bool) -> Option<&[Shaped]> {
        if !keyed {
            return None;
        }
        match self.map.get(self.key.as_slice()) {
            Some(v) => {
                self.hits += 1;
                Some(v)
            }
            None => {
                self.misses += 1;
                None
            }
        }
    }

    /// Remember the noted shape's outcomes.
    fn insert(&mut self, outs: Vec<Shaped>) {
        if self.key.is_empty() {
            return;
        }
        if self.map.len() >= self.limit {
            self.map.clear();
        }
        self.map
            .insert(self.key.clone().into_boxed_slice(), outs.into_boxed_slice());
    }
}

/// The per-property tables the run needs: per state, the verdict code for a whole and a
/// partial trace that ended there (`Monitor.final_verdict`), and its verdict now
/// (`monitor.verdict(state)`, for cross-trace instances).
pub type Tables = Vec<[Vec<u8>; 3]>;

pub struct StreamRun {
    plan: Plan,
    automata: Vec<Cached>,
    wanted: HashSet<String>,
    store: SpanStore,
    /// the plan's attribute keys in `store` (see [`View`])
    keys: Vec<Sym>,
    asm: FileAssembler,
    idle_ns: i64,
    rootless_idle_ns: i64,
    lateness_ns: i128,
    max_instances: usize,
    backlog: VecDeque<Assembled>,
    verdicts: Tables,
    /// per plan property: how many of each verdict (by code)
    pub counts: Vec<[u64; 6]>,
    /// per plan property: satisfied without any trigger ever holding
    pub vacuous: Vec<u64>,
    /// spans of accepted requests (the decoder's `decoded`)
    pub spans: u64,
    slots: Slots,
    /// slots held for the last call's readback (see [`StreamRun::event`])
    held: Vec<u32>,
    mismatches: crate::atoms::Mismatches,
    letters: Vec<u64>,
    /// [`trace_letters`]'s scratch space and the events' span positions, kept across traces
    scratch: LetterScratch,
    epos: Vec<u32>,
    /// the plan properties of a cross-trace scope, in plan order
    cross_props: Vec<u32>,
    /// per plan property (empty for per-trace ones)
    cross: Vec<CrossState>,
    heap: EventQueue<Queued>,
    seq: u64,
    gen: u64,
    max_end: Option<u64>,
    released: Option<i128>,
    /// buffered events per trace id
    pending: foldhash::HashMap<[u8; 16], u32>,
    pub late_events: u64,
    pub evicted_instances: u64,
    /// [`StreamRun::queue`]'s keys by position in the trace, kept across traces
    key_cache: Vec<Option<Keys>>,
    /// the keys of a span with none
    no_keys: Keys,
    /// outcomes of the register-free per-trace properties by trace shape
    shapes: ShapeCache,
}

/// Checks a plan and its tables: the properties the streaming core steps are untimed
/// formulas (with registers per trace only), each with a verdict per state.
fn check(plan: &Plan, verdicts: &Tables) -> Result<(), String> {
    if let Some(p) = plan.properties.iter().find(|p| {
        p.timed.is_some()
            || p.samples.is_some()
            || (p.registers.is_some() && p.scope != Scope::Trace)
    }) {
        return Err(format!(
            "property {}: the streaming core runs untimed formulas (with registers per \
             trace only)",
            p.name
        ));
    }
    if let Some(p) = plan
        .properties
        .iter()
        .find(|p| p.scope == Scope::Key && p.key.is_none())
    {
        return Err(format!("property {}: a key scope without its key", p.name));
    }
    if verdicts.len() != plan.properties.len() {
        return Err("one verdict table per property".into());
    }
    for (p, v) in plan.properties.iter().zip(verdicts) {
        let n = p.automaton.states.len();
        if v.iter()
            .any(|t| t.len() != n || t.iter().any(|&c| c > INCOMPLETE))
        {
            return Err(format!("property {}: a verdict table per state", p.name));
        }
    }
    Ok(())
}

impl StreamRun {
    /// A run of `plan`; `verdicts[j]` is property `j`'s tables ([`Tables`], codes in
    /// [`VERDICTS`]).
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        plan: Plan,
        wanted: HashSet<String>,
        max_open_traces: usize,
        idle_ns: i64,
        rootless_idle_ns: i64,
        lateness_ns: u64,
        max_instances: usize,
        verdicts: Tables,
    ) -> Result<StreamRun, String> {
        check(&plan, &verdicts)?;
        let automata = plan.automata();
        let n = plan.properties.len();
        let mismatches = plan.program.mismatches();
        let cross_props = cross_props(&plan);
        let mut store = SpanStore::new();
        let keys = key_syms(&plan.program, &mut store);
        Ok(StreamRun {
            plan,
            automata,
            wanted,
            store,
            keys,
            asm: FileAssembler::new(max_open_traces.max(1)),
            idle_ns,
            rootless_idle_ns,
            lateness_ns: i128::from(lateness_ns),
            max_instances,
            backlog: VecDeque::new(),
            verdicts,
            counts: vec![[0; 6]; n],
            vacuous: vec![0; n],
            spans: 0,
            slots: Slots::default(),
            held: vec![],
            mismatches,
            letters: vec![],
            scratch: LetterScratch::default(),
            epos: vec![],
            cross_props,
            cross: (0..n).map(|_| CrossState::default()).collect(),
            heap: EventQueue::default(),
            seq: 0,
            gen: 0,
            max_end: None,
            released: None,
            pending: foldhash::HashMap::default(),
            late_events: 0,
            evicted_instances: 0,
            key_cache: vec![],
            no_keys: Arc::from(Vec::new()),
            shapes: ShapeCache::default(),
        })
    }

    /// A reloaded spec: its plan, the attribute keys to decode from now on, its verdict
    /// tables, and per new property the old property whose instances it keeps (`carry`:
    /// an unchanged cross-trace property; `StreamingMonitor.reload`'s "kept"). Open traces
    /// carry over and are decided by the new plan; buffered events get the new plan's
    /// letters and keys when released; other old instances are dropped (the caller counts
    /// them). The verdict counts start again (the caller keeps the old ones by name).
    pub fn set_plan(
        &mut self,
        plan: Plan,
        wanted: HashSet<String>,
        verdicts: Tables,
        carry: Vec<Option<u32>>,
    ) -> Result<(), String> {
        check(&plan, &verdicts)?;
        let n = plan.properties.len();
        if carry.len() != n
            || carry
                .iter()
                .flatten()
                .any(|&o| o as usize >= self.plan.properties.len())
        {
            return Err("one carried property (or none) per property".into());
        }
        let mut old: Vec<Option<CrossState>> = std::mem::take(&mut self.cross)
            .into_iter()
            .map(Some)
            .collect();
        self.cross = carry
            .iter()
            .map(|c| c.and_then(|o| old[o as usize].take()).unwrap_or_default())
            .collect();
        self.automata = plan.automata();
        self.mismatches = plan.program.mismatches();
        self.counts = vec![[0; 6]; n];
        self.vacuous = vec![0; n];
        self.verdicts = verdicts;
        self.wanted = wanted;
        self.cross_props = cross_props(&plan);
        self.keys = key_syms(&plan.program, &mut self.store);
        self.plan = plan;
        self.gen += 1;
        self.shapes.map.clear();
        Ok(())
    }

    /// Decode one request at clock `now` and buffer its spans, unless its framing refuses
    /// it whole, or upb would refuse it and `force` is false (the caller first asks whether
    /// it is a metrics request). Traces evicted by `max_open_traces` are handed out now.
    pub fn feed<'a>(&mut self, data: &'a [u8], force: bool, now: i64) -> (Batch<'a>, bool, Given) {
        self.forget_kept();
        let mut out = Given::default();
        let wanted = &self.wanted;
        let batch = decode_traces(data, Some(&|k: &str| wanted.contains(k)));
        if batch.error.is_some() || (batch.upb_refused && !force) {
            return (batch, false, out);
        }
        let rows = self.store.add_batch(&batch);
        self.spans += rows.len() as u64;
        let mut none = |_: &OwnedValue| None;
        for a in self.asm.add_at(&mut self.store, rows, now) {
            self.handle(a, &mut out, &mut none); // evicted: incomplete, no key read
        }
        (batch, true, out)
    }

    /// `StreamingMonitor.poll(now, limit=)`: move the traces idle at `now` to the backlog,
    /// decide at most `limit` (all when None) from its front, then release the buffered
    /// events under the watermark.
    pub fn poll(&mut self, now: i64, limit: Option<usize>, render: Render) -> Given {
        self.forget_kept();
        let mut out = Given::default();
        let ready = self
            .asm
            .poll(&mut self.store, now, self.idle_ns, self.rootless_idle_ns);
        out.completed = ready.len();
        self.backlog.extend(ready);
        let n = limit.map_or(self.backlog.len(), |l| l.min(self.backlog.len()));
        for _ in 0..n {
            let a = self.backlog.pop_front().expect("n <= backlog");
            self.handle(a, &mut out, render);
        }
        out.decided = n;
        self.release(false, &mut out, render);
        out
    }

    /// `StreamingMonitor.finish`: decide the backlog, then every open trace as at end of
    /// input (in the assembler's close order), then release every buffered event.
    pub fn finish(&mut self, render: Render) -> Given {
        self.forget_kept();
        let mut out = self.drain_backlog(render);
        for a in self.asm.close(&mut self.store) {
            self.handle(a, &mut out, render);
        }
        self.release(true, &mut out, render);
        out
    }

    /// `StreamingMonitor.release_all`: decide the backlog and release every buffered
    /// event; open traces stay open.
    pub fn release_all(&mut self, render: Render) -> Given {
        self.forget_kept();
        let mut out = self.drain_backlog(render);
        self.release(true, &mut out, render);
        out
    }

    fn drain_backlog(&mut self, render: Render) -> Given {
        let mut out = Given::default();
        while let Some(a) = self.backlog.pop_front() {
            self.handle(a, &mut out, render);
            out.decided += 1;
        }
        out
    }

    fn forget_kept(&mut self) {
        for s in std::mem::take(&mut self.held) {
            self.slots.unhold(s, &mut self.store);
        }
    }

    fn handle(&mut self, a: Assembled, out: &mut Given, render: Render) {
        let tid = a.trace.trace_id;
        let tid_hex = hex(&tid);
        out.handed.push(tid_hex.clone());
        match a.outcome {
            Handed::Complete => {
                let slot = self.slots.add(a.trace);
                self.slots.hold(slot);
                self.held.push(slot);
                self.letters_of(slot);
                self.decide(slot, out);
                if self.cross_props.is_empty() {
                    out.done.push(tid_hex);
                    return;
                }
                self.queue(slot, false, out, render);
            }
            Handed::Incomplete => {
                for (j, p) in self.plan.properties.iter().enumerate() {
                    if p.scope == Scope::Trace {
                        self.counts[j][INCOMPLETE as usize] += 1;
                    }
                }
                self.store.release(a.trace.rows);
                if !self.pending.contains_key(&tid) {
                    out.done.push(tid_hex);
                }
            }
            Handed::Late => {
                if self.cross_props.is_empty() {
                    self.store.release(a.trace.rows);
                } else {
                    // late spans: per-trace verdicts stand; their events may still reach
                    // cross-trace instances
                    let slot = self.slots.add(a.trace);
                    self.slots.hold(slot);
                    self.letters_of(slot);
                    self.queue(slot, true, out, render);
                    self.slots.unhold(slot, &mut self.store);
                }
                if !self.pending.contains_key(&tid) {
                    out.done.push(tid_hex);
                }
            }
        }
    }

    /// The plan letters of every event of the trace in `slot`, into `self.letters`.
    fn letters_of(&mut self, slot: u32) {
        let trace = self.slots.get(slot).expect("a live slot");
        let view = View {
            store: &self.store,
            trace,
            keys: &self.keys,
        };
        event_positions(trace, &mut self.epos);
        trace_letters(
            &self.plan.program,
            &view,
            &self.epos,
            &mut self.letters,
            &mut self.mismatches,
            &mut self.scratch,
        );
    }

    /// Step every per-trace property over the trace in `slot` (letters in `self.letters`).
    fn decide(&mut self, slot: u32, out: &mut Given) {
        let trace = self.slots.get(slot).expect("a live slot");
        let words = self.plan.program.n_words();
        let n = trace.events.len();
        let partial = usize::from(trace.is_partial());
        let mut trace_id = None;
        // the register-free properties' outcomes depend on the letters alone: a trace of a
        // shape stepped before takes them from the shape cache
        let mut shape = std::mem::take(&mut self.shapes);
        let keyed = shape.note(&self.letters, n);
        let known = shape.get(keyed);
        let mut fresh = Vec::new();
        let mut k = 0;
        for (j, p) in self.plan.properties.iter().enumerate() {
            if p.scope != Scope::Trace {
                continue;
            }
            let o = match p.registers {
                Some(r) => {
                    let view = View {
                        store: &self.store,
                        trace,
                        keys: &self.keys,
                    };
                    let o = registers::step_trace(
                        p,
                        &self.plan.program.registers[r as usize],
                        &mut self.automata[j],
                        &view,
                        &trace.events,
                        &self.letters,
                        words,
                        &mut self.mismatches,
                    );
                    Shaped::of(&o)
                }
                None => {
                    let o = match known {
                        Some(outs) => outs[k],
                        None => {
                            let o = Shaped::of(&step_trace(
                                p,
                                &mut self.automata[j],
                                &self.letters,
                                words,
                                n,
                            ));
                            fresh.push(o);
                            o
                        }
                    };
                    k += 1;
                    o
                }
            };
            let code = self.verdicts[j][partial][o.state as usize];
            self.counts[j][code as usize] += 1;
            if code == SATISFIED && !p.trigger.is_empty() && !o.trigger {
                self.vacuous[j] += 1;
            } else if code == VIOLATED {
                out.violated.push(Violated {
                    prop: j as u32,
                    trace: slot,
                    trace_id: trace_id.get_or_insert_with(|| hex(&trace.trace_id)).clone(),
                    state: o.state,
                    decided: o.decided,
                    raised: o.raised,
                    last: n as u32 - 1,
                });
            }
        }
        if known.is_none() {
            shape.insert(fresh);
        }
        self.shapes = shape;
    }

    /// The scope keys of span `row` of the trace in `slot`, per cross-trace property that
    /// has one (`StreamingMonitor._keys`).
    fn keys_of(&self, slot: u32, row: u32, render: Render) -> Vec<(u32, Arc<str>)> {
        let trace = self.slots.get(slot).expect("a live slot");
        let view = View {
            store: &self.store,
            trace,
            keys: &self.keys,
        };
        let mut out = vec![];
        for &j in &self.cross_props {
            let p = &self.plan.properties[j as usize];
            let key: Option<Arc<str>> = match (p.scope, p.key) {
                (Scope::Key, Some(v)) => {
                    resolve(span_key(&self.plan.program, v as usize, &view, row), render)
                        .map(Arc::from)
                }
                _ => Some(Arc::from("*")),
            };
            if let Some(k) = key {
                out.push((j, k));
            }
        }
        out
    }

    /// `StreamingMonitor._complete`'s cross-trace part (or `_cross_late`'s, for `late`
    /// spans): buffer the events that belong to some instance, or count them late.
    fn queue(&mut self, slot: u32, late: bool, out: &mut Given, render: Render) {
        let trace = self.slots.get(slot).expect("a live slot");
        let tid = trace.trace_id;
        let n = trace.events.len();
        let end = trace
            .rows
            .iter()
            .map(|&r| self.store.end_ns(r).max(self.store.start_ns(r)))
            .max();
        let words = self.plan.program.n_words();
        // a span's keys, by its position in the trace: read once for its two events
        let mut cache = std::mem::take(&mut self.key_cache);
        cache.clear();
        cache.resize(trace.rows.len(), None);
        let mut queued = 0u32;
        for i in 0..n {
            let ev = self.slots.get(slot).expect("a live slot").events[i];
            let is_late = |r: Option<i128>| r.is_some_and(|r| i128::from(ev.time_ns) <= r);
            let keys = self.keys_cached(&mut cache, slot, ev.row, render);
            if late && is_late(self.released) {
                self.late_event(&keys);
                continue;
            }
            if keys.is_empty() {
                continue;
            }
            if !late && is_late(self.released) {
                self.late_event(&keys);
                continue;
            }
            let hits = keys
                .iter()
                .map(|(j, k)| Hit {
                    prop: *j,
                    key: k.clone(),
                    letter: local_letter(
                        &self.plan.properties[*j as usize],
                        &self.letters,
                        words,
                        i,
                    ),
                })
                .collect();
            self.seq += 1;
            self.heap.push(Queued {
                time: ev.time_ns,
                tid,
                index: i as u32 + if late { LATE_INDEX } else { 0 },
                seq: self.seq,
                slot,
                event: i as u32,
                gen: self.gen,
                hits,
            });
            self.slots.hold(slot);
            queued += 1;
        }
        self.key_cache = cache;
        if queued > 0 {
            *self.pending.entry(tid).or_insert(0) += queued;
        } else if !late {
            out.done.push(hex(&tid));
        }
        if !late {
            if let Some(end) = end {
                self.max_end = Some(self.max_end.map_or(end, |m| m.max(end)));
            }
        }
    }

    /// The scope keys of span `row` of the trace in `slot` ([`StreamRun::keys_of`]),
    /// computed once per span of the trace being queued (`cache`, by position).
    fn keys_cached(&self, cache: &mut [Option<Keys>], slot: u32, row: u32, render: Render) -> Keys {
        let trace = self.slots.get(slot).expect("a live slot");
        let Some(p) = trace.pos(row) else {
            return self.keys_arc(slot, row, render);
        };
        if let Some(k) = &cache[p] {
            return k.clone();
        }
        let k = self.keys_arc(slot, row, render);
        cache[p] = Some(k.clone());
        k
    }

    fn keys_arc(&self, slot: u32, row: u32, render: Render) -> Keys {
        let k = self.keys_of(slot, row, render);
        if k.is_empty() {
            self.no_keys.clone() // shared: most spans have no scope key
        } else {
            k.into()
        }
    }

    /// `StreamingMonitor._late_event`: counted; the open instance of each key it belongs
    /// to (created if need be) can no longer be decided but as final.
    fn late_event(&mut self, keys: &[(u32, Arc<str>)]) {
        self.late_events += 1;
        for (j, key) in keys {
            let cs = &mut self.cross[*j as usize];
            if cs.decided.contains_key(key) {
                continue;
            }
            if let Some(inst) = cs.open.get_mut(key) {
                inst.late = true;
                continue;
            }
            let inst = self.new_inst(*j, true);
            self.open_new(*j, key, inst);
        }
    }

    fn new_inst(&self, j: u32, late: bool) -> Inst {
        Inst {
            state: self.plan.properties[j as usize].automaton.initial,
            first: true,
            partial: false,
            late,
            raised: None,
            ids: TraceIds::None,
        }
    }

    /// `opened[key] = Instance(...)` then `_limit`: returns the new instance when the limit
    /// evicted it at once (`max_instances` 0), else None (it is open).
    fn open_new(&mut self, j: u32, key: &Arc<str>, inst: Inst) -> Option<Inst> {
        let cs = &mut self.cross[j as usize];
        cs.open.push_back(key.clone(), inst);
        let mut detached = None;
        while self.cross[j as usize].open.len() > self.max_instances {
            let Some((k, old)) = self.cross[j as usize].open.pop_front() else {
                break;
            };
            self.evicted_instances += 1;
            self.decide_key(j, &k, INCOMPLETE);
            if &k == key {
                detached = Some(old);
            }
        }
        detached
    }

    /// `StreamingMonitor._decide`: remember the final verdict (the instance is no longer
    /// open), counted; the oldest remembered beyond `max_instances` are forgotten.
    fn decide_key(&mut self, j: u32, key: &Arc<str>, verdict: u8) {
        let cs = &mut self.cross[j as usize];
        cs.open.remove(key);
        if cs.decided.insert(key.clone(), verdict).is_none() {
            cs.decided_order.push_back(key.clone());
        }
        self.counts[j as usize][verdict as usize] += 1;
        while cs.decided.len() > self.max_instances {
            match cs.decided_order.pop_front() {
                Some(k) => {
                    cs.decided.remove(&k);
                }
                None => break,
            }
        }
    }

    /// `StreamingMonitor._step`: one buffered event stepped on the instance of `key`.
    fn step(
        &mut self,
        j: u32,
        key: &Arc<str>,
        letter: u64,
        slot: u32,
        event: u32,
        out: &mut Given,
    ) {
        let cs = &mut self.cross[j as usize];
        // taken out while stepped, and put back last in the order (`move_to_end`)
        let (mut inst, detached) = match cs.open.remove(key) {
            Some(inst) => (inst, false),
            None => {
                if cs.decided.contains_key(key) {
                    return; // final verdicts do not change
                }
                let inst = self.new_inst(j, false);
                match self.open_new(j, key, inst) {
                    Some(inst) => (inst, true),
                    None => {
                        let inst = self.cross[j as usize]
                            .open
                            .remove(key)
                            .expect("just opened");
                        (inst, false)
                    }
                }
            }
        };
        let trace = self
            .slots
            .get(slot)
            .expect("a buffered event's trace is live");
        let ev = trace.events[event as usize];
        let aut = &mut self.automata[j as usize];
        let s = inst.state;
        let ns = aut.step(s, letter);
        let mut decided = false;
        if ns != s || inst.first {
            let next = aut.state(ns);
            if next.decided {
                decided = true;
            } else if next.pv {
                // for `F a` the obligation is there from the instance's first event
                if inst.first || !aut.state(s).pv {
                    inst.raised = Some(Box::new(witness(&self.store, ev)));
                }
            } else {
                inst.raised = None;
            }
            inst.state = ns;
        }
        inst.first = false;
        inst.ids.add(trace.trace_id);
        inst.partial |= trace.is_partial();
        if decided {
            let mut v = self.verdicts[j as usize][2][inst.state as usize];
            if inst.late && v != INCONCLUSIVE {
                v = INCONCLUSIVE; // a missing event could have changed it
            }
            self.decide_key(j, key, v);
            if v == VIOLATED {
                out.cross_violated.push(CrossViolated {
                    prop: j,
                    key: key.to_string(),
                    trace_ids: inst.ids.list().iter().map(|t| hex(t)).collect(),
                    state: inst.state,
                    raised: inst.raised.take().map(|w| *w),
                    decided: witness(&self.store, ev),
                });
            }
        } else if !detached {
            self.cross[j as usize].open.push_back(key.clone(), inst);
        }
    }

    /// `StreamingMonitor._release`: step the buffered events at or before the watermark
    /// (every one when `final`) on their instances, in order.
    fn release(&mut self, final_: bool, out: &mut Given, render: Render) {
        if self.cross_props.is_empty() && self.heap.is_empty() {
            return;
        }
        let wm = if final_ {
            1i128 << 126
        } else {
            match self.max_end {
                None => return,
                Some(m) => i128::from(m) - self.lateness_ns,
            }
        };
        while self
            .heap
            .peek_primary()
            .is_some_and(|t| i128::from(t) <= wm)
        {
            let q = self.heap.pop().expect("peeked");
            let hits = if q.gen == self.gen {
                q.hits
            } else {
                self.rehit(q.slot, q.event, render)
            };
            for h in hits.iter() {
                self.step(h.prop, &h.key, h.letter, q.slot, q.event, out);
            }
            if let Some(n) = self.pending.get_mut(&q.tid) {
                *n -= 1;
                if *n == 0 {
                    self.pending.remove(&q.tid);
                    out.done.push(hex(&q.tid));
                }
            }
            self.slots.unhold(q.slot, &mut self.store);
        }
        if !final_ {
            self.released = Some(self.released.map_or(wm, |r| r.max(wm)));
        }
    }

    /// A buffered event's hits under the current plan (it was queued before a reload).
    fn rehit(&mut self, slot: u32, event: u32, render: Render) -> Box<[Hit]> {
        let trace = self
            .slots
            .get(slot)
            .expect("a buffered event's trace is live");
        let ev = trace.events[event as usize];
        let words = self.plan.program.n_words();
        let mut w = vec![0u64; words];
        let view = View {
            store: &self.store,
            trace,
            keys: &self.keys,
        };
        self.plan
            .program
            .eval(&view, ev.row, ev.is_start, &mut w, &mut self.mismatches);
        self.keys_of(slot, ev.row, render)
            .into_iter()
            .map(|(j, key)| Hit {
                prop: j,
                key,
                letter: local_letter(&self.plan.properties[j as usize], &w, words, 0),
            })
            .collect()
    }

    /// Keep at most `limit` trace shapes (0: step every trace); the shapes known go.
    pub fn set_shape_cache(&mut self, limit: usize) {
        self.shapes.limit = limit;
        self.shapes.map.clear();
    }

    /// The trace-shape cache's (hits, misses) so far.
    pub fn shape_counts(&self) -> (u64, u64) {
        (self.shapes.hits, self.shapes.misses)
    }

    /// Event `index` of trace `trace` (a slot, as [`Violated::trace`] names it) decided
    /// by the last call.
    pub fn event(&self, trace: usize, index: usize) -> Option<Event> {
        self.slots.get(trace as u32)?.events.get(index).copied()
    }

    pub fn store(&self) -> &SpanStore {
        &self.store
    }

    /// Completed traces waiting to be decided.
    pub fn backlog(&self) -> usize {
        self.backlog.len()
    }

    /// Open cross-trace instances, over every property.
    pub fn open_instances(&self) -> usize {
        self.cross.iter().map(|c| c.open.len()).sum()
    }

    /// Per plan property, its open instances.
    pub fn open_per_property(&self) -> Vec<usize> {
        self.cross.iter().map(|c| c.open.len()).collect()
    }

    /// Cross-trace events held until the watermark passes them.
    pub fn buffered_events(&self) -> usize {
        self.heap.len()
    }

    /// The watermark: the largest end time of a complete trace minus `lateness_ns`.
    pub fn watermark(&self) -> Option<i128> {
        self.max_end.map(|m| i128::from(m) - self.lateness_ns)
    }

    /// `StreamingMonitor.verdicts` for plan property `j` (a cross-trace one): the final
    /// verdicts remembered, oldest first, then the open instances' (`presumably_*`, or
    /// `inconclusive` after a late event or with events of a partial trace), least
    /// recently stepped first.
    pub fn verdicts_of(&self, j: usize) -> Vec<(&str, u8)> {
        let cs = &self.cross[j];
        let mut out: Vec<(&str, u8)> = cs
            .decided_order
            .iter()
            .map(|k| (&**k, cs.decided[k]))
            .collect();
        for (k, inst) in cs.open.iter() {
            let mut v = self.verdicts[j][2][inst.state as usize];
            let fin = matches!(v, SATISFIED | VIOLATED | INCONCLUSIVE);
            if (inst.late || inst.partial) && !fin {
                v = INCONCLUSIVE;
            }
            out.push((&**k, v));
        }
        out
    }

    /// The assembler's counters and sizes.
    pub fn counters(&self) -> [(&'static str, u64); 7] {
        [
            ("duplicates", self.asm.duplicates),
            ("evicted", self.asm.evicted),
            ("late", self.asm.late),
            ("completed", self.asm.completed),
            ("open_traces", self.asm.open_traces() as u64),
            ("open_spans", self.asm.open_spans() as u64),
            ("spans", self.spans),
        ]
    }
}

fn cross_props(plan: &Plan) -> Vec<u32> {
    plan.properties
        .iter()
        .enumerate()
        .filter(|(_, p)| p.scope != Scope::Trace)
        .map(|(j, _)| j as u32)
        .collect()
}

fn witness(store: &SpanStore, ev: Event) -> Witness {
    Witness {
        time_ns: ev.time_ns,
        is_start: ev.is_start,
        span: Arc::new(SpanCopy::of(store, ev.row)),
    }
}

/// The spans of a serialized `ExportTraceServiceRequest`, counted from its framing alone
/// (resource spans, scope spans, spans), without decoding a span: what the sidecar's
/// ingest queue is bounded by before the engine decodes the request. None when the
/// framing above the spans is broken (the decoder then refuses the request).
pub fn count_spans(data: &[u8]) -> Option<usize> {
    fn each<'a>(
        buf: &'a [u8],
        field: u32,
        mut f: impl FnMut(&'a [u8]) -> Option<()>,
    ) -> Option<()> {
        for item in Fields::new(buf, 0) {
            match item.ok()? {
                (n, Value::Bytes(b, _)) if n == field => f(b)?,
                _ => {}
            }
        }
        Some(())
    }
    let mut n = 0usize;
    each(data, 1, |rs| {
        each(rs, 2, |ss| {
            each(ss, 2, |_| {
                n += 1;
                Some(())
            })
        })
    })?;
    Some(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn varint(mut v: u64, out: &mut Vec<u8>) {
        while v >= 0x80 {
            out.push((v as u8) | 0x80);
            v >>= 7;
        }
        out.push(v as u8);
    }

    fn field(n: u32, body: &[u8]) -> Vec<u8> {
        let mut out = vec![];
        varint(u64::from(n) << 3 | 2, &mut out);
        varint(body.len() as u64, &mut out);
        out.extend_from_slice(body);
        out
    }

    #[test]
    fn count_spans_walks_the_framing_only() {
        let span = field(1, &[0u8; 16]); // a trace id; not checked
        let ss = [field(1, b"scope"), field(2, &span), field(2, &span)].concat();
        let rs = [field(2, &ss), field(2, &field(2, &span))].concat();
        let req = [field(1, &rs), field(1, &field(2, &ss))].concat();
        assert_eq!(count_spans(&req), Some(5));
        assert_eq!(count_spans(&[]), Some(0));
        assert_eq!(count_spans(&req[..req.len() - 1]), None);
    }

    fn plan(scope: &str) -> Plan {
        let doc = format!(
            r#"{{"version": {v}, "program": {{"atoms": [], "sites": [], "values": []}},
                "properties": [{{"name": "p", "atoms": [], "trigger": [], "scope": "{scope}",
                                 "key": null, "initial": 0,
                                 "states": [{{"cubes": [], "default": 0,
                                              "decided": false, "pv": false}}]}}]}}"#,
            v = crate::plan::PLAN_VERSION
        );
        Plan::from_json(&doc).unwrap_or_else(|e| panic!("{e}"))
    }

    /// A global property violated at its instance's first event (no atoms: every letter
    /// is 0; state 0 goes to the decided state 1 on it).
    fn first_event_violates() -> Plan {
        let doc = format!(
            r#"{{"version": {v}, "program": {{"atoms": [], "sites": [], "values": []}},
                "properties": [{{"name": "g", "atoms": [], "trigger": [], "scope": "global",
                                 "key": null, "initial": 0,
                                 "states": [{{"cubes": [], "default": 1,
                                              "decided": false, "pv": false}},
                                            {{"cubes": [], "default": 1,
                                              "decided": true, "pv": false}}]}}]}}"#,
            v = crate::plan::PLAN_VERSION
        );
        Plan::from_json(&doc).unwrap_or_else(|e| panic!("{e}"))
    }

    fn fixed64(n: u32, v: u64) -> Vec<u8> {
        let mut out = vec![];
        varint(u64::from(n) << 3 | 1, &mut out);
        out.extend_from_slice(&v.to_le_bytes());
        out
    }

    /// A request of root spans `(trace byte, span byte, start, end)`.
    fn request(spans: &[(u8, u8, u64, u64)]) -> Vec<u8> {
        let mut ss = vec![];
        for &(t, s, start, end) in spans {
            let span = [
                field(1, &[t; 16]),
                field(2, &[s; 8]),
                field(5, b"op"),
                fixed64(7, start),
                fixed64(8, end),
            ]
            .concat();
            ss.extend(field(2, &span));
        }
        field(1, &field(2, &ss))
    }

    fn run(max_instances: usize) -> StreamRun {
        let tables = vec![[vec![2u8, 1], vec![4u8, 1], vec![2u8, 1]]];
        StreamRun::new(
            first_event_violates(),
            HashSet::new(),
            10,
            1,
            1,
            0,
            max_instances,
            tables,
        )
        .unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn a_global_instance_is_decided_under_the_watermark_with_its_evidence() {
        let mut r = run(10);
        let mut none = |_: &OwnedValue| None;
        r.feed(&request(&[(2, 1, 50, 60), (1, 1, 10, 20)]), false, 0);
        let g = r.poll(5, None, &mut none);
        assert_eq!(g.decided, 2);
        assert_eq!(g.cross_violated.len(), 1);
        let v = &g.cross_violated[0];
        // the earliest event of the instance (trace 1's start, at 10) decided it
        assert_eq!(
            (v.key.as_str(), v.decided.time_ns, v.decided.is_start),
            ("*", 10, true)
        );
        assert_eq!(v.trace_ids, vec![hex(&[1u8; 16])]);
        assert_eq!(v.decided.span.trace_id, hex(&[1u8; 16]));
        assert_eq!(r.counts[0][VIOLATED as usize], 1);
        assert_eq!(r.verdicts_of(0), vec![("*", VIOLATED)]);
        assert_eq!((r.buffered_events(), r.watermark()), (0, Some(60)));
        // every buffered event released: both traces are done, in release order
        assert_eq!(g.done, vec![hex(&[1u8; 16]), hex(&[2u8; 16])]);
        // a later trace's events at or before the watermark are late: counted, and a
        // final verdict does not change
        r.feed(&request(&[(3, 1, 30, 40)]), false, 10);
        let g = r.poll(20, None, &mut none);
        assert_eq!((r.late_events, g.cross_violated.len()), (2, 0));
        assert_eq!(g.done, vec![hex(&[3u8; 16])]);
        assert_eq!(r.verdicts_of(0), vec![("*", VIOLATED)]);
    }

    #[test]
    fn with_no_room_for_an_instance_it_is_evicted_at_once_yet_stepped() {
        // StreamingMonitor with max_instances=0: the new instance is evicted (incomplete,
        // counted) and still stepped on the event that created it; its final verdict is
        // not remembered either, so the span's end event starts (and decides) another
        let mut r = run(0);
        let mut none = |_: &OwnedValue| None;
        r.feed(&request(&[(1, 1, 10, 20)]), false, 0);
        let g = r.poll(5, None, &mut none);
        assert_eq!(r.evicted_instances, 2);
        assert_eq!(r.counts[0][INCOMPLETE as usize], 2);
        assert_eq!(g.cross_violated.len(), 2);
        assert_eq!(r.counts[0][VIOLATED as usize], 2);
        assert!(r.verdicts_of(0).is_empty()); // nothing remembered: max_instances is 0
    }

    /// A `serve` holds up to `max_instances` open instances per property: what one holds
    /// besides its key text (bench/bench_memory.py measures the whole, RSS).
    #[test]
    fn the_shape_cache_keeps_at_most_its_limit_of_short_shapes() {
        let out = |state| Shaped {
            state,
            decided: None,
            raised: Some(1),
            trigger: true,
        };
        let mut c = ShapeCache {
            limit: 2,
            ..ShapeCache::default()
        };
        for (letters, n) in [(vec![1, 2], 2), (vec![1, 2], 3), (vec![3], 1)] {
            assert!(c.note(&letters, n));
            assert!(c.get(true).is_none());
            c.insert(vec![out(n as u32)]);
        }
        // the third shape found the cache full: it holds only that one now
        assert_eq!(c.map.len(), 1);
        assert!(c.note(&[3], 1) && c.get(true) == Some(&[out(1)][..]));
        assert!(c.note(&[1, 2], 2) && c.get(true).is_none());
        assert_eq!((c.hits, c.misses), (1, 4));
        // a trace too long to keep is stepped, not cached
        assert!(!c.note(&vec![0; SHAPE_WORDS], 1));
        c.insert(vec![out(9)]);
        assert_eq!(c.map.len(), 1);
        c.limit = 0;
        assert!(!c.note(&[3], 1) && c.get(false).is_none());
    }

    #[test]
    fn an_open_instance_is_small() {
        use std::mem::size_of;
        assert!(size_of::<Inst>() <= 40, "{}", size_of::<Inst>());
        // with its key, as a KeyLru slot holds it (plus two u32 links)
        assert!(size_of::<Option<(Arc<str>, Inst)>>() <= 56);
        let mut ids = TraceIds::None;
        for t in [[1u8; 16], [1; 16], [2; 16], [1; 16], [3; 16]] {
            ids.add(t);
        }
        assert_eq!(ids.list(), &[[1u8; 16], [2; 16], [3; 16]]);
        let mut one = TraceIds::None;
        one.add([7; 16]);
        one.add([7; 16]);
        assert!(matches!(one, TraceIds::One(t) if t == [7; 16]));
    }

    #[test]
    fn plans_with_a_verdict_per_state_are_taken() {
        let table = || vec![[vec![0u8], vec![4u8], vec![2u8]]];
        let new = |p, t| StreamRun::new(p, HashSet::new(), 1, 0, 0, 0, 1, t);
        assert!(new(plan("trace"), table()).is_ok());
        assert!(new(plan("global"), table()).is_ok());
        let short = vec![[vec![], vec![0u8], vec![0u8]]];
        assert!(new(plan("trace"), short).is_err());
        let bad = vec![[vec![6u8], vec![0u8], vec![0u8]]];
        assert!(new(plan("trace"), bad).is_err());
    }
}
