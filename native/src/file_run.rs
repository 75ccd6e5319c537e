//! One file-mode run of a plan: requests in, per-trace results out (the `Monitor`'s
//! `feed_otlp` ... `close` on the core).
//!
//! Requests are decoded into the owned [`SpanStore`] and buffered by the [`FileAssembler`]
//! exactly as the Python engine's `Assembler` buffers them. At [`FileRun::close`] every
//! handed-out trace is reported in the Python engine's order; each complete one has its
//! events' letters computed by the plan's atom program and every plan property stepped on
//! them: per-trace properties on each trace, cross-trace ones (`per attr["k"]`, `per
//! service`, `global`) on each scope key's events of all complete traces ([`crate::cross`]).
//! The traces are kept so that the events of violations can be read back as witnesses.

use std::collections::{BTreeSet, HashSet};

use crate::assembly::{Assembled, FileAssembler, Outcome as Handed};
use crate::atoms::{AttrRef, Mismatches, Program, SpanSource};
use crate::automaton::Cached;
use crate::cross::{self, Buckets, KeyText, Rendered, Row};
use crate::order::{Event, Trace};
use crate::otlp::{decode_traces, Batch};
use crate::plan::Plan;
use crate::run::{local_letter, step_trace, trigger_at, Outcome, Scope};
use crate::store::{hex, OwnedValue, SpanStore};

/// One handed-out trace: id (hex), outcome, reason, partial.
pub type Handout = (String, &'static str, String, bool);

/// What [`FileRun::close`] computed.
pub struct Closed {
    pub traces: Vec<Handout>,
    /// per plan property of scope trace, per complete trace (in `traces` order); empty for
    /// the others
    pub results: Vec<Vec<Outcome>>,
    /// per plan property of a cross-trace scope, its instances (keys in first-seen order)
    pub cross: Vec<Option<Vec<cross::Instance>>>,
    /// per handed-out trace that was not complete (in `traces` order), per plan property:
    /// the distinct keys of its spans (in span order) for a key scope, empty for the others
    pub evicted_keys: Vec<Vec<Vec<String>>>,
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
    /// per evicted trace, per plan property, its spans' scope keys (see `Closed`), read
    /// before the spans were released
    evicted_keys: Vec<Vec<Vec<KeyText>>>,
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
            evicted_keys: vec![],
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
            self.evicted_keys
                .push(trace_keys(&self.plan, &self.store, &a.trace));
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
    /// `render` gives Python's text of a scope key value the core cannot render itself
    /// (a bytes, array or key-value list attribute; see [`cross::KeyText`]).
    pub fn close(&mut self, render: &mut dyn FnMut(&OwnedValue) -> Option<String>) -> &Closed {
        if self.closed.is_none() {
            let handed = self.asm.close(&self.store);
            let words = self.plan.program.n_words();
            let mut mismatches = self.plan.program.mismatches();
            let n_props = self.plan.properties.len();
            let mut results = vec![Vec::new(); n_props];
            let mut buckets: Vec<Buckets> = (0..n_props).map(|_| Buckets::default()).collect();
            let mut traces = std::mem::take(&mut self.evicted);
            let mut pending = std::mem::take(&mut self.evicted_keys);
            let (mut n_events, mut complete) = (vec![], vec![]);
            let (mut ids, mut partial) = (vec![], vec![]);
            let mut letters = Vec::new();
            // per value expression of a scope key: the key of each event of the trace
            let mut keys: Vec<Option<Vec<Option<String>>>> =
                vec![None; self.plan.program.n_values()];
            for a in handed {
                traces.push(handout(&a));
                if a.outcome != Handed::Complete {
                    pending.push(trace_keys(&self.plan, &self.store, &a.trace));
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
                keys.iter_mut().for_each(|k| *k = None);
                let t = complete.len() as u32;
                for (j, p) in self.plan.properties.iter().enumerate() {
                    let per_event = match (p.scope, p.key) {
                        (Scope::Trace, _) => {
                            results[j].push(step_trace(
                                p,
                                &mut self.automata[j],
                                &letters,
                                words,
                                n,
                            ));
                            continue;
                        }
                        (Scope::Key, Some(v)) => {
                            Some(&*keys[v as usize].get_or_insert_with(|| {
                                a.trace
                                    .events
                                    .iter()
                                    .map(|ev| {
                                        resolve(
                                            span_key(&self.plan.program, v as usize, &view, ev.row),
                                            render,
                                        )
                                    })
                                    .collect()
                            }))
                        }
                        _ => None, // global: one instance, "*"
                    };
                    for (e, ev) in a.trace.events.iter().enumerate() {
                        let key = match per_event {
                            Some(ks) => match &ks[e] {
                                Some(k) => k.as_str(),
                                None => continue, // no value for the key: no instance
                            },
                            None => "*",
                        };
                        buckets[j].add(
                            key,
                            Row {
                                time: ev.time_ns,
                                trace: t,
                                event: e as u32,
                                letter: local_letter(p, &letters, words, e),
                                trigger: trigger_at(p, &letters, words, e),
                            },
                        );
                    }
                }
                n_events.push(n as u32);
                ids.push(a.trace.trace_id);
                partial.push(a.trace.is_partial());
                complete.push(a.trace);
            }
            let cross = buckets
                .into_iter()
                .enumerate()
                .map(|(j, b)| {
                    (self.plan.properties[j].scope != Scope::Trace)
                        .then(|| b.step(&mut self.automata[j], &ids, &partial))
                })
                .collect();
            let evicted_keys = pending
                .into_iter()
                .map(|per_prop| {
                    per_prop
                        .into_iter()
                        .map(|ks| {
                            let mut out: Vec<String> = vec![];
                            for k in ks {
                                if let Some(k) = resolve(k, render) {
                                    if !out.contains(&k) {
                                        out.push(k);
                                    }
                                }
                            }
                            out
                        })
                        .collect()
                })
                .collect();
            self.closed = Some(Closed {
                traces,
                results,
                cross,
                evicted_keys,
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

/// The scope key of span `row` by the program's value expression `value`.
fn span_key(program: &Program, value: usize, view: &View, row: u32) -> KeyText {
    let mut none = Mismatches::default(); // a scope key compares nothing
    match cross::key_text(&program.eval_value(value, view, row, &mut none)) {
        Rendered::NoInstance => KeyText::None,
        Rendered::Text(text) => KeyText::Text(text),
        // only an attribute holds a value Python must render: read it raw
        Rendered::ByPython => program
            .value_attr(value)
            .and_then(|(resource, key)| {
                if resource {
                    view.store.resource_attr(row, key)
                } else {
                    view.store.attr(row, key)
                }
            })
            .map_or(KeyText::None, |raw| KeyText::Python(raw.clone())),
    }
}

fn resolve(k: KeyText, render: &mut dyn FnMut(&OwnedValue) -> Option<String>) -> Option<String> {
    match k {
        KeyText::None => None,
        KeyText::Text(t) => Some(t),
        KeyText::Python(raw) => render(&raw),
    }
}

/// Per plan property, the scope keys of every span of `trace` in span order (Python's
/// `Monitor._evicted`), for a key scope; empty for the others.
fn trace_keys(plan: &Plan, store: &SpanStore, trace: &Trace) -> Vec<Vec<KeyText>> {
    let view = View { store, trace };
    plan.properties
        .iter()
        .map(|p| match (p.scope, p.key) {
            (Scope::Key, Some(v)) => trace
                .rows
                .iter()
                .map(|&r| span_key(&plan.program, v as usize, &view, r))
                .filter(|k| *k != KeyText::None)
                .collect(),
            _ => vec![],
        })
        .collect()
}

fn handout(a: &Assembled) -> Handout {
    (
        hex(&a.trace.trace_id),
        a.outcome.name(),
        a.reason.clone(),
        a.trace.is_partial(),
    )
}

/// A complete trace as the atom program reads it (also `stream_run.rs`'s).
pub(crate) struct View<'s> {
    pub(crate) store: &'s SpanStore,
    pub(crate) trace: &'s Trace,
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
