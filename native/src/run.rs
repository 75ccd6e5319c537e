//! Stepping one property over one trace's letters (or a cross-trace instance's letters):
//! the Python engine's `Monitor._run` for an untimed, register-free property, on a fresh
//! instance.
//!
//! The result is what the Python side needs to report exactly as its own engine does: the
//! final state, the index of the event that decided the verdict (stepping stops there), the
//! index of the event that opened the obligation still open (the witness of a violation
//! found at the end), and whether a trigger atom ever held (vacuity).

use serde::Deserialize;

use crate::automaton::{Automaton, Cached};
use crate::timed::{TState, TimedPlan};

/// One property of the plan.
#[derive(Debug, Clone, Deserialize)]
pub struct PropPlan {
    pub name: String,
    /// bit `i` of the property's letter is plan atom `atoms[i]`
    pub atoms: Vec<u32>,
    /// plan atoms whose absence on every event makes a success vacuous
    pub trigger: Vec<u32>,
    /// the property's scope: per trace, per key (`key` is the program's value
    /// expression of the scope key) or global
    pub scope: Scope,
    #[serde(default)]
    pub key: Option<u32>,
    /// with registers: bit `bits[i]` of the letter is plan atom `atoms[i]`, and the
    /// program's register entry `registers` gives the others ([`crate::registers`])
    #[serde(default)]
    pub bits: Option<Vec<u32>>,
    #[serde(default)]
    pub registers: Option<u32>,
    /// an aggregate property: the program's sample entry (its automaton is one state)
    #[serde(default)]
    pub samples: Option<u32>,
    /// untimed: the property's automaton; timed: its untimed twin, stepped on a trace
    /// that fits in every time bound (`timed.memo_ns`), else never
    #[serde(flatten)]
    pub automaton: Automaton,
    /// present for a property with time bounds ([`crate::timed`])
    #[serde(default)]
    pub timed: Option<TimedPlan>,
}

/// The scope of a property (SPEC-LANGUAGE §3): its instances are traces, the values of a
/// scope key (`per attr["k"]`, `per service`), or one for the whole input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    Trace,
    Key,
    Global,
}

/// What stepping one trace gave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// the automaton's state (for a timed property: the twin's, unless `timed` is set)
    pub state: u32,
    pub decided: Option<u32>,
    pub raised: Option<u32>,
    pub trigger: bool,
    /// a timed property stepped on its timed monitor: the state it ended in
    /// (boxed: most outcomes have none, and a run keeps one outcome per trace and
    /// property)
    pub timed: Option<Box<TState>>,
    /// a bounded property's violation decided by an event: the event that opened the
    /// obligation it broke ([`opened_letters`], [`crate::timed::opened_timed`])
    pub opened: Option<u32>,
}

impl Outcome {
    /// An instance stepped on the property's table (`Stepped`), not on a timed monitor.
    pub fn stepped(s: Stepped, trigger: bool) -> Outcome {
        Outcome {
            state: s.state,
            decided: s.decided,
            raised: s.raised,
            trigger,
            timed: None,
            opened: s.opened,
        }
    }
}

#[inline]
fn bit(letters: &[u64], words: usize, event: usize, atom: u32) -> u64 {
    (letters[event * words + (atom / 64) as usize] >> (atom % 64)) & 1
}

/// The property's own letter at `event`: its atoms' bits gathered from the plan letter.
#[inline]
pub fn local_letter(p: &PropPlan, letters: &[u64], words: usize, event: usize) -> u64 {
    let mut m = 0u64;
    match &p.bits {
        None => {
            for (i, &a) in p.atoms.iter().enumerate() {
                m |= bit(letters, words, event, a) << i;
            }
        }
        Some(bits) => {
            for (&b, &a) in bits.iter().zip(&p.atoms) {
                m |= bit(letters, words, event, a) << b;
            }
        }
    }
    m
}

/// Step a fresh instance of `p` over a trace of `n` events whose plan letters are
/// `letters` (`n * words` words, event-major; `words` may be 0 when the plan has no atoms).
pub fn step_trace(
    p: &PropPlan,
    aut: &mut Cached,
    letters: &[u64],
    words: usize,
    n: usize,
) -> Outcome {
    debug_assert_eq!(letters.len(), n * words);
    let trigger = (0..n).any(|e| trigger_at(p, letters, words, e));
    Outcome::stepped(
        step_letters(aut, n, |e| local_letter(p, letters, words, e)),
        trigger,
    )
}

/// Whether any trigger atom of `p` holds in the plan letter of `event`.
#[inline]
pub fn trigger_at(p: &PropPlan, letters: &[u64], words: usize, event: usize) -> bool {
    p.trigger
        .iter()
        .any(|&a| bit(letters, words, event, a) == 1)
}

/// Where stepping a fresh instance over `n` letters ended: the state, the event that
/// decided the verdict (stepping stops there) and the event that opened the obligation
/// still open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stepped {
    pub state: u32,
    pub decided: Option<u32>,
    pub raised: Option<u32>,
    /// set by the stepping of a bounded property only ([`opened_letters`])
    pub opened: Option<u32>,
}

/// The Python engine's `_run` for an untimed, register-free property on a fresh instance:
/// `letter(e)` is the property's own letter at event `e` of `n` (one trace's events, or a
/// cross-trace instance's events of many traces in their order).
pub fn step_letters(aut: &mut Cached, n: usize, mut letter: impl FnMut(usize) -> u64) -> Stepped {
    let mut s = aut.automaton.initial;
    let mut raised = None;
    let mut decided = None;
    let mut first = true;
    for e in 0..n {
        let ns = aut.step(s, letter(e));
        if ns == s && !first {
            continue;
        }
        let next = aut.state(ns);
        if next.decided {
            s = ns;
            decided = Some(e as u32);
            break;
        }
        if next.pv {
            // for `F a` the obligation is there from the instance's first event
            if first || !aut.state(s).pv {
                raised = Some(e as u32);
            }
        } else {
            raised = None;
        }
        s = ns;
        first = false;
    }
    Stepped {
        state: s,
        decided,
        raised,
        opened: None,
    }
}

/// The event that opened the bounded obligation a violation broke, for an instance of a
/// timed property stepped on its untimed twin (`aut`) and decided by event `d` in state
/// `decided`: as [`crate::timed::opened_timed`], the latest event before `d` from whose
/// previous state event `d` would not have led to a `violated` state (`violated`, the
/// twin's). None when the instance is not violated, or event `d` violates from every
/// earlier state.
pub fn opened_letters(
    aut: &mut Cached,
    violated: &[u32],
    d: usize,
    decided: u32,
    mut letter: impl FnMut(usize) -> u64,
) -> Option<u32> {
    if !violated.contains(&decided) {
        return None;
    }
    let md = letter(d);
    let mut s = aut.automaton.initial;
    let mut opened = None;
    for j in 0..d {
        if !violated.contains(&aut.step(s, md)) {
            opened = Some(j as u32);
        }
        s = aut.step(s, letter(j));
    }
    opened
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::automaton::State;

    fn st(cubes: Vec<(u64, u64, u32)>, default: u32, decided: bool, pv: bool) -> State {
        State {
            cubes,
            default,
            decided,
            pv,
        }
    }

    /// `G (a -> F b)` over (a = bit 0, b = bit 1): 0 satisfied-so-far, 1 waiting for b.
    fn response() -> PropPlan {
        PropPlan {
            name: "r".into(),
            atoms: vec![3, 5], // plan atoms 3 and 5
            trigger: vec![3],
            scope: Scope::Trace,
            key: None,
            bits: None,
            registers: None,
            samples: None,
            timed: None,
            automaton: Automaton {
                initial: 0,
                states: vec![
                    st(vec![(3, 1, 1)], 0, false, false),
                    st(vec![(2, 2, 0)], 1, false, true),
                ],
            },
        }
    }

    fn letters(events: &[(bool, bool)]) -> Vec<u64> {
        events
            .iter()
            .map(|&(a, b)| ((a as u64) << 3) | ((b as u64) << 5))
            .collect()
    }

    #[test]
    fn an_open_obligation_names_the_event_that_raised_it() {
        let p = response();
        let mut c = Cached::new(p.automaton.clone());
        let l = letters(&[(false, false), (true, false), (false, false)]);
        let out = step_trace(&p, &mut c, &l, 1, l.len());
        assert_eq!(
            out,
            Outcome {
                state: 1,
                decided: None,
                raised: Some(1),
                trigger: true,
                timed: None,
                opened: None,
            }
        );
    }

    #[test]
    fn a_discharged_obligation_is_forgotten() {
        let p = response();
        let mut c = Cached::new(p.automaton.clone());
        let l = letters(&[(true, false), (false, true), (false, false)]);
        let out = step_trace(&p, &mut c, &l, 1, l.len());
        assert_eq!((out.state, out.raised, out.trigger), (0, None, true));
        let quiet = letters(&[(false, false), (false, true)]);
        assert!(!step_trace(&p, &mut c, &quiet, 1, 2).trigger);
    }

    /// A per-trace property over plan `atoms` with automaton `states` (initial 0).
    fn per_trace(atoms: Vec<u32>, trigger: Vec<u32>, states: Vec<State>) -> PropPlan {
        PropPlan {
            name: "p".into(),
            atoms,
            trigger,
            scope: Scope::Trace,
            key: None,
            bits: None,
            registers: None,
            samples: None,
            timed: None,
            automaton: Automaton { initial: 0, states },
        }
    }

    /// `G !a`: violated for good at the first a
    fn never(atom: u32, trigger: Vec<u32>) -> PropPlan {
        let states = vec![
            st(vec![(1, 1, 1)], 0, false, false),
            st(vec![], 1, true, false),
        ];
        per_trace(vec![atom], trigger, states)
    }

    #[test]
    fn stepping_stops_at_the_deciding_event() {
        let p = never(0, vec![]);
        let mut c = Cached::new(p.automaton.clone());
        let out = step_trace(&p, &mut c, &[0, 1, 0, 1], 1, 4);
        assert_eq!((out.state, out.decided), (1, Some(1)));
    }

    #[test]
    fn a_plan_without_atoms_still_steps_every_event() {
        // `X false`-like: state 0 -> 1 (pv) on any letter, then 1 -> 2 (violated)
        let states = vec![
            st(vec![], 1, false, true),
            st(vec![], 2, false, true),
            st(vec![], 2, true, false),
        ];
        let p = per_trace(vec![], vec![], states);
        let mut c = Cached::new(p.automaton.clone());
        let out = step_trace(&p, &mut c, &[], 0, 3);
        assert_eq!((out.state, out.decided, out.raised), (2, Some(1), Some(0)));
        let out = step_trace(&p, &mut c, &[], 0, 1);
        assert_eq!((out.state, out.decided, out.raised), (1, None, Some(0)));
    }

    #[test]
    fn atoms_past_the_first_word_are_read_from_their_word() {
        let p = never(70, vec![70]);
        let mut c = Cached::new(p.automaton.clone());
        let l = [0u64, 0, 0, 1 << 6]; // two events of two words; atom 70 at event 1
        let out = step_trace(&p, &mut c, &l, 2, 2);
        assert_eq!((out.decided, out.trigger), (Some(1), true));
    }
}
