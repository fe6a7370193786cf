#![no_main]
//! libFuzzer entry of lowres_fer::fuzzing::sqlite (see scripts/fuzz.sh).
libfuzzer_sys::fuzz_target!(
    init: lowres_fer::fuzzing::tolerate_handled_panics(),
    |data: &[u8]| lowres_fer::fuzzing::sqlite(data)
);
