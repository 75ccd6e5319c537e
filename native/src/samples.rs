//! Samples of aggregate properties (`p99(duration where ...) <= 200ms`): the Python
//! engine's `Monitor.sample`, the values its aggregates range over.
//!
//! An aggregate property takes one sample per span, at the span's end event: per `agg`
//! node of its body, the value of its value expression and whether its `where` holds, as
//! `CompiledSpec._aggregate`'s generated functions compute them (`semantics.atoms
//! .sample_program` emits them). The core returns the samples of each instance (a trace,
//! or a scope key's end events over all complete traces in instance order) as columns;
//! Python computes the aggregates, the windows and the violations from them
//! (`Monitor.aggregate`), reading back only the spans of a violation's witness.

use serde_json::Value as Json;

use crate::atoms::{node, Cx, Mismatches, Node, SpanSource};
use crate::store::OwnedValue;
use crate::value::Value;

/// One aggregate property's sample program: per `agg` node, (value, where, raw). With
/// `raw` (`count_distinct` of an attribute), a value the core holds only by its type (a
/// bytes, array or key-value list attribute) is returned as the attribute itself: its text
/// is Python's `str` of it.
#[derive(Debug)]
pub struct SampleProgram {
    aggs: Vec<(Node, Node, bool)>,
}

/// Reads attribute `key` of span `row` (of its resource with `true`) as stored, for `raw`.
pub type RawAttr<'s> = &'s dyn Fn(u32, bool, &str) -> Option<OwnedValue>;

/// Parse the program's optional `samples` list.
pub fn parse(v: Option<&Json>, n_sites: usize) -> Result<Vec<SampleProgram>, String> {
    crate::registers::parse_entries(v, "samples", n_sites, one)
}

fn one(v: &Json, n_sites: usize) -> Result<SampleProgram, String> {
    let aggs = match v.get("aggs") {
        Some(Json::Array(xs)) => xs
            .iter()
            .map(|a| {
                let get = |k: &str| a.get(k).ok_or_else(|| format!("an agg lacks `{k}`"));
                let raw = a.get("raw").and_then(Json::as_bool).unwrap_or(false);
                Ok((
                    node(get("value")?, n_sites)?,
                    node(get("where")?, n_sites)?,
                    raw,
                ))
            })
            .collect::<Result<Vec<_>, String>>()?,
        _ => return Err("`aggs` is not a list".into()),
    };
    Ok(SampleProgram { aggs })
}

/// A sampled value, kept past its event. Python reads a value it cannot aggregate (a
/// missing one, `None`, a bytes or array attribute) as `None`: the aggregates skip those
/// alike, and `count_distinct` of a value that could be one is refused by the emitter.
#[derive(Debug, Clone, PartialEq)]
pub enum Sampled {
    None,
    Bool(bool),
    Int(i128),
    Float(f64),
    Str(String),
    /// the attribute's stored value (`raw`)
    Raw(OwnedValue),
}

/// The samples of one instance, as columns: per sample its time, (complete trace, event
/// index) and, per aggregate, (value, where) at `values[sample * n_aggs + agg]`.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Samples {
    pub time: Vec<u64>,
    pub trace: Vec<u32>,
    pub event: Vec<u32>,
    pub values: Vec<(Sampled, bool)>,
}

impl SampleProgram {
    /// Every node of the program (each aggregate's value and condition).
    pub(crate) fn nodes_mut(&mut self) -> impl Iterator<Item = &mut Node> {
        self.aggs.iter_mut().flat_map(|(v, w, _)| [v, w])
    }

    pub fn n_aggs(&self) -> usize {
        self.aggs.len()
    }

    /// Sample span `r` at its end event into `out` (Python's `Monitor.sample`: per
    /// aggregate its value, then its where).
    #[allow(clippy::too_many_arguments)]
    pub fn sample<S: SpanSource + ?Sized>(
        &self,
        src: &S,
        r: u32,
        time: u64,
        trace: u32,
        event: u32,
        out: &mut Samples,
        mm: &mut Mismatches,
        raw: RawAttr,
    ) {
        out.time.push(time);
        out.trace.push(trace);
        out.event.push(event);
        let mut cx = Cx {
            src,
            st: false,
            mm,
            regs: &[],
        };
        for (value, when, keep_raw) in &self.aggs {
            let v = match cx.eval(value, r) {
                Value::Bool(b) => Sampled::Bool(b),
                Value::Int(i) => Sampled::Int(i),
                Value::Float(f) => Sampled::Float(f),
                Value::Str(s) => Sampled::Str(s.into_owned()),
                Value::Other(_) if *keep_raw => stored(value, src, r, raw),
                Value::Missing | Value::Other(_) => Sampled::None,
            };
            let w = cx.eval(when, r).truthy();
            out.values.push((v, w));
        }
    }
}

/// The stored value of the attribute node `value` on span `r` (its hops followed).
fn stored<S: SpanSource + ?Sized>(value: &Node, src: &S, r: u32, raw: RawAttr) -> Sampled {
    let Node::Attr {
        hops,
        resource,
        key,
    } = value
    else {
        return Sampled::None; // the emitter sets `raw` on attribute nodes only
    };
    let mut t = Some(r);
    for _ in 0..*hops {
        t = t.and_then(|x| src.parent(x));
    }
    t.and_then(|t| raw(t, *resource, &key.text))
        .map_or(Sampled::None, Sampled::Raw)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::atoms::{OwnedAttr, SimpleSpan, SimpleTrace};

    #[test]
    fn a_sample_holds_each_aggregates_value_and_where() {
        // p99(duration where attr["db"] exists), count(attr["x"] > 1)
        let v: Json = serde_json::from_str(
            r#"{"aggs": [
                {"value": {"op":"field","hops":0,"name":"duration"},
                 "where": {"op":"exists","arg":{"op":"attr","hops":0,"resource":false,"key":"db"}}},
                {"value": {"op":"cmp","cmp":">","site":0,"args":[
                    {"op":"attr","hops":0,"resource":false,"key":"x"},{"op":"lit","v":{"int":"1"}}]},
                 "where": {"op":"lit","v":{"bool":true}}}]}"#,
        )
        .unwrap();
        let p = one(&v, 1).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(p.n_aggs(), 2);
        let span = |db: bool, x: OwnedAttr| SimpleSpan {
            span_id: "1".into(),
            start_ns: 5,
            end_ns: 12,
            attrs: [("x".to_owned(), x)]
                .into_iter()
                .chain(db.then(|| ("db".to_owned(), OwnedAttr::Str("pg".into()))))
                .collect(),
            ..SimpleSpan::default()
        };
        let t = SimpleTrace::new(vec![span(true, OwnedAttr::Int(2))]);
        let u = SimpleTrace::new(vec![span(false, OwnedAttr::Str("2".into()))]);
        let mut out = Samples::default();
        let mut mm = Mismatches::new(1);
        let none = |_: u32, _: bool, _: &str| None;
        p.sample(&t, 0, 12, 0, 1, &mut out, &mut mm, &none);
        p.sample(&u, 0, 12, 1, 1, &mut out, &mut mm, &none);
        assert_eq!(out.time, vec![12, 12]);
        assert_eq!(
            (out.trace.clone(), out.event.clone()),
            (vec![0, 1], vec![1, 1])
        );
        assert_eq!(
            out.values,
            vec![
                (Sampled::Int(7), true),
                (Sampled::Bool(true), true),
                (Sampled::Int(7), false),
                (Sampled::Bool(false), true),
            ]
        );
        assert_eq!(mm.sites[0], (1, "str", "int"));
        assert!(parse(Some(&Json::Null), 0).is_err());
        let bad: Json =
            serde_json::from_str(r#"{"aggs": [{"value": {"op":"lit","v":{"bool":true}}}]}"#)
                .unwrap();
        assert!(one(&bad, 0).is_err());
    }
}
