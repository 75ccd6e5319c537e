//! Time-bounded formula properties (`F[<= 2s] q`, `G[a,b]`, `U[lo,hi]`): the Python
//! engine's `TimedMonitor` without a past stage, stepped in the core.
//!
//! The Python reference is `automata.progression.Progression`: a state is `(sid, regs)`,
//! the id of an interned residual formula and a tuple of register timestamps. A step
//! computes, for every anchored obligation of the state, on which side of its window the
//! event lies (`t - regs[slot]` before `lo`, inside, or after `hi`), and whether the event's
//! time equals the newest register's; it then looks `(sid, letter & relevant, sides, eq)` up
//! in a cache of transitions `(sid', register update)`, and only on a miss progresses
//! formulas. This module mirrors that runtime structure: the states the run meets are
//! described to it (relevant atom bits, anchors, verdict), and the transitions are cached
//! here. Progressing formulas stays in Python, the one implementation of the semantics: on
//! a miss the core asks an [`Oracle`] (in the extension, a callback into
//! `Progression.transition` with the GIL attached) and caches its answer. Misses happen
//! once per explored (state, letter, sides) triple, so the hot loop stays in Rust.
//!
//! Letters Z3 ruled out (a pruned alphabet) lead to the absorbing infeasible state, whose
//! verdict is inconclusive, exactly as `TimedMonitor.step` does.

use std::collections::HashSet;

use serde::Deserialize;

use crate::automaton::FxMap;
use crate::past::{PastPlan, PastState};

/// The plan's `timed` section of a property.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq, Default)]
pub struct TimedPlan {
    /// per trace: a trace lasting at most this many ns fits in every time bound, and is
    /// stepped on the untimed twin (the property's `initial`/`states`), as the Python
    /// engine's `CompiledProperty.by_letters` does; `None`: never (no twin)
    pub memo_ns: Option<u64>,
    /// the feasible letters when Z3 pruned the alphabet; `None`: every letter is
    pub feasible: Option<Vec<u64>>,
    /// the monitor's past stage (`engine.past_plan.past_document`), whose output bits the
    /// future part reads above the atoms' (`TimedMonitor.step`); checked by
    /// `Plan::from_json`
    #[serde(default)]
    pub past: Option<serde_json::Value>,
    /// the untimed twin's violated states (the verdict `violated`), to name the event that
    /// opened a broken obligation ([`crate::run::opened_letters`])
    #[serde(default)]
    pub violated: Vec<u32>,
}

/// The verdict of an open instance (`automata.monitor.Verdict`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Satisfied,
    Violated,
    PresumablySatisfied,
    PresumablyViolated,
    Inconclusive,
}

impl Verdict {
    pub fn is_final(self) -> bool {
        matches!(
            self,
            Verdict::Satisfied | Verdict::Violated | Verdict::Inconclusive
        )
    }
}

/// Where an event lies relative to an anchored obligation's window.
pub const BEFORE: u8 = 0;
pub const INSIDE: u8 = 1;
pub const AFTER: u8 = 2;

/// One anchored obligation of a state: its window `[lo, hi]` (ns) measured from register
/// `slot` (`hi` `None`: unbounded).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Anchor {
    pub slot: u32,
    pub lo: i128,
    pub hi: Option<i128>,
}

impl Anchor {
    #[inline]
    fn side(&self, t: u64, reg: u64) -> u8 {
        let d = t as i128 - reg as i128;
        if d < self.lo {
            BEFORE
        } else if self.hi.is_some_and(|hi| d > hi) {
            AFTER
        } else {
            INSIDE
        }
    }
}

/// What the run needs to know of one explored state (`progression.StateInfo`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateInfo {
    /// the atom bits the next step reads
    pub relevant: u64,
    /// in the order `StateInfo.anchors` gives them (the order of the sides)
    pub anchors: Vec<Anchor>,
    /// registers a state holds
    pub n_slots: u32,
    /// `TimedMonitor.verdict`: satisfied/violated when the residual is true/false, else
    /// presumably satisfied or violated
    pub verdict: Verdict,
    /// `TimedMonitor.final`: the trace may end here
    pub accepting: bool,
}

/// A transition: the next state and, per register of it, the register of the old state it
/// copies (`-1`: this event's time).
pub type Transition = (u32, Vec<i32>);

/// Who progresses formulas: the core asks it about the states and transitions a run meets.
pub trait Oracle {
    /// State `sid` of the timed property `prop` (the plan's property index).
    fn state(&mut self, prop: usize, sid: u32) -> Result<StateInfo, String>;
    /// The transition of state `sid` of `prop` on the letter `mask` with the anchors' sides
    /// `sides` (in the state's anchor order) and `eq` (the event's time equals the newest
    /// register's).
    fn successor(
        &mut self,
        prop: usize,
        sid: u32,
        mask: u64,
        sides: &[u8],
        eq: bool,
    ) -> Result<Transition, String>;
}

/// An instance's state: the residual formula's id and its registers, or the infeasible
/// sink.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TState {
    Live { sid: u32, regs: Vec<u64> },
    Infeasible,
}

/// The sides of a state's anchors as a cache key: two bits each in one word while they
/// fit, else the sides themselves.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Code {
    Small(u128),
    Big(Box<[u8]>),
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Key {
    sid: u32,
    masked: u64,
    eq: bool,
    code: Code,
}

/// Transitions remembered before the cache starts over (the oracle answers again).
const CACHE_MAX: usize = 1 << 16;

/// One timed property of a run: the states met so far and the transition cache.
#[derive(Debug)]
pub struct Timed {
    prop: usize,
    feasible: Option<HashSet<u64>>,
    past: Option<PastPlan>,
    states: Vec<Option<StateInfo>>,
    trans: FxMap<Key, (u32, Box<[i32]>)>,
    /// the untimed twin's violated states (`TimedPlan::violated`)
    pub violated: Vec<u32>,
}

impl Timed {
    /// Plan property `prop`, timed as `plan` says (its past stage, if any, is the one
    /// `Plan::from_json` checked: a document that does not parse cannot reach here).
    pub fn new(prop: usize, plan: &TimedPlan) -> Result<Timed, String> {
        let past = match &plan.past {
            Some(v) => Some(PastPlan::from_json(v)?),
            None => None,
        };
        Ok(Timed {
            prop,
            feasible: plan.feasible.as_ref().map(|f| f.iter().copied().collect()),
            past,
            states: vec![],
            trans: FxMap::default(),
            violated: plan.violated.clone(),
        })
    }

    /// The initial state: the formula itself, no register.
    pub fn initial() -> TState {
        TState::Live {
            sid: 0,
            regs: vec![],
        }
    }

    /// The description of state `sid`, asked of the oracle the first time and checked so
    /// that stepping cannot index a register it does not hold.
    fn info(&mut self, oracle: &mut dyn Oracle, sid: u32) -> Result<&StateInfo, String> {
        let i = sid as usize;
        if self.states.get(i).is_none_or(|s| s.is_none()) {
            let info = oracle.state(self.prop, sid)?;
            if let Some(a) = info.anchors.iter().find(|a| a.slot >= info.n_slots) {
                return Err(format!(
                    "state {sid}: anchor on register {} of {}",
                    a.slot, info.n_slots
                ));
            }
            if sid == 0 && info.n_slots != 0 {
                return Err("the initial state holds registers".into());
            }
            if self.states.len() <= i {
                self.states.resize(i + 1, None);
            }
            self.states[i] = Some(info);
        }
        Ok(self.states[i].as_ref().expect("filled above"))
    }

    /// The verdict of an open instance in `st` (`TimedMonitor.verdict`).
    pub fn verdict(&mut self, oracle: &mut dyn Oracle, st: &TState) -> Result<Verdict, String> {
        match st {
            TState::Infeasible => Ok(Verdict::Inconclusive),
            TState::Live { sid, .. } => Ok(self.info(oracle, *sid)?.verdict),
        }
    }

    /// One event with letter `mask` at time `t` (`TimedMonitor.step`), with the past
    /// stage's state `past` when the monitor has one.
    pub fn step(
        &mut self,
        oracle: &mut dyn Oracle,
        st: &mut TState,
        past: Option<&mut PastState>,
        mask: u64,
        t: u64,
    ) -> Result<(), String> {
        let TState::Live { sid, regs } = st else {
            return Ok(());
        };
        if self.feasible.as_ref().is_some_and(|f| !f.contains(&mask)) {
            *st = TState::Infeasible;
            return Ok(());
        }
        // the past stage's outputs are letters above the atoms for the future part; its
        // windows read only differences of times, so u64 times shift into i64 exactly
        let mask = match (&self.past, past) {
            (Some(p), Some(ps)) => mask | (p.step(ps, mask, (t ^ (1 << 63)) as i64) << p.n_atoms()),
            _ => mask,
        };
        let sid = *sid;
        self.info(oracle, sid)?;
        let info = self.states[sid as usize].as_ref().expect("described above");
        let masked = mask & info.relevant;
        let eq = regs.last() == Some(&t);
        let key = if info.anchors.is_empty() {
            // as Progression.step: without anchors the letter alone is the key
            Key {
                sid,
                masked,
                eq: false,
                code: Code::Small(0),
            }
        } else if info.anchors.len() <= 64 {
            let mut code = 0u128;
            for a in &info.anchors {
                code = (code << 2) | a.side(t, regs[a.slot as usize]) as u128;
            }
            Key {
                sid,
                masked,
                eq,
                code: Code::Small(code),
            }
        } else {
            let sides = info
                .anchors
                .iter()
                .map(|a| a.side(t, regs[a.slot as usize]))
                .collect();
            Key {
                sid,
                masked,
                eq,
                code: Code::Big(sides),
            }
        };
        if let Some((nsid, update)) = self.trans.get(&key) {
            *st = TState::Live {
                sid: *nsid,
                regs: moved(update, regs, t),
            };
            return Ok(());
        }
        let sides: Vec<u8> = info
            .anchors
            .iter()
            .map(|a| a.side(t, regs[a.slot as usize]))
            .collect();
        let n_old = regs.len();
        let (nsid, update) = oracle.successor(self.prop, sid, mask, &sides, eq)?;
        if let Some(u) = update.iter().find(|&&u| u < -1 || u >= n_old as i32) {
            return Err(format!(
                "state {sid}: a register update reads register {u} of {n_old}"
            ));
        }
        let n_new = self.info(oracle, nsid)?.n_slots as usize;
        if update.len() != n_new {
            return Err(format!(
                "state {nsid} holds {n_new} registers, its update gives {}",
                update.len()
            ));
        }
        let regs = moved(&update, regs, t);
        if self.trans.len() >= CACHE_MAX {
            self.trans.clear();
        }
        self.trans.insert(key, (nsid, update.into()));
        *st = TState::Live { sid: nsid, regs };
        Ok(())
    }
}

/// The registers after a transition with register update `update` at time `t`.
#[inline]
fn moved(update: &[i32], regs: &[u64], t: u64) -> Vec<u64> {
    update
        .iter()
        .map(|&u| if u < 0 { t } else { regs[u as usize] })
        .collect()
}

/// Where stepping a fresh timed instance ended: its state, the event that decided the
/// verdict (stepping stops there), the event that opened the obligation still open, and
/// for a violation decided by an event, the event that opened the obligation it broke
/// ([`opened_timed`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimedStepped {
    pub state: TState,
    pub decided: Option<u32>,
    pub raised: Option<u32>,
    pub opened: Option<u32>,
}

/// The Python engine's `Monitor._run` for a timed property without registers (its `timed`
/// branch) on a fresh instance: `event(e)` is the property's own letter and the time of
/// event `e` of `n`. Unlike the table branch, an event is skipped when the *verdict* did
/// not change (the state may have: registers moved).
pub fn step_timed(
    ta: &mut Timed,
    oracle: &mut dyn Oracle,
    n: usize,
    mut event: impl FnMut(usize) -> (u64, u64),
) -> Result<TimedStepped, String> {
    let mut s = Timed::initial();
    let mut ps = ta.past.as_ref().map(PastPlan::initial);
    let mut v = ta.verdict(oracle, &s)?;
    let mut raised = None;
    let mut decided = None;
    let mut first = true;
    for e in 0..n {
        let (mask, t) = event(e);
        ta.step(oracle, &mut s, ps.as_mut(), mask, t)?;
        let nv = ta.verdict(oracle, &s)?;
        if nv == v && !first {
            continue;
        }
        if nv.is_final() {
            decided = Some(e as u32);
            break;
        }
        if nv == Verdict::PresumablyViolated {
            if first || v != Verdict::PresumablyViolated {
                raised = Some(e as u32); // the event that opened the current obligation
            }
        } else {
            raised = None;
        }
        v = nv;
        first = false;
    }
    let opened = match decided {
        Some(d) if ta.verdict(oracle, &s)? == Verdict::Violated => {
            opened_timed(ta, oracle, d as usize, &mut event)?
        }
        _ => None,
    };
    Ok(TimedStepped {
        state: s,
        decided,
        raised,
        opened,
    })
}

/// The event that opened the bounded obligation a violation decided by event `d` broke
/// (the Python engine's `Monitor._opened`): the latest event before `d` from whose previous
/// state event `d` would not have violated the property, found by stepping the instance
/// again and trying event `d` from each state. None when event `d` violates from every
/// earlier state (`G !x`, or the obligation was there from the first event).
pub fn opened_timed(
    ta: &mut Timed,
    oracle: &mut dyn Oracle,
    d: usize,
    mut event: impl FnMut(usize) -> (u64, u64),
) -> Result<Option<u32>, String> {
    let (md, td) = event(d);
    let mut s = Timed::initial();
    let mut ps = ta.past.as_ref().map(PastPlan::initial);
    let mut opened = None;
    for j in 0..d {
        let mut probe = s.clone();
        let mut pp = ps.clone();
        ta.step(oracle, &mut probe, pp.as_mut(), md, td)?;
        if ta.verdict(oracle, &probe)? != Verdict::Violated {
            opened = Some(j as u32);
        }
        let (m, t) = event(j);
        ta.step(oracle, &mut s, ps.as_mut(), m, t)?;
    }
    Ok(opened)
}

#[cfg(test)]
pub mod tests {
    use super::*;

    /// `G (p -> F[<= d] q)` progressed by hand (p = bit 0, q = bit 1), as Progression
    /// explores it: 0 the formula, 1 `G ...` with nothing pending (satisfied so far), 2
    /// `G ... & X F[<= d] q` anchored at register 0 (presumably violated), 3 false.
    /// Counts the oracle's answers, to show the cache works.
    pub struct Response {
        pub d: i128,
        pub states: u32,
        pub successors: u32,
    }

    impl Oracle for Response {
        fn state(&mut self, prop: usize, sid: u32) -> Result<StateInfo, String> {
            assert_eq!(prop, 7);
            self.states += 1;
            let live = |anchors: Vec<Anchor>, n_slots, verdict, accepting| StateInfo {
                relevant: 3,
                anchors,
                n_slots,
                verdict,
                accepting,
            };
            Ok(match sid {
                0 | 1 => live(vec![], 0, Verdict::PresumablySatisfied, true),
                2 => live(
                    vec![Anchor {
                        slot: 0,
                        lo: 0,
                        hi: Some(self.d),
                    }],
                    1,
                    Verdict::PresumablyViolated,
                    false,
                ),
                3 => StateInfo {
                    relevant: 0,
                    anchors: vec![],
                    n_slots: 0,
                    verdict: Verdict::Violated,
                    accepting: false,
                },
                _ => return Err(format!("no state {sid}")),
            })
        }

        fn successor(
            &mut self,
            _prop: usize,
            sid: u32,
            mask: u64,
            sides: &[u8],
            _eq: bool,
        ) -> Result<Transition, String> {
            self.successors += 1;
            let (p, q) = (mask & 1 == 1, mask & 2 == 2);
            Ok(match sid {
                0 | 1 if p && !q => (2, vec![-1]), // a fresh obligation, anchored now
                0 | 1 => (1, vec![]),
                2 if sides[0] == AFTER => (3, vec![]), // the window has passed
                2 if q => (1, vec![]),
                2 => (2, vec![0]), // the oldest pending request is kept
                _ => (3, vec![]),
            })
        }
    }

    fn response(d: i128) -> Response {
        Response {
            d,
            states: 0,
            successors: 0,
        }
    }

    fn run(o: &mut Response, ta: &mut Timed, events: &[(u64, u64)]) -> TimedStepped {
        step_timed(ta, o, events.len(), |e| events[e]).unwrap()
    }

    #[test]
    fn a_deadline_met_in_time_discharges_the_obligation() {
        let mut o = response(10);
        let mut ta = Timed::new(7, &TimedPlan::default()).expect("no past stage");
        // p at 5, q at 15 (d = 10: inside, the bound is inclusive)
        let out = run(&mut o, &mut ta, &[(0, 0), (1, 5), (0, 9), (2, 15)]);
        assert_eq!(
            out,
            TimedStepped {
                state: TState::Live {
                    sid: 1,
                    regs: vec![]
                },
                decided: None,
                raised: None,
                opened: None
            }
        );
    }

    #[test]
    fn a_missed_deadline_is_decided_by_the_late_event_and_raised_by_the_request() {
        let mut o = response(10);
        let mut ta = Timed::new(7, &TimedPlan::default()).expect("no past stage");
        let out = run(&mut o, &mut ta, &[(1, 5), (1, 8), (0, 16), (2, 15 + 1)]);
        // the second p keeps the first anchor (5); 16 - 5 > 10 at event 2
        assert_eq!((out.decided, out.raised), (Some(2), Some(0)));
        // the first request opened the obligation the late event broke
        assert_eq!(out.opened, Some(0));
        assert_eq!(
            out.state,
            TState::Live {
                sid: 3,
                regs: vec![]
            }
        );
        let open = run(&mut o, &mut ta, &[(0, 1), (1, 5), (0, 7)]);
        assert_eq!(
            open.state,
            TState::Live {
                sid: 2,
                regs: vec![5]
            }
        );
        assert_eq!((open.decided, open.raised), (None, Some(1)));
    }

    #[test]
    fn the_opener_is_the_request_whose_window_the_deciding_event_passed() {
        // requests at 5 (met by q at 7) and at 9; the idle event at 20 is late only for
        // the second: it opened the broken obligation, not the first request
        let mut o = response(10);
        let mut ta = Timed::new(7, &TimedPlan::default()).expect("no past stage");
        let out = run(&mut o, &mut ta, &[(1, 5), (2, 7), (0, 8), (1, 9), (0, 20)]);
        assert_eq!(
            (out.decided, out.raised, out.opened),
            (Some(4), Some(3), Some(3))
        );
        // a deadline met: no violation, no opener
        let out = run(&mut o, &mut ta, &[(1, 5), (2, 7)]);
        assert_eq!(out.opened, None);
    }

    #[test]
    fn transitions_are_asked_once_then_cached() {
        let mut o = response(10);
        let mut ta = Timed::new(7, &TimedPlan::default()).expect("no past stage");
        let trace = [(1, 5), (0, 6), (2, 7), (1, 8), (0, 9), (2, 10)];
        run(&mut o, &mut ta, &trace);
        let (states, successors) = (o.states, o.successors);
        // 0 -p-> 2 -idle-> 2 -q-> 1 -p-> 2 (cached from here on)
        assert_eq!((states, successors), (3, 4));
        run(&mut o, &mut ta, &trace);
        assert_eq!((o.states, o.successors), (states, successors));
    }

    #[test]
    fn an_infeasible_letter_is_inconclusive_and_decides() {
        let mut o = response(10);
        let plan = TimedPlan {
            memo_ns: None,
            feasible: Some(vec![0, 1, 2]),
            past: None,
            violated: vec![],
        };
        let mut ta = Timed::new(7, &plan).expect("no past stage");
        let out = run(&mut o, &mut ta, &[(1, 0), (3, 1), (0, 2)]);
        assert_eq!((&out.state, out.decided), (&TState::Infeasible, Some(1)));
        assert_eq!(ta.verdict(&mut o, &out.state), Ok(Verdict::Inconclusive));
    }

    #[test]
    fn a_skipped_event_still_moves_the_registers() {
        // the verdict stays presumably violated while the anchor is kept; a second
        // request does not re-raise
        let mut o = response(100);
        let mut ta = Timed::new(7, &TimedPlan::default()).expect("no past stage");
        let out = run(&mut o, &mut ta, &[(1, 1), (1, 2), (0, 3)]);
        assert_eq!((out.raised, out.decided), (Some(0), None));
        assert_eq!(
            out.state,
            TState::Live {
                sid: 2,
                regs: vec![1]
            }
        );
    }

    #[test]
    fn huge_windows_and_times_compare_exactly() {
        let a = Anchor {
            slot: 0,
            lo: 0,
            hi: Some(u64::MAX as i128),
        };
        assert_eq!(a.side(u64::MAX, 0), INSIDE);
        assert_eq!(a.side(0, u64::MAX), BEFORE); // d = -(2^64 - 1)
        let b = Anchor {
            slot: 0,
            lo: 1,
            hi: None,
        };
        assert_eq!(b.side(0, u64::MAX), BEFORE);
        assert_eq!(b.side(u64::MAX, 0), INSIDE);
        let c = Anchor {
            slot: 0,
            lo: 0,
            hi: Some(0),
        };
        assert_eq!((c.side(5, 5), c.side(6, 5)), (INSIDE, AFTER));
    }

    /// One anchor per pending request, all kept (as `[a, b]` windows with `a > 0` keep
    /// them): state `k` holds `k` registers with windows `[10, inf)`.
    struct Pending {
        successors: u32,
    }

    impl Oracle for Pending {
        fn state(&mut self, _prop: usize, sid: u32) -> Result<StateInfo, String> {
            Ok(StateInfo {
                relevant: 1,
                anchors: (0..sid)
                    .map(|slot| Anchor {
                        slot,
                        lo: 10,
                        hi: None,
                    })
                    .collect(),
                n_slots: sid,
                verdict: Verdict::PresumablySatisfied,
                accepting: true,
            })
        }
        fn successor(
            &mut self,
            _p: usize,
            sid: u32,
            mask: u64,
            sides: &[u8],
            _eq: bool,
        ) -> Result<Transition, String> {
            assert_eq!(sides.len(), sid as usize);
            self.successors += 1;
            let mut update: Vec<i32> = (0..sid as i32).collect();
            if mask & 1 == 1 {
                update.push(-1);
                return Ok((sid + 1, update));
            }
            Ok((sid, update))
        }
    }

    #[test]
    fn states_with_more_anchors_than_a_word_holds_are_cached_by_their_sides() {
        let mut o = Pending { successors: 0 };
        let mut ta = Timed::new(0, &TimedPlan::default()).expect("no past stage");
        let mut events: Vec<(u64, u64)> = (0..70).map(|t| (1, t)).collect();
        events.extend([(0, 70), (0, 70), (0, 71)]);
        let run = |ta: &mut Timed, o: &mut Pending| {
            let mut st = Timed::initial();
            for &(m, t) in &events {
                ta.step(o, &mut st, None, m, t).unwrap();
            }
            st
        };
        let st = run(&mut ta, &mut o);
        assert_eq!(
            st,
            TState::Live {
                sid: 70,
                regs: (0..70).collect()
            }
        );
        // 70 requests, then idle at 70 (asked once, then cached) and at 71 (new sides)
        assert_eq!(o.successors, 72);
        assert_eq!(run(&mut ta, &mut o), st);
        assert_eq!(o.successors, 72);
    }

    /// An oracle that answers nonsense: the run refuses it instead of indexing out of range.
    struct Liar;

    impl Oracle for Liar {
        fn state(&mut self, _prop: usize, sid: u32) -> Result<StateInfo, String> {
            Ok(StateInfo {
                relevant: 1,
                anchors: if sid == 0 {
                    vec![]
                } else {
                    vec![Anchor {
                        slot: 3,
                        lo: 0,
                        hi: None,
                    }]
                },
                n_slots: sid,
                verdict: Verdict::PresumablySatisfied,
                accepting: true,
            })
        }
        fn successor(
            &mut self,
            _p: usize,
            sid: u32,
            _m: u64,
            _s: &[u8],
            _e: bool,
        ) -> Result<Transition, String> {
            Ok(if sid == 0 { (1, vec![4]) } else { (0, vec![]) })
        }
    }

    #[test]
    fn a_transition_reading_a_register_the_state_lacks_is_an_error() {
        let mut ta = Timed::new(0, &TimedPlan::default()).expect("no past stage");
        let err = step_timed(&mut ta, &mut Liar, 1, |_| (1, 0)).unwrap_err();
        assert!(err.contains("register 4 of 0"), "{err}");
    }
}
