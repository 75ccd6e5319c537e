//! One file-mode run of a plan: requests in, per-trace results out (the `Monitor`'s
//! `feed_otlp` ... `close` on the core).
//!
//! Requests are decoded into the owned [`SpanStore`] and buffered by the [`FileAssembler`]
//! exactly as the Python engine's `Assembler` buffers them. At [`FileRun::close`] every
//! handed-out trace is reported in the Python engine's order; each complete one has its
//! events' letters computed by the plan's atom program and every plan property stepped on
//! them. The traces are kept so that the events of violations can be read back as witnesses.

use std::collections::{BTreeSet, HashSet};

use crate::assembly::{Assembled, FileAssembler, Outcome as Handed};
use crate::atoms::{AttrRef, Mismatches, SpanSource};
use crate::automaton::Cached;
use crate::order::{Event, Trace};
use crate::otlp::{decode_traces, Batch};
use crate::plan::Plan;
use crate::run::{step_trace, Outcome};
use crate::store::{hex, OwnedValue, SpanStore};

/// One handed-out trace: id (hex), outcome, reason, partial.
pub type Handout = (String, &'static str, String, bool);

/// What [`FileRun::close`] computed.
pub struct Closed {
    pub traces: Vec<Handout>,
    /// per plan property, per complete trace (in `traces` order)
    pub results: Vec<Vec<Outcome>>,
    pub n_events: Vec<u32>,
    pub mismatches: Mismatches,
    /// the complete traces, for [`FileRun::event`]
    complete: Vec<Trace>,
}

pub struct FileRun {
    plan: Plan,
    automata: Vec<Cached>,
    wanted: HashSet<String>,
    store: SpanStore,
    asm: FileAssembler,
    /// traces evicted while feeding: reported at close, their spans already released
    evicted: Vec<Handout>,
    seen: BTreeSet<String>,
    pub closed: Option<Closed>,
}

impl FileRun {
    pub fn new(plan: Plan, wanted: HashSet<String>, max_open_traces: usize) -> FileRun {
        let automata = plan.automata();
        FileRun {
            plan,
            automata,
            wanted,
            store: SpanStore::new(),
            asm: FileAssembler::new(max_open_traces.max(1)),
            evicted: vec![],
            seen: BTreeSet::new(),
            closed: None,
        }
    }

    /// Decode one request and keep its spans, unless its framing refuses it whole, or upb
    /// would refuse it and `force` is false (the caller first asks whether it is a metrics
    /// request). Returns the decoded batch and whether its spans were kept.
    pub fn feed<'a>(&mut self, data: &'a [u8], force: bool) -> (Batch<'a>, bool) {
        let wanted = &self.wanted;
        let batch = decode_traces(data, Some(&|k: &str| wanted.contains(k)));
        if batch.error.is_some() || (batch.upb_refused && !force) || self.closed.is_some() {
            return (batch, false);
        }
        let rows = self.store.add_batch(&batch);
        for k in &batch.attr_key {
            if !self.seen.contains(*k) {
                self.seen.insert((*k).to_owned());
            }
        }
        let mut used = vec![false; batch.resources.len()];
        for &r in &batch.resource {
            used[r as usize] = true;
        }
        for (res, _) in batch.resources.iter().zip(&used).filter(|(_, &u)| u) {
            for (k, _) in &res.attrs {
                if !self.seen.contains(*k) {
                    self.seen.insert((*k).to_owned());
                }
            }
        }
        for a in self.asm.add(&mut self.store, rows) {
            self.evicted.push(handout(&a));
            self.store.release(a.trace.rows);
        }
        (batch, true)
    }

    /// The wanted attribute keys some kept span or its resource carried, sorted.
    pub fn seen_keys(&self) -> Vec<String> {
        self.seen.iter().cloned().collect()
    }

    pub fn counters(&self) -> [(&'static str, u64); 4] {
        [
            ("duplicates", self.asm.duplicates),
            ("evicted", self.asm.evicted),
            ("late", self.asm.late),
            ("completed", self.asm.completed),
        ]
    }

    /// Hand out every trace and step every property on the complete ones (once).
    pub fn close(&mut self) -> &Closed {
        if self.closed.is_none() {
            let handed = self.asm.close(&self.store);
            let words = self.plan.program.n_words();
            let mut mismatches = self.plan.program.mismatches();
            let mut results = vec![Vec::new(); self.plan.properties.len()];
            let mut traces = std::mem::take(&mut self.evicted);
            let (mut n_events, mut complete) = (vec![], vec![]);
            let mut letters = Vec::new();
            for a in handed {
                traces.push(handout(&a));
                if a.outcome != Handed::Complete {
                    self.store.release(a.trace.rows);
                    continue;
                }
                let view = View {
                    store: &self.store,
                    trace: &a.trace,
                };
                let n = a.trace.events.len();
                letters.clear();
                letters.resize(n * words, 0u64);
                for (e, ev) in a.trace.events.iter().enumerate() {
                    let out = &mut letters[e * words..(e + 1) * words];
                    self.plan
                        .program
                        .eval(&view, ev.row, ev.is_start, out, &mut mismatches);
                }
                for (j, p) in self.plan.properties.iter().enumerate() {
                    results[j].push(step_trace(p, &mut self.automata[j], &letters, words, n));
                }
                n_events.push(n as u32);
                complete.push(a.trace);
            }
            self.closed = Some(Closed {
                traces,
                results,
                n_events,
                mismatches,
                complete,
            });
        }
        self.closed.as_ref().expect("closed above")
    }

    /// Event `index` of complete trace `trace` (numbered as in `Closed::n_events`).
    pub fn event(&self, trace: usize, index: usize) -> Option<Event> {
        let c = self.closed.as_ref()?;
        c.complete.get(trace)?.events.get(index).copied()
    }

    pub fn store(&self) -> &SpanStore {
        &self.store
    }
}

fn handout(a: &Assembled) -> Handout {
    (
        hex(&a.trace.trace_id),
        a.outcome.name(),
        a.reason.clone(),
        a.trace.is_partial(),
    )
}

/// A complete trace as the atom program reads it.
struct View<'s> {
    store: &'s SpanStore,
    trace: &'s Trace,
}

fn attr_ref(v: &OwnedValue) -> AttrRef<'_> {
    match v {
        OwnedValue::Str(s) => AttrRef::Str(s),
        OwnedValue::Bool(b) => AttrRef::Bool(*b),
        OwnedValue::Int(i) => AttrRef::Int(*i),
        OwnedValue::Double(f) => AttrRef::Double(*f),
        other => AttrRef::Other(other.type_name()),
    }
}

impl SpanSource for View<'_> {
    fn name(&self, r: u32) -> &str {
        self.store.name(r)
    }
    fn kind(&self, r: u32) -> &'static str {
        self.store.kind(r)
    }
    fn status(&self, r: u32) -> &'static str {
        self.store.status(r)
    }
    fn status_message(&self, r: u32) -> &str {
        self.store.status_message(r)
    }
    fn service(&self, r: u32) -> &str {
        self.store.service(r)
    }
    fn scope_name(&self, r: u32) -> &str {
        self.store.scope_name(r)
    }
    fn trace_id_hex(&self, r: u32) -> String {
        self.store.trace_id_hex(r)
    }
    fn span_id_hex(&self, r: u32) -> String {
        self.store.span_id_hex(r)
    }
    fn parent_id_hex(&self, r: u32) -> String {
        self.store.parent_id_hex(r)
    }
    fn start_ns(&self, r: u32) -> u64 {
        self.store.start_ns(r)
    }
    fn end_ns(&self, r: u32) -> u64 {
        self.store.end_ns(r)
    }
    fn attr(&self, r: u32, key: &str) -> Option<AttrRef<'_>> {
        self.store.attr(r, key).map(attr_ref)
    }
    fn resource_attr(&self, r: u32, key: &str) -> Option<AttrRef<'_>> {
        self.store.resource_attr(r, key).map(attr_ref)
    }
    fn has_event(&self, r: u32, name: &str) -> bool {
        self.store.has_event(r, name)
    }
    fn parent(&self, r: u32) -> Option<u32> {
        self.trace.parent(r)
    }
    fn children(&self, r: u32) -> &[u32] {
        self.trace.children(r)
    }
}
