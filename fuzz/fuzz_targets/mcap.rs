#![no_main]
//! libFuzzer entry of lowres_fer_fuzz::mcap (see scripts/fuzz.sh).
libfuzzer_sys::fuzz_target!(
    init: lowres_fer_fuzz::tolerate_handled_panics(),
    |data: &[u8]| lowres_fer_fuzz::mcap(data)
);
