//! Coverage-guided fuzzing of the JSON Lines splitter: no panic, and the
//! invariants of `_native::fuzz::check_split`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| _native::fuzz::check_split(data));
