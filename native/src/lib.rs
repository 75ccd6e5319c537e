//! The native core of tracelogic's runtime path (docs/native.md).
//!
//! Python compiles a typed spec into a *plan*; this crate will execute it: decode OTLP bytes
//! into columns, assemble traces, compute letters and step automata, with the GIL released.
//! The Python engine stays the reference semantics and runs everything the core does not
//! cover yet. Which parts the core covers is declared in one place, [`capabilities()`], so the
//! Python side (`tracelogic.engine.registry`) can route each property to the engine
//! that runs it and say so.
//!
//! Today: [`otlp`] decodes OTLP protobuf into columns over the zero-copy [`wire`] reader
//! (step 2), [`otlp_json`] OTLP/JSON into the same columns over its own [`json`] parser
//! (step 4), with [`jsonl`] splitting an input into its documents. [`file_run`] runs a [`plan`] over decoded requests: the [`store`] keeps the
//! spans, [`assembly`] and [`order`] build traces and their events, [`atoms`] computes
//! letters and [`run`] / [`cross`] step the [`automaton`] of each per-trace and cross-trace
//! untimed property (steps 3 and 4), [`timed`] the properties with time bounds. [`past`] steps a monitor's past stage (pure-past
//! formulas, metric ones included) per event, for valuations and timed properties.
//! [`stream_run`] runs the per-trace ones on a stream, for the sidecar (step 5).
//!
//! The crate is pure Rust except for the `python` feature's `bindings` module: every unit
//! test runs without an interpreter.

#![forbid(unsafe_code)]

pub mod assembly;
pub mod atoms;
pub mod automaton;
pub mod capabilities;
pub mod check;
pub mod cross;
pub mod event_queue;
pub mod file_run;
pub mod fuzz;
pub mod json;
pub mod jsonl;
pub mod key_lru;
pub mod open_index;
pub mod order;
pub mod otlp;
pub mod otlp_json;
pub mod packed;
pub mod past;
pub mod plan;
pub mod registers;
pub mod run;
pub mod samples;
pub mod schema;
pub mod store;
pub mod stream_run;
#[cfg(test)]
pub mod test_rng;
pub mod timed;
pub mod value;
pub mod violation_text;
pub mod wire;

#[cfg(feature = "python")]
mod bindings;
#[cfg(feature = "python")]
mod json_py;
#[cfg(feature = "python")]
mod past_py;
#[cfg(feature = "python")]
mod stream_bindings;

pub use capabilities::{capabilities, ABI_VERSION};
