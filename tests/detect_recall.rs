//! Recall floors on a small part of the multi-scale benchmark (`detect::bench`,
//! docs/detection.md "Crowds"), with the real BlazeFace model and the default
//! detector settings: the VGA still mosaics, each replayed for 10 frames as a
//! still camera, and the VGA panning/zooming sequence. Needs the models
//! (scripts/fetch_models.sh) and ONNX Runtime ($ORT_DYLIB_PATH); fails without
//! them. A few seconds in release mode.

use std::path::Path;

use lowres_fer::config::DetectorConfig;
use lowres_fer::detect::bench;
use lowres_fer::detect::FaceDetector;

fn store() -> (lowres_fer::models::ModelStore, DetectorConfig) {
    let env = lowres_fer::runtime::environment(None).unwrap_or_else(|e| {
        panic!("{e:#}\nONNX Runtime is needed: run scripts/setup.sh and set ORT_DYLIB_PATH")
    });
    let models = Path::new(env!("CARGO_MANIFEST_DIR")).join("models");
    let store = lowres_fer::models::ModelStore::open(&env, &models)
        .unwrap_or_else(|e| panic!("{e:#}\nrun scripts/fetch_models.sh"));
    let cfg = DetectorConfig {
        threads: 1,
        ..Default::default()
    };
    (store, cfg)
}

fn sources() -> Vec<lowres_fer::detect::eval::LabelledImage> {
    let shared = lowres_fer::detect::eval::default_shared_dir();
    bench::load_sources(&shared)
        .unwrap_or_else(|e| panic!("{e:#}\nshared scenes not found (set LOWRES_FER_SHARED)"))
}

#[test]
fn default_mode_meets_the_vga_recall_targets_within_10_frames() {
    let (store, cfg) = store();
    let sources = sources();
    assert_eq!(sources.iter().map(|s| s.faces.len()).sum::<usize>(), 82);
    let stills = bench::still_scenes(&sources, &[(640, 480)]);
    let mut make = || FaceDetector::new(&store, &cfg);
    let r = bench::run_stills(&mut make, &stills, 10).expect("detect");
    // Measured (docs/detection.md): 16-32 px 0.94, >= 32 px 0.97, 0.23 FP per
    // image. Targets of issue 13: >= 0.8, >= 0.95, <= 0.3.
    let small = r.within.recall_of(2..4);
    let large = r.within.recall_of(4..6);
    assert!(small >= 0.85, "16-32 px recall {small:.3}: {:?}", r.within);
    assert!(large >= 0.95, ">= 32 px recall {large:.3}: {:?}", r.within);
    assert!(r.fp_per_image() <= 0.3, "{} FP/image", r.fp_per_image());
    // Cost: the full frame plus one region per frame.
    assert!(r.runs_per_frame() <= 2.0, "{}", r.runs_per_frame());
}

#[test]
fn default_mode_holds_faces_of_a_moving_camera() {
    let (store, cfg) = store();
    let sources = sources();
    let seq = bench::moving_sequence(&sources, (640, 480), 40);
    let mut det = FaceDetector::new(&store, &cfg).expect("detector");
    let r = bench::run_sequence(&mut det, &seq, 10).expect("detect");
    // Measured: 0.94 (16-24 px), 1.00 (24-32), 1.00 (32-64), 0.05 FP/image.
    let small = r.within.recall_of(2..4);
    let large = r.within.recall_of(4..6);
    assert!(small >= 0.9, "16-32 px held {small:.3}: {:?}", r.within);
    assert!(large >= 0.95, ">= 32 px held {large:.3}: {:?}", r.within);
    assert!(r.fp_per_image() <= 0.3, "{} FP/image", r.fp_per_image());
}
