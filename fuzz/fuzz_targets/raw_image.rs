#![no_main]
//! libFuzzer entry of lowres_fer::fuzzing::raw_image (see scripts/fuzz.sh).
libfuzzer_sys::fuzz_target!(|data: &[u8]| lowres_fer::fuzzing::raw_image(data));
