//! Every lab binary answers `--help` (clap) with its usage and exit status 0,
//! before it needs ONNX Runtime, models or data. Each binary's own unit test
//! runs clap's `Command::debug_assert`.

use std::process::Command;

const BINARIES: [(&str, &str); 8] = [
    ("classify_bench", env!("CARGO_BIN_EXE_classify_bench")),
    ("crowd_bench", env!("CARGO_BIN_EXE_crowd_bench")),
    ("detect_bench", env!("CARGO_BIN_EXE_detect_bench")),
    ("detect_recall", env!("CARGO_BIN_EXE_detect_recall")),
    ("ferplus_eval", env!("CARGO_BIN_EXE_ferplus_eval")),
    ("frame_bench", env!("CARGO_BIN_EXE_frame_bench")),
    ("gate_study", env!("CARGO_BIN_EXE_gate_study")),
    ("routing_bench", env!("CARGO_BIN_EXE_routing_bench")),
];

#[test]
fn every_binary_prints_its_help() {
    for (name, exe) in BINARIES {
        let out = Command::new(exe).arg("--help").output().unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{name} --help: {out:?}");
        assert!(
            text.contains(&format!("Usage: {name}")),
            "{name} --help:\n{text}"
        );
    }
}

#[test]
fn unknown_flags_are_refused() {
    for (name, exe) in BINARIES {
        let out = Command::new(exe).arg("--no-such-flag").output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{name}: {out:?}");
    }
}

#[test]
fn frame_bench_help_lists_the_table_precisions() {
    let out = Command::new(env!("CARGO_BIN_EXE_frame_bench"))
        .arg("--help")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let names = lowres_fer::settings::params::enum_choices("classifier.precision").unwrap();
    assert!(
        text.contains(&format!("[possible values: {}]", names.join(", "))),
        "{text}"
    );
}
