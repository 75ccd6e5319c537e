//! [`FileRun::close`](crate::file_run::FileRun::close)'s results packed as arrays: the one
//! place that lays them out for the Python side (`engine/native_run.py` unpacks them; the
//! layout is "the boundary" in docs/native.md).
//!
//! A run decides one instance per trace and property, and one per scope key: tens of
//! thousands of results, of which the report shows only the violations as objects. Handing
//! each result over as a Python tuple cost more than deciding it; these arrays cost a
//! `bytes` object per column. Every integer array is in the machine's byte order (the
//! reader is the same process): `u32` and `i32` four bytes each, flags one byte (0 or 1),
//! `-1` for "no event".

use crate::cross::{Instances, Keys};
use crate::file_run::Closed;
use crate::run::Outcome;
use crate::timed::TState;

/// The per-trace results of one property of scope trace, per complete trace.
#[derive(Debug, Default, PartialEq)]
pub struct TraceColumns {
    /// the final automaton state: one byte each when every state is below 256, else `u32`
    pub state: Vec<u8>,
    pub state_width: u8,
    /// the deciding and the raising event's index in the trace (`i32`, -1: none)
    pub decided: Vec<u8>,
    pub raised: Vec<u8>,
    /// whether a trigger atom ever held (0 or 1)
    pub trigger: Vec<u8>,
    /// the event that opened the bounded obligation a violation broke (`i32`, -1: none);
    /// empty when no instance has one
    pub opened: Vec<u8>,
}

/// The instances of one cross-trace property, in first-seen key order.
#[derive(Debug, Default, PartialEq)]
pub struct CrossColumns {
    pub keys: Keys,
    pub state: Vec<u8>,
    pub state_width: u8,
    /// (complete trace, event) pairs as two `i32` arrays each; -1: none
    pub decided_trace: Vec<u8>,
    pub decided_event: Vec<u8>,
    pub raised_trace: Vec<u8>,
    pub raised_event: Vec<u8>,
    pub last_trace: Vec<u8>,
    pub last_event: Vec<u8>,
    pub trigger: Vec<u8>,
    /// the event that opened the bounded obligation a violation broke, as two `i32`
    /// arrays (-1: none); both empty when no instance has one
    pub opened_trace: Vec<u8>,
    pub opened_event: Vec<u8>,
    pub partial: Vec<u8>,
    /// events per instance (`u32`)
    pub events: Vec<u8>,
    /// instance `i`'s traces are `traces[offsets[i]..offsets[i + 1]]` (`u32` each)
    pub trace_offsets: Vec<u8>,
    pub traces: Vec<u8>,
    /// a timed property: per instance, the state its timed monitor ended in; empty when
    /// no instance has one
    pub timed: Vec<Option<TState>>,
}

/// The handed-out traces: the complete ones as columns, the others (evicted, incomplete,
/// late: few) one by one.
#[derive(Debug, Default, PartialEq)]
pub struct TraceList {
    /// the complete traces' ids, 32 hex digits each, in the order the results use
    pub complete_ids: String,
    pub complete_partial: Vec<u8>,
    /// events per complete trace (`u32`)
    pub n_events: Vec<u8>,
    /// (id, outcome, reason, partial) of each trace that was not complete, handout order
    pub others: Vec<(String, &'static str, String, bool)>,
}

fn i32s(out: &mut Vec<u8>, x: Option<u32>) {
    out.extend_from_slice(&x.map_or(-1i32, |v| v as i32).to_ne_bytes());
}

fn states(values: impl Iterator<Item = u32> + Clone) -> (Vec<u8>, u8) {
    if values.clone().all(|s| s < 256) {
        (values.map(|s| s as u8).collect(), 1)
    } else {
        (values.flat_map(u32::to_ne_bytes).collect(), 4)
    }
}

pub fn trace_columns(per: &[Outcome]) -> TraceColumns {
    let (state, state_width) = states(per.iter().map(|o| o.state));
    let mut c = TraceColumns {
        state,
        state_width,
        ..Default::default()
    };
    for o in per {
        i32s(&mut c.decided, o.decided);
        i32s(&mut c.raised, o.raised);
        c.trigger.push(o.trigger as u8);
    }
    if per.iter().any(|o| o.opened.is_some()) {
        for o in per {
            i32s(&mut c.opened, o.opened);
        }
    }
    c
}

/// The instances of one property as columns (what `close` keeps of them: a run may have
/// millions, and the columns cost about 50 bytes an instance).
pub fn cross_columns(per: Instances) -> CrossColumns {
    let insts = &per.list;
    let (state, state_width) = states(insts.iter().map(|i| i.state));
    let mut c = CrossColumns {
        state,
        state_width,
        ..Default::default()
    };
    let mut offset = 0u32;
    c.trace_offsets.extend_from_slice(&offset.to_ne_bytes());
    for (n, i) in insts.iter().enumerate() {
        i32s(&mut c.decided_trace, i.decided.map(|p| p.0));
        i32s(&mut c.decided_event, i.decided.map(|p| p.1));
        i32s(&mut c.raised_trace, i.raised.map(|p| p.0));
        i32s(&mut c.raised_event, i.raised.map(|p| p.1));
        i32s(&mut c.last_trace, Some(i.last.0));
        i32s(&mut c.last_event, Some(i.last.1));
        c.trigger.push(i.trigger as u8);
        c.partial.push(i.partial as u8);
        c.events.extend_from_slice(&i.events.to_ne_bytes());
        let traces = per.traces_of(n);
        for t in traces {
            c.traces.extend_from_slice(&t.to_ne_bytes());
        }
        offset += traces.len() as u32;
        c.trace_offsets.extend_from_slice(&offset.to_ne_bytes());
    }
    if insts.iter().any(|i| i.opened.is_some()) {
        for i in insts {
            i32s(&mut c.opened_trace, i.opened.map(|p| p.0));
            i32s(&mut c.opened_event, i.opened.map(|p| p.1));
        }
    }
    if insts.iter().any(|i| i.timed.is_some()) {
        c.timed = per.list.into_iter().map(|i| i.timed).collect();
    }
    c.keys = per.keys;
    c
}

pub fn trace_list(c: &Closed) -> TraceList {
    let mut out = TraceList::default();
    for (id, outcome, reason, partial) in &c.traces {
        if *outcome == "complete" {
            out.complete_ids.push_str(id);
            out.complete_partial.push(*partial as u8);
        } else {
            out.others
                .push((id.clone(), outcome, reason.clone(), *partial));
        }
    }
    out.n_events = c.n_events.iter().flat_map(|n| n.to_ne_bytes()).collect();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn u32s(b: &[u8]) -> Vec<u32> {
        b.chunks(4)
            .map(|c| u32::from_ne_bytes(c.try_into().unwrap()))
            .collect()
    }

    fn i32s_of(b: &[u8]) -> Vec<i32> {
        b.chunks(4)
            .map(|c| i32::from_ne_bytes(c.try_into().unwrap()))
            .collect()
    }

    #[test]
    fn trace_columns_narrow_and_wide_states() {
        let o = |state, decided, raised, trigger| Outcome {
            state,
            decided,
            raised,
            trigger,
            timed: None,
            opened: None,
        };
        let c = trace_columns(&[o(3, Some(2), None, true), o(0, None, Some(7), false)]);
        assert_eq!((c.state.as_slice(), c.state_width), (&[3u8, 0][..], 1));
        assert_eq!(i32s_of(&c.decided), vec![2, -1]);
        assert_eq!(i32s_of(&c.raised), vec![-1, 7]);
        assert_eq!(c.trigger, vec![1, 0]);
        assert!(c.opened.is_empty()); // no instance names an opener: no column
        let mut opened = o(1, Some(4), None, false);
        opened.opened = Some(2);
        let c = trace_columns(&[o(3, Some(2), None, true), opened]);
        assert_eq!(i32s_of(&c.opened), vec![-1, 2]);
        let w = trace_columns(&[o(256, None, None, false), o(1, None, None, false)]);
        assert_eq!((u32s(&w.state), w.state_width), (vec![256, 1], 4));
        let none = trace_columns(&[]);
        assert!(none.state.is_empty() && none.decided.is_empty());
    }

    #[test]
    fn cross_columns_flatten_traces() {
        let inst = |traces: (u32, u32)| crate::cross::Instance {
            state: 1,
            decided: Some((0, 4)),
            raised: None,
            opened: None,
            last: (0, 4),
            trigger: true,
            traces,
            partial: false,
            events: 5,
            timed: None,
        };
        let c = cross_columns(Instances {
            keys: ["a\u{0}é", "", "b"].into_iter().collect(),
            list: vec![inst((0, 2)), inst((2, 0)), inst((2, 1))],
            traces: vec![0, 2, 1],
        });
        assert_eq!(c.keys.iter().collect::<Vec<_>>(), vec!["a\u{0}é", "", "b"]);
        assert_eq!(u32s(&c.trace_offsets), vec![0, 2, 2, 3]);
        assert_eq!(u32s(&c.traces), vec![0, 2, 1]);
        assert_eq!(i32s_of(&c.raised_trace), vec![-1, -1, -1]);
        assert_eq!(i32s_of(&c.decided_event), vec![4, 4, 4]);
        assert_eq!(u32s(&c.events), vec![5, 5, 5]);
        assert!(c.timed.is_empty());
        let empty = cross_columns(Instances::default());
        assert_eq!(u32s(&empty.trace_offsets), vec![0]);
    }
}
