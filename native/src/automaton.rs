//! A property's automaton as the plan gives it: per state, guards over the letter's bits.
//!
//! Each state lists cubes `(care, value, target)`: a letter `l` takes the first cube with
//! `l & care == value`, else the state's `default` target. There is no table over all 2^k
//! letters: [`Cached::step`] remembers the (state, letter) pairs that occurred, so a run pays
//! for the guards once per distinct pair (traffic has few distinct letters).

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use serde::Deserialize;

/// One state of the automaton.
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct State {
    /// `[care, value, target]`, tried in order
    pub cubes: Vec<(u64, u64, u32)>,
    /// the target of every letter no cube matches
    pub default: u32,
    /// the verdict of this state is final: stepping stops here
    pub decided: bool,
    /// the verdict of this state is "presumably violated": an obligation is open
    pub pv: bool,
}

/// The automaton of one property.
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct Automaton {
    pub initial: u32,
    pub states: Vec<State>,
}

impl Automaton {
    /// Checks what the stepping relies on: every target is a state.
    pub fn validate(&self) -> Result<(), String> {
        let n = self.states.len() as u32;
        if self.initial >= n {
            return Err(format!("initial state {} of {n}", self.initial));
        }
        for (s, st) in self.states.iter().enumerate() {
            let bad = std::iter::once(st.default)
                .chain(st.cubes.iter().map(|c| c.2))
                .find(|&t| t >= n);
            if let Some(t) = bad {
                return Err(format!("state {s} goes to state {t} of {n}"));
            }
        }
        Ok(())
    }

    /// The successor of `state` on `letter`, by its guards.
    pub fn target(&self, state: u32, letter: u64) -> u32 {
        let st = &self.states[state as usize];
        st.cubes
            .iter()
            .find(|(care, value, _)| letter & care == *value)
            .map_or(st.default, |c| c.2)
    }
}

/// FxHash (rustc's hasher): the keys are small integers made by this crate, not input, so
/// a fast non-keyed hash is fine here.
#[derive(Default, Clone, Copy)]
pub struct FxHasher(u64);

impl Hasher for FxHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.write_u64(b as u64);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0.rotate_left(5) ^ n).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
    fn write_u32(&mut self, n: u32) {
        self.write_u64(n as u64);
    }
}

pub type FxMap<K, V> = HashMap<K, V, BuildHasherDefault<FxHasher>>;

/// An automaton with its (state, letter) -> target cache.
#[derive(Debug, Clone)]
pub struct Cached {
    pub automaton: Automaton,
    cache: FxMap<(u32, u64), u32>,
    /// the targets of the first [`DENSE_STATES`] states on letters below 2^[`DENSE_BITS`]
    /// (most properties read a few atoms): `dense[state << DENSE_BITS | letter]`, grown a
    /// state at a time, `u32::MAX` while unknown; the others go through `cache`
    dense: Vec<u32>,
}

const DENSE_BITS: u32 = 8;
const DENSE_STATES: u32 = 64;

/// Distinct (state, letter) pairs remembered before the cache starts over: bounds memory
/// when a property's atoms vary wildly (the guards stay correct without the cache).
const CACHE_MAX: usize = 1 << 16;

impl Cached {
    pub fn new(automaton: Automaton) -> Self {
        Cached {
            automaton,
            cache: FxMap::default(),
            dense: vec![],
        }
    }

    #[inline]
    pub fn step(&mut self, state: u32, letter: u64) -> u32 {
        if state < DENSE_STATES && letter < 1 << DENSE_BITS {
            let i = ((state as usize) << DENSE_BITS) | letter as usize;
            if i >= self.dense.len() {
                self.dense
                    .resize(((state as usize) + 1) << DENSE_BITS, u32::MAX);
            }
            if self.dense[i] == u32::MAX {
                self.dense[i] = self.automaton.target(state, letter);
            }
            return self.dense[i];
        }
        if let Some(&t) = self.cache.get(&(state, letter)) {
            return t;
        }
        let t = self.automaton.target(state, letter);
        if self.cache.len() >= CACHE_MAX {
            self.cache.clear();
        }
        self.cache.insert((state, letter), t);
        t
    }

    pub fn state(&self, s: u32) -> &State {
        &self.automaton.states[s as usize]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `G !a` over one atom: state 0 (pv=false) stays on !a, goes to 1 (violated) on a.
    pub fn g_not_a() -> Automaton {
        Automaton {
            initial: 0,
            states: vec![
                State {
                    cubes: vec![(1, 1, 1)],
                    default: 0,
                    decided: false,
                    pv: false,
                },
                State {
                    cubes: vec![],
                    default: 1,
                    decided: true,
                    pv: false,
                },
            ],
        }
    }

    #[test]
    fn guards_pick_the_first_matching_cube_else_the_default() {
        let a = g_not_a();
        assert_eq!(a.target(0, 0), 0);
        assert_eq!(a.target(0, 1), 1);
        assert_eq!(a.target(0, 3), 1); // bit 1 is not cared for
        assert_eq!(a.target(1, 0), 1);
        a.validate().unwrap();
    }

    #[test]
    fn the_cache_agrees_with_the_guards() {
        let mut c = Cached::new(g_not_a());
        for l in [0u64, 1, 0, 1, 2, 3] {
            for s in 0..2 {
                assert_eq!(c.step(s, l), c.automaton.target(s, l));
            }
        }
    }

    #[test]
    fn a_target_outside_the_states_is_refused() {
        let mut a = g_not_a();
        a.states[0].cubes[0].2 = 7;
        assert!(a.validate().unwrap_err().contains("state 7"));
        let mut a = g_not_a();
        a.initial = 2;
        assert!(a.validate().is_err());
    }

    #[test]
    fn parses_the_plan_shape() {
        let a: Automaton = serde_json::from_str(
            r#"{"initial":0,"states":[{"cubes":[[1,1,1]],"default":0,"decided":false,"pv":false},
                {"cubes":[],"default":1,"decided":true,"pv":false}]}"#,
        )
        .unwrap();
        assert_eq!(a, g_not_a());
    }
}
