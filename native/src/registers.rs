//! `prev(...)` and `last(... where ..., DEFAULT)`: the registers of a property's instances,
//! as `CompiledSpec._registers` generates them (its `regs` and `update` functions) and
//! `Monitor._run` calls them.
//!
//! A property with registers keeps a register list `R` per instance (per trace, or per
//! scope key across traces). Its letter has two parts: the bits of plan atoms (the shared
//! letter every property reads, `PropPlan::bits` says where each goes) and the bits of its
//! *register atoms*, which read `R` and so are evaluated per instance, in the instance's
//! event order. Per event, exactly as the generated code does:
//!
//! 1. on the instance's first event, every `prev` slot takes the event's value (so
//!    `prev(x)` on the first event is `x` itself);
//! 2. the register atoms are evaluated, in bit order, reading `R`;
//! 3. every slot is updated, in slot order: `prev` to the event's value, `last` to the
//!    event's value when its `where` holds (it starts at its default constant).
//!
//! Stepping stops at the deciding event, as in Python, so nothing after it is evaluated
//! (and no type mismatch after it is counted). The letter cache of the automaton stays
//! valid: it maps (state, letter) to a target whatever made the letter.

use serde_json::Value as Json;

use crate::atoms::{lit, node, Cx, Lit, Mismatches, Node, SpanSource};
use crate::automaton::Cached;
use crate::cross::{InstanceLetters, Row};
use crate::order::{Event, Trace};
use crate::run::{local_letter, step_letters, trigger_at, Outcome, PropPlan};
use crate::value::Value;

/// One register slot: `prev(value)` (no `when`) or `last(value where when, default)`.
#[derive(Debug)]
pub struct Slot {
    value: Node,
    when: Option<Node>,
    default: Option<Lit>,
}

/// One property's register program: its register atoms (letter bit, condition) and slots.
#[derive(Debug)]
pub struct RegisterProgram {
    atoms: Vec<(u32, Node)>,
    slots: Vec<Slot>,
}

/// The register values of one instance (Python's `Instance.R`).
pub type Registers = Vec<Value<'static>>;

/// Parse the program's optional `registers` list (see `semantics.atoms.register_program`).
pub fn parse(v: Option<&Json>, n_sites: usize) -> Result<Vec<RegisterProgram>, String> {
    parse_entries(v, "registers", n_sites, one)
}

/// The program's optional list `what` of per-property entries, each parsed by `one`.
pub(crate) fn parse_entries<T>(
    v: Option<&Json>,
    what: &str,
    n_sites: usize,
    one: fn(&Json, usize) -> Result<T, String>,
) -> Result<Vec<T>, String> {
    let items = match v {
        None => return Ok(vec![]),
        Some(Json::Array(xs)) => xs,
        Some(_) => return Err(format!("atom program: `{what}` is not a list")),
    };
    items
        .iter()
        .enumerate()
        .map(|(i, x)| one(x, n_sites).map_err(|e| format!("{what} {i}: {e}")))
        .collect()
}

fn one(v: &Json, n_sites: usize) -> Result<RegisterProgram, String> {
    let o = v.as_object().ok_or("not an object")?;
    let slots = match o.get("slots") {
        Some(Json::Array(xs)) => xs
            .iter()
            .map(|s| {
                let s = s.as_object().ok_or("a slot is not an object")?;
                let opt = |k: &str| s.get(k).filter(|x| !x.is_null());
                Ok(Slot {
                    value: node(s.get("value").ok_or("a slot lacks `value`")?, n_sites)?,
                    when: opt("where").map(|w| node(w, n_sites)).transpose()?,
                    default: opt("default").map(lit).transpose()?,
                })
            })
            .collect::<Result<Vec<_>, String>>()?,
        _ => return Err("`slots` is not a list".into()),
    };
    let atoms = match o.get("atoms") {
        Some(Json::Array(xs)) => xs
            .iter()
            .map(|a| match a {
                Json::Array(pair) if pair.len() == 2 => {
                    let bit = pair[0]
                        .as_u64()
                        .filter(|&b| b < 64)
                        .ok_or_else(|| format!("bit {} is not one of 64", pair[0]))?;
                    Ok((bit as u32, node(&pair[1], n_sites)?))
                }
                _ => Err("an atom is not a [bit, node] pair".to_owned()),
            })
            .collect::<Result<Vec<_>, String>>()?,
        _ => return Err("`atoms` is not a list".into()),
    };
    Ok(RegisterProgram { atoms, slots })
}

/// A value the registers keep past the event that computed it.
fn owned(v: Value<'_>) -> Value<'static> {
    match v {
        Value::Missing => Value::Missing,
        Value::Bool(b) => Value::Bool(b),
        Value::Int(i) => Value::Int(i),
        Value::Float(f) => Value::Float(f),
        Value::Str(s) => Value::Str(s.into_owned().into()),
        Value::Other(n) => Value::Other(n),
    }
}

impl RegisterProgram {
    /// Every node of the program (its atoms, its slots' values and conditions).
    pub(crate) fn nodes_mut(&mut self) -> impl Iterator<Item = &mut Node> {
        let atoms = self.atoms.iter_mut().map(|(_, n)| n);
        atoms.chain(
            self.slots
                .iter_mut()
                .flat_map(|s| std::iter::once(&mut s.value).chain(s.when.as_mut())),
        )
    }

    /// The letter bits its register atoms set.
    pub fn bits(&self) -> u64 {
        self.atoms.iter().fold(0, |m, (b, _)| m | 1 << b)
    }

    /// A fresh instance's registers: `last` at its default; `prev` at a placeholder that
    /// the first event overwrites before anything reads it (Python's `None`).
    pub fn fresh(&self) -> Registers {
        self.slots
            .iter()
            .map(|s| {
                s.default
                    .as_ref()
                    .map_or(Value::Missing, |d| owned(d.value()))
            })
            .collect()
    }

    fn value<S: SpanSource + ?Sized>(
        n: &Node,
        src: &S,
        r: u32,
        st: bool,
        mm: &mut Mismatches,
    ) -> Value<'static> {
        let mut cx = Cx {
            src,
            st,
            mm,
            regs: &[],
        };
        owned(cx.eval(n, r))
    }

    /// The register atoms' bits at one event of an instance (span `r`, its start or end
    /// event), then the registers updated by it: the generated `regs` and `update`.
    pub fn step<S: SpanSource + ?Sized>(
        &self,
        src: &S,
        r: u32,
        st: bool,
        regs: &mut Registers,
        first: bool,
        mm: &mut Mismatches,
    ) -> u64 {
        if first {
            for (k, s) in self.slots.iter().enumerate() {
                if s.when.is_none() {
                    regs[k] = Self::value(&s.value, src, r, st, mm);
                }
            }
        }
        let mut m = 0u64;
        {
            let mut cx = Cx {
                src,
                st,
                mm: &mut *mm,
                regs: regs.as_slice(),
            };
            for (bit, atom) in &self.atoms {
                if cx.eval(atom, r).truthy() {
                    m |= 1 << bit;
                }
            }
        }
        for (k, s) in self.slots.iter().enumerate() {
            let take = match &s.when {
                None => true,
                Some(w) => {
                    let mut cx = Cx {
                        src,
                        st,
                        mm: &mut *mm,
                        regs: &[],
                    };
                    cx.eval(w, r).truthy()
                }
            };
            if take {
                regs[k] = Self::value(&s.value, src, r, st, mm);
            }
        }
        m
    }
}

/// `Monitor._run` of a per-trace property with registers on a fresh instance: the trace's
/// `events`, their plan `letters` (`words` per event), its spans as `src`.
#[allow(clippy::too_many_arguments)]
pub fn step_trace<S: SpanSource + ?Sized>(
    p: &PropPlan,
    prog: &RegisterProgram,
    aut: &mut Cached,
    src: &S,
    events: &[Event],
    letters: &[u64],
    words: usize,
    mm: &mut Mismatches,
) -> Outcome {
    let n = events.len();
    let trigger = (0..n).any(|e| trigger_at(p, letters, words, e));
    let mut regs = prog.fresh();
    let s = step_letters(aut, n, |e| {
        let ev = events[e];
        local_letter(p, letters, words, e)
            | prog.step(src, ev.row, ev.is_start, &mut regs, e == 0, mm)
    });
    Outcome::stepped(s, trigger)
}

/// The letters of a cross-trace instance with registers: each row's shared letter (filed
/// with it) plus the register atoms, evaluated in the instance's event order on the span
/// the row names. `view(trace)` is complete trace `trace` as the atom program reads it.
pub struct CrossLetters<'x, V> {
    pub prog: &'x RegisterProgram,
    pub traces: &'x [Trace],
    pub view: V,
    pub mm: &'x mut Mismatches,
    regs: Registers,
    first: bool,
}

impl<'x, V> CrossLetters<'x, V> {
    pub fn new(
        prog: &'x RegisterProgram,
        traces: &'x [Trace],
        view: V,
        mm: &'x mut Mismatches,
    ) -> Self {
        CrossLetters {
            prog,
            traces,
            view,
            mm,
            regs: vec![],
            first: true,
        }
    }
}

impl<'x, V, S> InstanceLetters for CrossLetters<'x, V>
where
    V: Fn(&'x Trace) -> S,
    S: SpanSource,
{
    fn start(&mut self) {
        self.regs = self.prog.fresh();
        self.first = true;
    }

    fn letter(&mut self, row: &Row) -> u64 {
        let trace = &self.traces[row.trace as usize];
        let ev = trace.events[row.event as usize];
        let src = (self.view)(trace);
        let m = self.prog.step(
            &src,
            ev.row,
            ev.is_start,
            &mut self.regs,
            self.first,
            self.mm,
        );
        self.first = false;
        row.letter | m
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::atoms::{OwnedAttr, SimpleSpan, SimpleTrace};

    fn prog(json: &str) -> RegisterProgram {
        let v: Json = serde_json::from_str(json).unwrap();
        one(&v, 1).unwrap_or_else(|e| panic!("{e}"))
    }

    const ROWS: &str = r#"{"op":"attr","hops":0,"resource":false,"key":"rows"}"#;

    /// `attr["rows"] >= prev(attr["rows"])` as bit 2 (site 0)
    fn monotone() -> RegisterProgram {
        prog(&format!(
            r#"{{"atoms": [[2, {{"op":"cmp","cmp":">=","site":0,
                               "args":[{ROWS}, {{"op":"reg","slot":0}}]}}]],
                "slots": [{{"value": {ROWS}, "where": null, "default": null}}]}}"#
        ))
    }

    fn trace(rows: &[Option<OwnedAttr>]) -> SimpleTrace {
        SimpleTrace::new(
            rows.iter()
                .enumerate()
                .map(|(i, v)| SimpleSpan {
                    span_id: format!("{i:016x}"),
                    attrs: v.iter().map(|v| ("rows".to_owned(), v.clone())).collect(),
                    ..SimpleSpan::default()
                })
                .collect(),
        )
    }

    fn run(p: &RegisterProgram, t: &SimpleTrace) -> (Vec<u64>, Mismatches) {
        let mut regs = p.fresh();
        let mut mm = Mismatches::new(1);
        let out = (0..t.spans.len() as u32)
            .map(|r| p.step(t, r, true, &mut regs, r == 0, &mut mm))
            .collect();
        (out, mm)
    }

    #[test]
    fn prev_is_the_value_itself_on_the_first_event_then_the_one_before() {
        use OwnedAttr::Int;
        let t = trace(&[
            Some(Int(5)),
            Some(Int(7)),
            Some(Int(6)),
            Some(Int(i64::MIN)),
        ]);
        let (bits, mm) = run(&monotone(), &t);
        assert_eq!(bits, vec![4, 4, 0, 0]);
        assert_eq!(mm.sites[0].0, 0);
    }

    #[test]
    fn a_missing_value_is_remembered_as_missing_and_a_mismatch_is_counted() {
        let t = trace(&[
            Some(OwnedAttr::Int(1)),
            None,
            Some(OwnedAttr::Int(2)),
            Some(OwnedAttr::Str("3".into())),
            Some(OwnedAttr::Int(4)),
        ]);
        let (bits, mm) = run(&monotone(), &t);
        // missing compares false; 2 after a missing value too; "3" vs 2 and 4 vs "3" mismatch
        assert_eq!(bits, vec![4, 0, 0, 0, 0]);
        assert_eq!(mm.sites[0], (2, "str", "int"));
    }

    #[test]
    fn last_keeps_its_default_until_where_holds() {
        // last(attr["rows"] where attr["rows"] > 10, -1) == -1 as bit 0
        let p = prog(&format!(
            r#"{{"atoms": [[0, {{"op":"cmp","cmp":"==","site":null,
                    "args":[{{"op":"reg","slot":0}}, {{"op":"lit","v":{{"int":"-1"}}}}]}}]],
                "slots": [{{"value": {ROWS}, "default": {{"int": "-1"}},
                    "where": {{"op":"cmp","cmp":">","site":0,
                               "args":[{ROWS}, {{"op":"lit","v":{{"int":"10"}}}}]}}}}]}}"#
        ));
        use OwnedAttr::Int;
        let t = trace(&[Some(Int(3)), Some(Int(11)), Some(Int(4))]);
        // read before the update: the default at events 0 and 1, then 11
        assert_eq!(run(&p, &t).0, vec![1, 1, 0]);
        assert_eq!(p.bits(), 1);
    }

    #[test]
    fn malformed_register_programs_are_refused() {
        for bad in [
            r#"{"atoms": [[64, {"op":"lit","v":{"bool":true}}]], "slots": []}"#,
            r#"{"atoms": [[0]], "slots": []}"#,
            r#"{"atoms": [], "slots": [{"where": null}]}"#,
            r#"{"atoms": [], "slots": {}}"#,
        ] {
            let v: Json = serde_json::from_str(bad).unwrap();
            assert!(one(&v, 1).is_err(), "{bad}");
        }
        assert!(parse(Some(&Json::Bool(true)), 0).is_err());
        assert!(parse(None, 0).unwrap().is_empty());
    }

    #[test]
    fn a_slot_out_of_range_reads_missing() {
        let p =
            prog(r#"{"atoms": [[0, {"op":"exists","arg":{"op":"reg","slot":9}}]], "slots": []}"#);
        assert_eq!(run(&p, &trace(&[None])).0, vec![0]);
    }
}
