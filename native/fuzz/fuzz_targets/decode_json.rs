//! Coverage-guided fuzzing of the OTLP/JSON parser and decoder: no panic, and the
//! invariants of `_native::fuzz::check_decode_json`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| _native::fuzz::check_decode_json(data));
