#![no_main]
//! libFuzzer entry of lowres_fer::fuzzing::manifest (see scripts/fuzz.sh).
libfuzzer_sys::fuzz_target!(|data: &[u8]| lowres_fer::fuzzing::manifest(data));
