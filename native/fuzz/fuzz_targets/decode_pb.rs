//! Coverage-guided fuzzing of the protobuf decoder (`decode_traces`): no panic, and the
//! invariants of `_native::fuzz::check_decode_pb`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| _native::fuzz::check_decode_pb(data));
