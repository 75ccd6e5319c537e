//! One streaming run of a plan: the sidecar's `StreamingMonitor` for the per-trace
//! untimed properties the core runs (`engine/native_stream.py`).
//!
//! The rules are `engine/stream.py`'s (its module docstring): requests are decoded into the
//! owned [`SpanStore`] and buffered by the assembler in streaming mode
//! ([`FileAssembler::add_at`] with the caller's clock); [`StreamRun::poll`] hands out the
//! traces whose root has ended and that are idle ([`FileAssembler::poll`]) into a backlog,
//! and decides at most `limit` of them, first in first out, as `StreamingMonitor.poll(limit=)`
//! does. Deciding a trace orders its events, computes their letters with the plan's atom
//! program and steps every per-trace property ([`step_trace`]); the verdict of the final
//! state is read from the table Python gives at start (`Monitor.final_verdict` per state,
//! for a whole and for a partial trace), so the core counts verdicts itself and reports a
//! trace only when some property is violated on it. A trace evicted by `max_open_traces`
//! counts `incomplete` for every property; late spans of a trace already decided change no
//! per-trace verdict. The traces decided by one call are kept until the next call, so that
//! Python can read the witness events of their violations ([`StreamRun::event`]).

use std::collections::{HashSet, VecDeque};

use crate::assembly::{Assembled, FileAssembler, Outcome as Handed};
use crate::automaton::Cached;
use crate::file_run::View;
use crate::order::{Event, Trace};
use crate::otlp::{decode_traces, Batch};
use crate::plan::Plan;
use crate::run::{step_trace, Scope};
use crate::store::{hex, SpanStore};
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
const INCOMPLETE: u8 = 5;

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

/// What one call handed out.
#[derive(Debug, Default)]
pub struct Given {
    /// trace ids (hex) whose every verdict the core owes is given: decided, evicted, late
    pub done: Vec<String>,
    pub violated: Vec<Violated>,
    /// traces taken from the backlog and decided by this call (complete or late, as
    /// `StreamingMonitor.poll` counts them)
    pub decided: usize,
    /// traces this call found complete (moved to the backlog)
    pub completed: usize,
}

pub struct StreamRun {
    plan: Plan,
    automata: Vec<Cached>,
    wanted: HashSet<String>,
    store: SpanStore,
    asm: FileAssembler,
    idle_ns: i64,
    rootless_idle_ns: i64,
    backlog: VecDeque<Assembled>,
    /// per plan property: the verdict code of each state for a whole and a partial trace
    verdicts: Vec<[Vec<u8>; 2]>,
    /// per plan property: how many of each verdict (by code)
    pub counts: Vec<[u64; 6]>,
    /// per plan property: satisfied without any trigger ever holding
    pub vacuous: Vec<u64>,
    /// spans of accepted requests (the decoder's `decoded`)
    pub spans: u64,
    /// the traces decided by the last call (see [`StreamRun::event`])
    kept: Vec<Trace>,
    mismatches: crate::atoms::Mismatches,
    letters: Vec<u64>,
}

impl StreamRun {
    /// A run of `plan`, whose properties must all be per trace; `verdicts[j][partial][s]`
    /// is the code (in [`VERDICTS`]) of property `j` ending in state `s`.
    pub fn new(
        plan: Plan,
        wanted: HashSet<String>,
        max_open_traces: usize,
        idle_ns: i64,
        rootless_idle_ns: i64,
        verdicts: Vec<[Vec<u8>; 2]>,
    ) -> Result<StreamRun, String> {
        if let Some(p) = plan.properties.iter().find(|p| p.scope != Scope::Trace) {
            return Err(format!(
                "property {}: the streaming core runs per-trace properties only",
                p.name
            ));
        }
        if verdicts.len() != plan.properties.len() {
            return Err("one verdict table per property".into());
        }
        for (p, v) in plan.properties.iter().zip(&verdicts) {
            let n = p.automaton.states.len();
            if v.iter()
                .any(|t| t.len() != n || t.iter().any(|&c| c > INCOMPLETE))
            {
                return Err(format!("property {}: a verdict table per state", p.name));
            }
        }
        let automata = plan.automata();
        let n = plan.properties.len();
        let mismatches = plan.program.mismatches();
        Ok(StreamRun {
            plan,
            automata,
            wanted,
            store: SpanStore::new(),
            asm: FileAssembler::new(max_open_traces.max(1)),
            idle_ns,
            rootless_idle_ns,
            backlog: VecDeque::new(),
            verdicts,
            counts: vec![[0; 6]; n],
            vacuous: vec![0; n],
            spans: 0,
            kept: vec![],
            mismatches,
            letters: vec![],
        })
    }

    /// A reloaded spec: its plan (per-trace properties only), the attribute keys to decode
    /// from now on, and its verdict tables. Per-trace properties keep no state between
    /// traces, so open traces carry over and are decided by the new plan; the verdict
    /// counts start again (the caller keeps the old ones by name).
    pub fn set_plan(
        &mut self,
        plan: Plan,
        wanted: HashSet<String>,
        verdicts: Vec<[Vec<u8>; 2]>,
    ) -> Result<(), String> {
        let fresh = StreamRun::new(plan, wanted, 1, 0, 0, verdicts)?;
        self.automata = fresh.automata;
        self.mismatches = fresh.mismatches;
        self.counts = fresh.counts;
        self.vacuous = fresh.vacuous;
        self.verdicts = fresh.verdicts;
        self.wanted = fresh.wanted;
        self.plan = fresh.plan;
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
        for a in self.asm.add_at(&mut self.store, rows, now) {
            self.handle(a, &mut out);
        }
        (batch, true, out)
    }

    /// `StreamingMonitor.poll(now, limit=)`: move the traces idle at `now` to the backlog,
    /// then decide at most `limit` (all when None) from its front.
    pub fn poll(&mut self, now: i64, limit: Option<usize>) -> Given {
        self.forget_kept();
        let mut out = Given::default();
        let ready = self
            .asm
            .poll(&self.store, now, self.idle_ns, self.rootless_idle_ns);
        out.completed = ready.len();
        self.backlog.extend(ready);
        let n = limit.map_or(self.backlog.len(), |l| l.min(self.backlog.len()));
        for _ in 0..n {
            let a = self.backlog.pop_front().expect("n <= backlog");
            self.handle(a, &mut out);
        }
        out.decided = n;
        out
    }

    /// `StreamingMonitor.finish`: decide the backlog, then every open trace as at end of
    /// input (in the assembler's close order).
    pub fn finish(&mut self) -> Given {
        let mut out = self.release_all();
        for a in self.asm.close(&self.store) {
            self.handle(a, &mut out);
        }
        out
    }

    /// `StreamingMonitor.release_all`: decide the backlog; open traces stay open.
    pub fn release_all(&mut self) -> Given {
        self.forget_kept();
        let mut out = Given::default();
        while let Some(a) = self.backlog.pop_front() {
            self.handle(a, &mut out);
            out.decided += 1;
        }
        out
    }

    fn forget_kept(&mut self) {
        for t in self.kept.drain(..) {
            self.store.release(t.rows);
        }
    }

    fn handle(&mut self, a: Assembled, out: &mut Given) {
        out.done.push(hex(&a.trace.trace_id));
        match a.outcome {
            Handed::Complete => {
                self.decide(&a.trace, out);
                self.kept.push(a.trace);
            }
            Handed::Incomplete => {
                for c in &mut self.counts {
                    c[INCOMPLETE as usize] += 1;
                }
                self.store.release(a.trace.rows);
            }
            // late spans: the per-trace verdicts were given; nothing to step here
            Handed::Late => self.store.release(a.trace.rows),
        }
    }

    fn decide(&mut self, trace: &Trace, out: &mut Given) {
        let words = self.plan.program.n_words();
        let n = trace.events.len();
        let view = View {
            store: &self.store,
            trace,
        };
        self.letters.clear();
        self.letters.resize(n * words, 0);
        for (e, ev) in trace.events.iter().enumerate() {
            let w = &mut self.letters[e * words..(e + 1) * words];
            self.plan
                .program
                .eval(&view, ev.row, ev.is_start, w, &mut self.mismatches);
        }
        let partial = usize::from(trace.is_partial());
        let t = self.kept.len() as u32;
        let mut trace_id = None;
        for (j, p) in self.plan.properties.iter().enumerate() {
            let o = step_trace(p, &mut self.automata[j], &self.letters, words, n);
            let code = self.verdicts[j][partial][o.state as usize];
            self.counts[j][code as usize] += 1;
            if code == SATISFIED && !p.trigger.is_empty() && !o.trigger {
                self.vacuous[j] += 1;
            } else if code == VIOLATED {
                out.violated.push(Violated {
                    prop: j as u32,
                    trace: t,
                    trace_id: trace_id.get_or_insert_with(|| hex(&trace.trace_id)).clone(),
                    state: o.state,
                    decided: o.decided,
                    raised: o.raised,
                    last: n as u32 - 1,
                });
            }
        }
    }

    /// Event `index` of trace `trace` decided by the last call.
    pub fn event(&self, trace: usize, index: usize) -> Option<Event> {
        self.kept.get(trace)?.events.get(index).copied()
    }

    pub fn store(&self) -> &SpanStore {
        &self.store
    }

    /// Completed traces waiting to be decided.
    pub fn backlog(&self) -> usize {
        self.backlog.len()
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

    #[test]
    fn only_per_trace_plans_with_a_verdict_per_state_are_taken() {
        let table = || vec![[vec![0u8], vec![4u8]]];
        assert!(StreamRun::new(plan("trace"), HashSet::new(), 1, 0, 0, table()).is_ok());
        assert!(StreamRun::new(plan("global"), HashSet::new(), 1, 0, 0, table()).is_err());
        let short = vec![[vec![], vec![0u8]]];
        assert!(StreamRun::new(plan("trace"), HashSet::new(), 1, 0, 0, short).is_err());
        let bad = vec![[vec![6u8], vec![0u8]]];
        assert!(StreamRun::new(plan("trace"), HashSet::new(), 1, 0, 0, bad).is_err());
    }
}
