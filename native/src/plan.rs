//! The plan a Python `NativePlan` hands the core (`engine/plan.py`): the atom
//! program and, per property, its scope (and scope key), its letter's atoms, its trigger atoms
//! and its automaton.

use serde::Deserialize;

use crate::atoms::Program;
use crate::automaton::Cached;
use crate::run::{PropPlan, Scope};

/// The plan format this core reads (`PLAN_VERSION` in plan.py).
pub const PLAN_VERSION: u32 = 3;

#[derive(Deserialize)]
struct Document {
    version: u32,
    program: serde_json::Value,
    properties: Vec<PropPlan>,
}

/// A parsed and checked plan.
pub struct Plan {
    pub program: Program,
    pub properties: Vec<PropPlan>,
}

impl Plan {
    /// Parse the plan's JSON; every index in it is checked, so stepping cannot go out of
    /// bounds whatever the document says.
    pub fn from_json(text: &str) -> Result<Plan, String> {
        let doc: Document = serde_json::from_str(text).map_err(|e| format!("plan: {e}"))?;
        if doc.version != PLAN_VERSION {
            return Err(format!(
                "plan version {} (this core reads {PLAN_VERSION})",
                doc.version
            ));
        }
        let program = Program::from_json(&doc.program.to_string())?;
        let n = program.n_atoms() as u32;
        for p in &doc.properties {
            if p.atoms.len() > 64 {
                return Err(format!("property {}: more than 64 atoms", p.name));
            }
            if let Some(a) = p.atoms.iter().chain(&p.trigger).find(|&&a| a >= n) {
                return Err(format!("property {}: atom {a} of {n}", p.name));
            }
            match (p.scope, p.key) {
                (Scope::Key, Some(k)) if (k as usize) < program.n_values() => {}
                (Scope::Key, k) => {
                    return Err(format!(
                        "property {}: scope key {k:?} of {} values",
                        p.name,
                        program.n_values()
                    ))
                }
                (_, Some(_)) => {
                    return Err(format!("property {}: a key without a key scope", p.name))
                }
                (_, None) => {}
            }
            if let Some(v) = p.timed.as_ref().and_then(|t| t.past.as_ref()) {
                let past = crate::past::PastPlan::from_json(v)
                    .map_err(|e| format!("property {}: past stage: {e}", p.name))?;
                if past.n_atoms() as usize != p.atoms.len()
                    || past.n_atoms() + past.n_outputs() > 64
                {
                    return Err(format!(
                        "property {}: a past stage over {} atoms with {} outputs for {} atoms",
                        p.name,
                        past.n_atoms(),
                        past.n_outputs(),
                        p.atoms.len()
                    ));
                }
            }
            if let Some(k) = p.registers {
                let regs = program
                    .registers
                    .get(k as usize)
                    .ok_or_else(|| format!("property {}: register program {k}", p.name))?;
                let bits = p.bits.as_deref().unwrap_or(&[]);
                let mut used = regs.bits();
                for &b in bits {
                    if b >= 64 || used & (1 << b) != 0 {
                        return Err(format!(
                            "property {}: letter bit {b} twice or out of range",
                            p.name
                        ));
                    }
                    used |= 1 << b;
                }
                if bits.len() != p.atoms.len() {
                    return Err(format!(
                        "property {}: {} bits for {} atoms",
                        p.name,
                        bits.len(),
                        p.atoms.len()
                    ));
                }
            } else if p.bits.is_some() {
                return Err(format!(
                    "property {}: letter bits without registers",
                    p.name
                ));
            }
            if let Some(k) = p.samples {
                if k as usize >= program.samples.len() || p.registers.is_some() {
                    return Err(format!("property {}: sample program {k}", p.name));
                }
            }
            p.automaton
                .validate()
                .map_err(|e| format!("property {}: {e}", p.name))?;
        }
        Ok(Plan {
            program,
            properties: doc.properties,
        })
    }

    /// One cached automaton per property, for one run.
    pub fn automata(&self) -> Vec<Cached> {
        self.properties
            .iter()
            .map(|p| Cached::new(p.automaton.clone()))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A plan of one property `G true`-like (one state) with `scope` and `key` (JSON).
    fn plan(values: &str, scope: &str, key: &str) -> Result<Plan, String> {
        Plan::from_json(&format!(
            r#"{{"version": {PLAN_VERSION},
                "program": {{"atoms": [], "sites": [], "values": [{values}]}},
                "properties": [{{"name": "p", "atoms": [], "trigger": [],
                                 "scope": "{scope}", "key": {key}, "initial": 0,
                                 "states": [{{"cubes": [], "default": 0,
                                              "decided": false, "pv": false}}]}}]}}"#
        ))
    }

    const SERVICE: &str = r#"{"op":"field","hops":0,"name":"service"}"#;

    #[test]
    fn a_key_scope_names_one_of_the_programs_values() {
        let p = plan(SERVICE, "key", "0").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            (p.properties[0].scope, p.properties[0].key),
            (Scope::Key, Some(0))
        );
        assert!(plan(SERVICE, "global", "null").is_ok());
        assert!(plan("", "trace", "null").is_ok());
        for (values, scope, key) in [
            (SERVICE, "key", "1"),    // no such value
            (SERVICE, "key", "null"), // a key scope without its key
            (SERVICE, "trace", "0"),  // a key without a key scope
            (SERVICE, "per", "null"), // no such scope
        ] {
            assert!(plan(values, scope, key).is_err(), "{scope} {key}");
        }
    }
}
