//! Recall floors on a small part of the multi-scale benchmark (`detect::bench`,
//! docs/detection.md "Crowds"), with the real models: the default RetinaFace,
//! and BlazeFace as config/close_range.yaml sets it: the VGA still mosaics, each replayed for 10 frames as a
//! still camera, and the VGA panning/zooming sequence. Needs the models
//! (scripts/fetch_models.sh) and ONNX Runtime ($ORT_DYLIB_PATH); fails without
//! them. A few seconds in release mode.

use std::path::Path;

use lowres_fer::detect::FaceDetector;
use lowres_fer::settings::config::{DetectorConfig, DetectorModel};
use lowres_fer_lab::detect_bench as bench;

fn store() -> (lowres_fer::models::ModelStore, DetectorConfig) {
    let env = lowres_fer::models::runtime::environment(None).unwrap_or_else(|e| {
        panic!("{e:#}\nONNX Runtime is needed: run scripts/setup.sh and set ORT_DYLIB_PATH")
    });
    let models = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../..")).join("models");
    let store = lowres_fer::models::ModelStore::open(&env, &models)
        .unwrap_or_else(|e| panic!("{e:#}\nrun scripts/fetch_models.sh"));
    let cfg = DetectorConfig {
        threads: 1,
        ..Default::default()
    };
    (store, cfg)
}

/// BlazeFace's profile (config/close_range.yaml), the default before issue 24.
fn blazeface(cfg: DetectorConfig) -> DetectorConfig {
    lowres_fer_lab::detect_eval::close_range(cfg)
}

fn sources() -> Vec<lowres_fer_lab::detect_eval::LabelledImage> {
    let shared = lowres_fer_lab::detect_eval::default_shared_dir();
    bench::load_sources(&shared)
        .unwrap_or_else(|e| panic!("{e:#}\nshared scenes not found (set LOWRES_FER_SHARED)"))
}

#[test]
fn blazeface_meets_the_vga_recall_targets_within_10_frames() {
    let (store, cfg) = store();
    let cfg = blazeface(cfg);
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
fn blazeface_holds_faces_of_a_moving_camera() {
    let (store, cfg) = store();
    let cfg = blazeface(cfg);
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

#[test]
fn default_retinaface_finds_more_small_faces_than_blazeface() {
    let (store, cfg) = store();
    assert_eq!(cfg.model, DetectorModel::Retinaface);
    let sources = sources();
    let stills = bench::still_scenes(&sources, &[(640, 480)]);
    let mut make = || FaceDetector::new(&store, &cfg);
    let r = bench::run_stills(&mut make, &stills, 10).expect("detect");
    // Measured (docs/detection.md, "The pyramid sweep"): 10-16 px 0.86, 16-32
    // px 1.00, >= 32 px 1.00 within 10 frames, 0.62 FP per image; BlazeFace
    // 0.56 / 0.94 / 0.97. A VGA frame's sweep is 13 frames (6 regions at full
    // scale, 20 upscaled tiles, 2 per frame), so within 10 frames a few of the
    // 10-16 px faces, which only the tiles find, are not reached yet (0.96
    // with `rotating`, which runs the full frame every frame). The "false
    // positives" are mostly tiny faces whose taller WIDER-style box overlaps
    // the square label at IoU 0.25-0.39.
    assert!(r.within.recall(1) >= 0.8, "10-16 px {:?}", r.within);
    assert!(r.within.recall_of(2..4) >= 0.97, "16-32 px {:?}", r.within);
    assert!(r.within.recall_of(4..6) >= 0.97, ">= 32 px {:?}", r.within);
    assert!(r.fp_per_image() <= 1.2, "{} FP/image", r.fp_per_image());
    assert!(r.runs_per_frame() <= 3.0, "{}", r.runs_per_frame());
    let seq = bench::moving_sequence(&sources, (640, 480), 40);
    let mut det = FaceDetector::new(&store, &cfg).expect("detector");
    let r = bench::run_sequence(&mut det, &seq, 10).expect("detect");
    // Measured: 0.95 / 0.99 / 1.00 in the very frame (16-24 / 24-32 / 32-64
    // px: the re-detections around tracked faces), 0.33 FP/image.
    assert!(r.first.recall_of(2..6) >= 0.9, "this frame {:?}", r.first);
    assert!(r.within.recall_of(2..6) >= 0.97, "held {:?}", r.within);
    assert!(r.fp_per_image() <= 0.6, "{} FP/image", r.fp_per_image());
}
