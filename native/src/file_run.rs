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
use crate::atoms::{AttrKey, AttrRef, Mismatches, Program, SpanSource};
use crate::automaton::Cached;
use crate::cross::{self, Buckets, InstanceLetters, KeyText, Rendered, Row};
use crate::json::JValue;
use crate::order::{Event, Trace};
use crate::otlp::{decode_traces_sigs, key_sig, Batch, Resource, SpanRow};
use crate::otlp_json::{decode as decode_json, Outcome as JsonOutcome};
use crate::plan::Plan;
use crate::registers;
use crate::run::{
    local_letter, opened_letters, step_letters, step_trace, trigger_at, Outcome, PropPlan, Scope,
    Stepped,
};
use crate::samples::Samples;
use crate::store::{hex, OwnedValue, SpanStore, Sym};
use crate::timed::{step_timed, Oracle, TState, Timed, TimedStepped};

/// One handed-out trace: id (hex), outcome, reason, partial.
pub type Handout = (String, &'static str, String, bool);

/// What [`FileRun::close`] computed.
pub struct Closed {
    pub traces: Vec<Handout>,
    /// per plan property of scope trace, per complete trace (in `traces` order); empty for
    /// the others
    pub results: Vec<Vec<Outcome>>,
    /// per plan property of a cross-trace scope, its instances (keys in first-seen order),
    /// packed as the boundary gives them (a run may have millions: no object each)
    pub cross: Vec<Option<crate::packed::CrossColumns>>,
    /// per handed-out trace that was not complete (in `traces` order), per plan property:
    /// the distinct keys of its spans (in span order) for a key scope, empty for the others
    pub evicted_keys: Vec<Vec<Vec<String>>>,
    pub n_events: Vec<u32>,
    pub mismatches: Mismatches,
    /// the part of `mismatches` that register atoms and updates counted (the Python
    /// engine's letters count the rest again when it runs beside the core)
    pub reg_mismatches: Mismatches,
    /// per aggregate plan property, its instances' samples: per complete trace (key "")
    /// for scope trace, else per key in first-seen order; None for the others
    pub samples: Vec<Option<Vec<(String, Samples)>>>,
    /// the first error of the [`Oracle`] of timed properties (their results are then not
    /// to be trusted; the extension raises it)
    pub oracle_error: Option<String>,
    /// the complete traces, for [`FileRun::event`]
    complete: Vec<Trace>,
}

/// At most this many wanted keys are compared one by one (see `FileRun::wanted_few`).
const FEW_WANTED: usize = 8;

pub struct FileRun {
    plan: Plan,
    automata: Vec<Cached>,
    /// per plan property with time bounds, its explored states and transitions
    timed: Vec<Option<Timed>>,
    /// foldhash, not SipHash: every attribute key of the input is looked up here
    wanted: foldhash::HashSet<String>,
    /// bit `otlp::key_sig(k)` of every wanted key `k`
    wanted_sigs: u64,
    /// the wanted keys when they are few (a spec reads a handful): comparing a key with
    /// each costs less than hashing it; None for more
    wanted_few: Option<Vec<String>>,
    store: SpanStore,
    /// the plan's attribute keys in `store` (see [`View`])
    keys: Vec<Sym>,
    asm: FileAssembler,
    /// traces evicted while feeding: reported at close, their spans already released
    evicted: Vec<Handout>,
    /// per evicted trace, per plan property, its spans' scope keys (see `Closed`), read
    /// before the spans were released
    evicted_keys: Vec<Vec<Vec<KeyText>>>,
    seen: BTreeSet<String>,
    /// rows kept but not yet handed to the assembler (see [`FileRun::assemble`])
    pending: Option<crate::store::Rows>,
    pub closed: Option<Closed>,
}

impl FileRun {
    pub fn new(plan: Plan, wanted: HashSet<String>, max_open_traces: usize) -> FileRun {
        let automata = plan.automata();
        let timed = plan
            .properties
            .iter()
            .enumerate()
            .map(|(j, p)| {
                // Plan::from_json parsed every past stage already, so this cannot fail
                p.timed
                    .as_ref()
                    .map(|t| Timed::new(j, t).expect("past stage checked by Plan::from_json"))
            })
            .collect();
        let mut store = SpanStore::new();
        let keys = key_syms(&plan.program, &mut store);
        FileRun {
            plan,
            keys,
            automata,
            timed,
            wanted_sigs: wanted.iter().fold(0, |m, k| m | 1 << key_sig(k.as_bytes())),
            wanted_few: (wanted.len() <= FEW_WANTED).then(|| wanted.iter().cloned().collect()),
            wanted: wanted.into_iter().collect(),
            store,
            asm: FileAssembler::unpacked(max_open_traces.max(1)),
            evicted: vec![],
            evicted_keys: vec![],
            seen: BTreeSet::new(),
            pending: None,
            closed: None,
        }
    }

    /// Decode one request and keep its spans, unless its framing refuses it whole, or upb
    /// would refuse it and `force` is false (the caller first asks whether it is a metrics
    /// request). Returns the decoded batch and whether its spans were kept.
    pub fn feed<'a>(&mut self, data: &'a [u8], force: bool) -> (Batch<'a>, bool) {
        let (wanted, sigs) = (&self.wanted, self.wanted_sigs);
        // most keys of an input are not wanted: their length and last byte alone tell
        let batch = match &self.wanted_few {
            Some(few) => {
                decode_traces_sigs(data, Some(&|k: &str| few.iter().any(|w| w == k)), sigs)
            }
            None => decode_traces_sigs(data, Some(&|k: &str| wanted.contains(k)), sigs),
        };
        if batch.error.is_some() || (batch.upb_refused && !force) {
            return (batch, false);
        }
        let kept = self.keep(&batch);
        self.assemble();
        (batch, kept)
    }

    /// Decode one parsed OTLP/JSON trace request ([`crate::jsonl::Doc`]) and keep its
    /// spans, unless it is refused whole. `text_check` as [`crate::otlp_json::text_check`]
    /// gives it. Returns the outcome (a [`JsonOutcome::Fallback`] keeps nothing: the caller
    /// decodes that document in Python and gives the spans to [`FileRun::feed_spans`]) and
    /// whether its spans were kept. The caller calls [`FileRun::assemble`] after the last
    /// document of an input.
    pub fn feed_json<'a>(&mut self, doc: &'a JValue, text_check: bool) -> (JsonOutcome<'a>, bool) {
        let wanted = &self.wanted;
        let empty = wanted.is_empty();
        let out = decode_json(doc, Some(&|k: &str| wanted.contains(k)), empty, text_check);
        let kept = match &out {
            JsonOutcome::Decoded {
                batch,
                refused: None,
                ..
            } => self.keep(batch),
            _ => false,
        };
        (out, kept)
    }

    /// Keep spans decoded elsewhere (the Python decoder, for a document the core leaves to
    /// it), in input order with the others. Returns whether they were kept.
    pub fn feed_spans(&mut self, spans: &[SpanIn]) -> bool {
        self.keep(&batch_of(spans))
    }

    /// Keep the spans of a decoded batch in the store, for the assembler at the next
    /// [`FileRun::assemble`]. Nothing after `close`.
    fn keep(&mut self, batch: &Batch<'_>) -> bool {
        if self.closed.is_some() {
            return false;
        }
        let rows = self.store.add_batch(batch);
        // a batch has few distinct wanted keys: the first few seen are not looked up again
        let mut checked: Vec<&str> = Vec::with_capacity(FEW_WANTED);
        for &k in &batch.attr_key {
            if checked.contains(&k) {
                continue;
            }
            if !self.seen.contains(k) {
                self.seen.insert(k.to_owned());
            }
            if checked.len() < FEW_WANTED {
                checked.push(k);
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
        self.pending = match self.pending.take() {
            Some(p) => Some(p.and(rows)), // the store's rows are consecutive
            None => Some(rows),
        };
        true
    }

    /// Hand the rows kept since the last call to the assembler, as one batch (the Python
    /// engine adds each input's spans in one call, and eviction depends on the batches).
    pub fn assemble(&mut self) {
        let Some(rows) = self.pending.take() else {
            return;
        };
        for a in self.asm.add(&mut self.store, rows) {
            self.evicted.push(handout(&a));
            self.evicted_keys
                .push(trace_keys(&self.plan, &self.store, &self.keys, &a.trace));
            self.store.release(a.trace.rows);
        }
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
    /// (a bytes, array or key-value list attribute; see [`cross::KeyText`]); `oracle`
    /// progresses the formulas of timed properties ([`crate::timed`]).
    pub fn close(
        &mut self,
        render: &mut dyn FnMut(&OwnedValue) -> Option<String>,
        oracle: &mut dyn Oracle,
    ) -> &Closed {
        if self.closed.is_none() {
            let mut oracle_error = None;
            self.assemble();
            // each trace unpacked when its turn comes: its spans are still in the cache
            // when they are read
            let order = self.asm.closing();
            let words = self.plan.program.n_words();
            let mut mismatches = self.plan.program.mismatches();
            let mut reg_mismatches = self.plan.program.mismatches();
            let mut reg_trace = self.plan.program.mismatches();
            let n_props = self.plan.properties.len();
            // the lists that grow by a trace at a time get their room at once: growing
            // them copied each into fresh pages (a sixth of a file run's page faults)
            let n = order.len();
            let mut results: Vec<Vec<Outcome>> = (self.plan.properties.iter())
                .map(|p| Vec::with_capacity(if p.scope == Scope::Trace { n } else { 0 }))
                .collect();
            let mut samples: Vec<Option<Vec<(String, Samples)>>> = self
                .plan
                .properties
                .iter()
                .map(|p| p.samples.map(|_| vec![]))
                .collect();
            // per aggregate property of a cross-trace scope whose sampling counts nothing:
            // its instances' samples by bucket, taken as each trace is read, its spans at
            // hand (taken in the instances' order, each sample read a span from far away)
            let mut taken: Vec<Option<Vec<Samples>>> = (self.plan.properties.iter())
                .map(|p| match p.samples {
                    Some(k) if p.scope != Scope::Trace => {
                        self.plan.program.samples[k as usize].quiet().then(Vec::new)
                    }
                    _ => None,
                })
                .collect();
            let mut buckets: Vec<Buckets> = (0..n_props).map(|_| Buckets::default()).collect();
            let mut traces = std::mem::take(&mut self.evicted);
            traces.reserve(n);
            let mut pending = std::mem::take(&mut self.evicted_keys);
            let (mut n_events, mut complete) = (Vec::with_capacity(n), Vec::with_capacity(n));
            let (mut ids, mut partial) = (Vec::with_capacity(n), Vec::with_capacity(n));
            let mut letters = Vec::new();
            let mut scratch = LetterScratch::default();
            let mut epos: Vec<u32> = vec![];
            let mut slots: Vec<u32> = vec![];
            // per value expression of a scope key: the key of each span of the trace (by
            // position), once asked for
            let mut keys: Vec<SpanKeys> = (0..self.plan.program.n_values())
                .map(|_| SpanKeys::default())
                .collect();
            for tid in order {
                let a = self.asm.finish_closing(&mut self.store, tid);
                traces.push(handout(&a));
                if a.outcome != Handed::Complete {
                    pending.push(trace_keys(&self.plan, &self.store, &self.keys, &a.trace));
                    self.store.release(a.trace.rows);
                    continue;
                }
                let view = View {
                    store: &self.store,
                    trace: &a.trace,
                    keys: &self.keys,
                };
                let n = a.trace.events.len();
                let program = &self.plan.program;
                // per event, its span's position in the trace
                event_positions(&a.trace, &mut epos);
                trace_letters(
                    program,
                    &view,
                    &epos,
                    &mut letters,
                    &mut mismatches,
                    &mut scratch,
                );
                keys.iter_mut().for_each(|k| k.done = false);
                let t = complete.len() as u32;
                for (j, p) in self.plan.properties.iter().enumerate() {
                    let per_event = match (p.scope, p.key) {
                        (Scope::Trace, _) if p.samples.is_some() => {
                            let prog = &self.plan.program.samples[p.samples.unwrap_or(0) as usize];
                            let mut out = Samples::with_capacity(a.trace.len(), prog.n_aggs());
                            for (e, ev) in a.trace.events.iter().enumerate() {
                                if !ev.is_start {
                                    prog.sample(
                                        &view,
                                        ev.row,
                                        ev.time_ns,
                                        t,
                                        e as u32,
                                        &mut out,
                                        &mut reg_trace,
                                        &raw_attr(&self.store),
                                    );
                                }
                            }
                            if let Some(per) = &mut samples[j] {
                                per.push((String::new(), out));
                            }
                            continue;
                        }
                        (Scope::Trace, _) if p.registers.is_some() => {
                            let prog =
                                &self.plan.program.registers[p.registers.unwrap_or(0) as usize];
                            results[j].push(registers::step_trace(
                                p,
                                prog,
                                &mut self.automata[j],
                                &view,
                                &a.trace.events,
                                &letters,
                                words,
                                &mut reg_trace,
                            ));
                            continue;
                        }
                        (Scope::Trace, _) => {
                            let twin = &mut self.automata[j];
                            results[j].push(match &mut self.timed[j] {
                                Some(ta) if !fits(p, &a.trace.events) => {
                                    let s = step_timed(ta, oracle, n, |e| {
                                        let m = local_letter(p, &letters, words, e);
                                        (m, a.trace.events[e].time_ns)
                                    });
                                    let s = settle(s, &mut oracle_error);
                                    Outcome {
                                        state: 0,
                                        decided: s.decided,
                                        raised: s.raised,
                                        trigger: (0..n).any(|e| trigger_at(p, &letters, words, e)),
                                        timed: Some(Box::new(s.state)),
                                        opened: s.opened,
                                    }
                                }
                                Some(ta) => {
                                    // the twin of a bounded property names the opener too
                                    let mut o = step_trace(p, twin, &letters, words, n);
                                    if let Some(d) = o.decided {
                                        o.opened = opened_letters(
                                            twin,
                                            &ta.violated,
                                            d as usize,
                                            o.state,
                                            |e| local_letter(p, &letters, words, e),
                                        );
                                    }
                                    o
                                }
                                None => step_trace(p, twin, &letters, words, n),
                            });
                            continue;
                        }
                        (Scope::Key, Some(v)) => {
                            // per span (by position): one key for both of its events
                            let ks = &mut keys[v as usize];
                            if !ks.done {
                                ks.fill(program, v as usize, &view, render);
                            }
                            Some(&*ks)
                        }
                        _ => None, // global: one instance, "*"
                    };
                    // per span (by position): its key's bucket, once known
                    slots.clear();
                    slots.resize(a.trace.len(), u32::MAX);
                    for (e, ev) in a.trace.events.iter().enumerate() {
                        if ev.is_start && p.samples.is_some() {
                            continue; // an aggregate samples each span at its end
                        }
                        let pos = epos[e] as usize;
                        if slots[pos] == u32::MAX {
                            let key = match per_event {
                                Some(ks) => match ks.get(pos) {
                                    Some(k) => k,
                                    None => continue, // no value for the key: no instance
                                },
                                None => "*",
                            };
                            slots[pos] = buckets[j].slot(key);
                        }
                        if let Some(by_bucket) = &mut taken[j] {
                            let s = slots[pos] as usize;
                            if s >= by_bucket.len() {
                                by_bucket.resize_with(s + 1, Samples::default);
                            }
                            let prog = &program.samples[p.samples.unwrap_or(0) as usize];
                            prog.sample(
                                &view,
                                ev.row,
                                ev.time_ns,
                                t,
                                e as u32,
                                &mut by_bucket[s],
                                &mut reg_trace,
                                &raw_attr(&self.store),
                            );
                            continue;
                        }
                        buckets[j].push(
                            slots[pos],
                            Row {
                                time: ev.time_ns,
                                trace: t,
                                event: e as u32,
                                letter: local_letter(p, &letters, words, e),
                                trigger: trigger_at(p, &letters, words, e),
                                bucket: 0, // set by `push`
                            },
                        );
                    }
                }
                // Python runs a trace's registers after all of its letters
                mismatches.merge(&reg_trace);
                reg_mismatches.merge(&reg_trace);
                reg_trace = self.plan.program.mismatches();
                n_events.push(n as u32);
                ids.push(a.trace.trace_id);
                partial.push(a.trace.is_partial());
                complete.push(a.trace);
            }
            let (store, keys) = (&self.store, &self.keys[..]);
            let rank = cross::ranks(&ids);
            let cross = buckets
                .into_iter()
                .enumerate()
                .map(|(j, b)| {
                    let p = &self.plan.properties[j];
                    if p.scope == Scope::Trace {
                        return None;
                    }
                    let aut = &mut self.automata[j];
                    if let Some(by_bucket) = taken[j].take() {
                        let keys = b.into_keys();
                        let per = by_bucket.into_iter().enumerate().map(|(s, mut x)| {
                            x.sort_for_instance(&rank);
                            (keys.get(s).to_owned(), x)
                        });
                        samples[j] = Some(per.collect());
                        return None;
                    }
                    if let Some(k) = p.samples {
                        let prog = &self.plan.program.samples[k as usize];
                        let mut per = vec![];
                        b.each_sorted(&rank, |key, rows| {
                            let mut out = Samples::with_capacity(rows.len(), prog.n_aggs());
                            for r in rows {
                                let trace = &complete[r.trace as usize];
                                let ev = trace.events[r.event as usize];
                                let view = View { store, trace, keys };
                                prog.sample(
                                    &view,
                                    ev.row,
                                    r.time,
                                    r.trace,
                                    r.event,
                                    &mut out,
                                    &mut reg_trace,
                                    &raw_attr(store),
                                );
                            }
                            per.push((key.to_owned(), out));
                        });
                        samples[j] = Some(per);
                        return None;
                    }
                    Some(crate::packed::cross_columns(
                        match (&mut self.timed[j], p.registers) {
                            (Some(ta), _) => b.step_with(&rank, &partial, |rows| {
                                let s = step_timed(ta, oracle, rows.len(), |e| {
                                    (rows[e].letter, rows[e].time)
                                });
                                let s = settle(s, &mut oracle_error);
                                let stepped = Stepped {
                                    state: 0,
                                    decided: s.decided,
                                    raised: s.raised,
                                    opened: s.opened,
                                };
                                (stepped, Some(s.state))
                            }),
                            (None, None) => b.step(aut, &rank, &partial),
                            (None, Some(k)) => {
                                let prog = &self.plan.program.registers[k as usize];
                                let view = |trace| View { store, trace, keys };
                                let mut letters = registers::CrossLetters::new(
                                    prog,
                                    &complete,
                                    view,
                                    &mut reg_trace,
                                );
                                b.step_with(&rank, &partial, |rows| {
                                    letters.start();
                                    let s =
                                        step_letters(aut, rows.len(), |e| letters.letter(&rows[e]));
                                    (s, None)
                                })
                            }
                        },
                    ))
                })
                .collect();
            mismatches.merge(&reg_trace);
            reg_mismatches.merge(&reg_trace);
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
                reg_mismatches,
                samples,
                oracle_error,
                complete,
            });
        }
        self.closed.as_ref().expect("closed above")
    }

    /// Free the per-trace results and the instances of [`FileRun::close`] once the caller
    /// has copied them out (the Python binding does); the traces, their events and the
    /// store stay for [`FileRun::event`], the samples for their windows and rows (the
    /// binding's `sample_windows`, `sample_rows`).
    pub fn forget_results(&mut self) {
        if let Some(c) = &mut self.closed {
            c.results = vec![Vec::new(); c.results.len()];
            c.cross.iter_mut().for_each(|x| {
                if let Some(x) = x {
                    *x = Default::default();
                }
            });
        }
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

/// An attribute of a span as stored (`Span.attr` or `Span.resource_attr`), for samples
/// that keep a value only Python can render.
fn raw_attr(store: &SpanStore) -> impl Fn(u32, bool, &str) -> Option<OwnedValue> + '_ {
    move |r, resource, key| {
        if resource {
            store.resource_attr(r, key)
        } else {
            store.attr(r, key)
        }
        .cloned()
    }
}

/// Whether a trace with `events` fits in every time bound of the timed property `p`, so
/// its verdict depends on the letters alone and the untimed twin steps it (the Python
/// engine's `CompiledProperty.by_letters`).
fn fits(p: &PropPlan, events: &[Event]) -> bool {
    let memo = p.timed.as_ref().and_then(|t| t.memo_ns);
    let duration = match (events.first(), events.last()) {
        (Some(a), Some(b)) => b.time_ns as i128 - a.time_ns as i128,
        _ => 0,
    };
    memo.is_some_and(|m| duration <= m as i128)
}

/// A timed stepping's result, or after an oracle error (kept, the first one) the
/// infeasible state with no event: a placeholder the extension never reports.
fn settle(s: Result<TimedStepped, String>, error: &mut Option<String>) -> TimedStepped {
    s.unwrap_or_else(|e| {
        error.get_or_insert(e);
        TimedStepped {
            state: TState::Infeasible,
            decided: None,
            raised: None,
            opened: None,
        }
    })
}

/// The scope key of span `row` by the program's value expression `value`.
pub(crate) fn span_key(program: &Program, value: usize, view: &View, row: u32) -> KeyText {
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

/// The scope keys of one trace's spans by one value expression: their text one after
/// another in one string, reused from trace to trace (no allocation a span).
#[derive(Default)]
struct SpanKeys {
    text: String,
    /// per span (by position): where its key is in `text`, or None for a span without one
    at: Vec<Option<(u32, u32)>>,
    /// whether `at` holds this trace's keys
    done: bool,
}

impl SpanKeys {
    /// The keys of every span of `view`'s trace by value expression `value`, as
    /// [`span_key`] and [`resolve`] give them.
    fn fill(
        &mut self,
        program: &Program,
        value: usize,
        view: &View,
        render: &mut dyn FnMut(&OwnedValue) -> Option<String>,
    ) {
        self.text.clear();
        self.at.clear();
        for &row in &view.trace.rows {
            let start = self.text.len();
            let mut none = Mismatches::default(); // a scope key compares nothing
            let has = match cross::key_text_into(
                &program.eval_value(value, view, row, &mut none),
                &mut self.text,
            ) {
                Rendered::NoInstance => false,
                Rendered::Text(_) => true,
                Rendered::ByPython => match resolve(span_key(program, value, view, row), render) {
                    Some(t) => {
                        self.text.push_str(&t);
                        true
                    }
                    None => false,
                },
            };
            let pos = |x: usize| u32::try_from(x).expect("a trace's keys fit in 4 GiB");
            self.at
                .push(has.then(|| (pos(start), pos(self.text.len()))));
        }
        self.done = true;
    }

    /// The key of the span at position `pos`, if it has one.
    fn get(&self, pos: usize) -> Option<&str> {
        self.at[pos].map(|(start, end)| &self.text[start as usize..end as usize])
    }
}

pub(crate) fn resolve(
    k: KeyText,
    render: &mut dyn FnMut(&OwnedValue) -> Option<String>,
) -> Option<String> {
    match k {
        KeyText::None => None,
        KeyText::Text(t) => Some(t),
        KeyText::Python(raw) => render(&raw),
    }
}

/// Per plan property, the scope keys of every span of `trace` in span order (Python's
/// `Monitor._evicted`), for a key scope; empty for the others.
fn trace_keys(plan: &Plan, store: &SpanStore, keys: &[Sym], trace: &Trace) -> Vec<Vec<KeyText>> {
    let view = View { store, trace, keys };
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

/// One span decoded outside the core (by the Python decoder), as the store keeps it:
/// what [`FileRun::feed_spans`] takes.
#[derive(Debug, Clone, Default)]
pub struct SpanIn {
    pub trace_id: [u8; 16],
    pub span_id: [u8; 8],
    /// all zeros for a root
    pub parent_id: [u8; 8],
    pub name: String,
    pub kind: i32,
    pub status_code: i32,
    pub status_message: String,
    pub start_ns: u64,
    pub end_ns: u64,
    pub service: String,
    pub resource: Vec<(String, OwnedValue)>,
    pub scope: String,
    pub attrs: Vec<(String, OwnedValue)>,
    pub events: Vec<String>,
    pub links: Vec<([u8; 16], [u8; 8])>,
}

/// The spans as a batch (one resource and scope each; the store shares equal resources).
fn batch_of(spans: &[SpanIn]) -> Batch<'_> {
    let mut b = Batch {
        received: spans.len(),
        ..Batch::default()
    };
    for (i, s) in spans.iter().enumerate() {
        b.resources.push(Resource {
            service: &s.service,
            attrs: s
                .resource
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_any()))
                .collect(),
        });
        b.scopes.push(&s.scope);
        b.push_span(SpanRow {
            trace_id: s.trace_id,
            span_id: s.span_id,
            parent_id: s.parent_id,
            name: &s.name,
            kind: s.kind,
            status_code: s.status_code,
            status_message: &s.status_message,
            start_ns: s.start_ns,
            end_ns: s.end_ns,
            resource: i as u32,
            scope: i as u32,
            attrs: s
                .attrs
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_any()))
                .collect(),
            events: s.events.iter().map(String::as_str).collect(),
            links: s.links.clone(),
        });
    }
    b
}

/// Scratch space of [`trace_letters`], kept from one trace to the next.
#[derive(Default)]
pub(crate) struct LetterScratch {
    /// per span of the trace (by position): its pure atoms' bits, and whether known
    pure: Vec<u64>,
    done: Vec<bool>,
}

/// Each event's span position in `trace`, into `epos` (cleared).
pub(crate) fn event_positions(trace: &Trace, epos: &mut Vec<u32>) {
    epos.clear();
    epos.extend(
        trace
            .events
            .iter()
            .map(|ev| trace.pos(ev.row).expect("an event of the trace's spans") as u32),
    );
}

/// The plan letters of every event of `view`'s trace, one letter of
/// [`Program::n_words`] words each, into `letters` (cleared); `epos` from
/// [`event_positions`]. The pure atoms run once per span, at its first event; the others
/// at every event, counting their type mismatches into `mismatches` as
/// [`Program::eval`] would.
pub(crate) fn trace_letters(
    program: &Program,
    view: &View,
    epos: &[u32],
    letters: &mut Vec<u64>,
    mismatches: &mut Mismatches,
    scratch: &mut LetterScratch,
) {
    let words = program.n_words();
    let events = &view.trace.events;
    letters.clear();
    letters.resize(events.len() * words, 0u64);
    if !program.has_pure() {
        for (e, ev) in events.iter().enumerate() {
            let out = &mut letters[e * words..(e + 1) * words];
            program.eval(view, ev.row, ev.is_start, out, mismatches);
        }
        return;
    }
    let LetterScratch { pure, done } = scratch;
    pure.clear();
    pure.resize(view.trace.len() * words, 0u64);
    done.clear();
    done.resize(view.trace.len(), false);
    for (e, ev) in events.iter().enumerate() {
        let p = epos[e] as usize;
        let bits = &mut pure[p * words..(p + 1) * words];
        if !done[p] {
            program.eval_pure(view, ev.row, bits);
            done[p] = true;
        }
        let out = &mut letters[e * words..(e + 1) * words];
        program.eval_impure(view, ev.row, ev.is_start, bits, out, mismatches);
    }
}

/// A complete trace as the atom program reads it (also `stream_run.rs`'s).
pub(crate) struct View<'s> {
    pub(crate) store: &'s SpanStore,
    pub(crate) trace: &'s Trace,
    /// per attribute key of the program (by [`AttrKey::id`]), its symbol in `store`
    /// ([`key_syms`])
    pub(crate) keys: &'s [Sym],
}

/// The symbols of `program`'s attribute keys in `store`, interned there now: what a
/// [`View`] reads attributes by.
pub(crate) fn key_syms(program: &Program, store: &mut SpanStore) -> Vec<Sym> {
    program
        .attr_keys()
        .iter()
        .map(|k| store.intern(k))
        .collect()
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
    fn attr(&self, r: u32, key: &AttrKey) -> Option<AttrRef<'_>> {
        self.store
            .attr_sym(r, self.keys[key.id as usize])
            .map(attr_ref)
    }
    fn resource_attr(&self, r: u32, key: &AttrKey) -> Option<AttrRef<'_>> {
        self.store
            .resource_attr_sym(r, self.keys[key.id as usize])
            .map(attr_ref)
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::otlp::AnyValue;
    use crate::test_rng::Rng;

    /// A trace's keys in one string ([`SpanKeys`]) are [`span_key`] and [`resolve`] of
    /// each span: generated spans (seeded) whose key attribute is missing or of every
    /// type (those only Python renders go to `render`), by an attribute and by `per
    /// service`'s expression, services empty or not.
    #[test]
    fn span_keys_are_each_spans_key() {
        let program = Program::from_json(
            r#"{"atoms": [], "sites": [], "values": [
                {"op":"attr","hops":0,"resource":false,"key":"k"},
                {"op":"or_missing","arg":{"op":"field","hops":0,"name":"service"}}]}"#,
        )
        .unwrap();
        let leak = |s: String| -> &'static str { Box::leak(s.into_boxed_str()) };
        let mut rng = Rng(0x6b65_7973);
        let mut store = SpanStore::new();
        let keys = key_syms(&program, &mut store);
        let mut render =
            |v: &OwnedValue| (v.type_name() != "bytes").then(|| format!("py:{}", v.type_name()));
        let (mut with, mut without) = (0, 0);
        let mut ks = SpanKeys::default();
        for round in 0..200u32 {
            let n = 1 + rng.below(12) as u8;
            let spans: Vec<crate::order::tests::S> = (1..=n)
                .map(|i| (1, i, 0, u64::from(i), u64::from(i) + 1))
                .collect();
            let mut b = crate::order::tests::batch(&spans);
            b.resources = vec![
                crate::otlp::Resource {
                    service: "svc",
                    attrs: vec![],
                },
                crate::otlp::Resource::default(),
            ];
            for i in 0..n as usize {
                b.resource[i] = rng.below(2) as u32;
                let v = match rng.below(9) {
                    0 => continue,
                    1 => AnyValue::Str(leak(format!("o{}", rng.below(3)))),
                    2 => AnyValue::Str(""),
                    3 => AnyValue::Int(rng.word() as i64),
                    4 => AnyValue::Double([0.5, 2.0, -0.0, f64::NAN][rng.index(4)]),
                    5 => AnyValue::Bool(rng.below(2) == 0),
                    6 => AnyValue::Empty,
                    7 => AnyValue::Bytes(b"xy"),
                    _ => AnyValue::Array(vec![AnyValue::Int(1)]),
                };
                b.attr_span.push(i as u32);
                b.attr_key.push("k");
                b.attr_value.push(v);
            }
            let rows = store.add_batch(&b);
            let trace = Trace::new(&store, [1; 16], rows.clone().collect());
            let view = View {
                store: &store,
                trace: &trace,
                keys: &keys,
            };
            for value in 0..2 {
                ks.fill(&program, value, &view, &mut render);
                for (pos, &row) in trace.rows.iter().enumerate() {
                    let want = resolve(span_key(&program, value, &view, row), &mut render);
                    assert_eq!(ks.get(pos), want.as_deref(), "round {round}, value {value}");
                    with += usize::from(want.is_some());
                    without += usize::from(want.is_none());
                }
            }
            store.release(rows);
        }
        assert!(with > 500 && without > 200, "{with} {without}");
    }
}
