//! The detector on real scenes with the real models: BlazeFace's modes (its
//! profile, config/close_range.yaml) and the default RetinaFace. Needs the models
//! fetched (scripts/fetch_models.sh) and ONNX Runtime ($ORT_DYLIB_PATH); without
//! them these tests fail, on purpose: a skipped detector test hides a broken setup.
//! Scenes come from `../shared` next to the crate (override: $LOWRES_FER_SHARED).

use std::path::Path;

use lowres_fer::detect::FaceDetector;
use lowres_fer::settings::config::{DetectorConfig, DetectorModel, TilingMode};
use lowres_fer_lab::detect_eval::{self as eval, MatchStats};

fn detector(cfg: DetectorConfig) -> FaceDetector {
    let env = lowres_fer::models::runtime::environment(None).unwrap_or_else(|e| {
        panic!("{e:#}\nONNX Runtime is needed: run scripts/setup.sh / scripts/fetch_models.sh and set ORT_DYLIB_PATH")
    });
    let models = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../..")).join("models");
    let store = lowres_fer::models::ModelStore::open(&env, &models).unwrap_or_else(|e| {
        panic!("{e:#}\nrun scripts/fetch_models.sh to fetch the detector models")
    });
    FaceDetector::new(&store, &cfg).unwrap_or_else(|e| {
        panic!("{e:#}\nrun scripts/fetch_models.sh to fetch the detector models")
    })
}

/// BlazeFace full-range as config/close_range.yaml sets it (the default before
/// issue 24).
fn blazeface() -> DetectorConfig {
    eval::close_range(DetectorConfig::default())
}

fn shared() -> std::path::PathBuf {
    let dir = eval::default_shared_dir();
    assert!(
        dir.join("data/scenes").is_dir(),
        "shared scenes not found at {} (set LOWRES_FER_SHARED)",
        dir.display()
    );
    dir
}

fn dlib_stats(det: &mut FaceDetector, frames: usize) -> MatchStats {
    let images = eval::load_dlib(&shared()).expect("dlib scenes");
    let mut total = MatchStats::default();
    for img in &images {
        let r = eval::replay_still(det, &img.image, &[], frames).expect("detect");
        total.add(&eval::match_detections(&img.faces, &r.held));
    }
    total
}

#[test]
fn full_frame_finds_dlib_faces_without_false_positives() {
    let mut det = detector(DetectorConfig {
        tiling: TilingMode::Off,
        ..blazeface()
    });
    let s = dlib_stats(&mut det, 1);
    assert_eq!(s.labelled, 43);
    assert!(s.found >= 42, "{s:?}");
    assert_eq!(s.false_positives, 0, "{s:?}");
}

#[test]
fn rotating_tiles_keep_dlib_clean() {
    let mut det = detector(DetectorConfig {
        tiling: TilingMode::Rotating,
        ..blazeface()
    });
    // 500x375 frames have 6 tiles: two sweeps.
    let s = dlib_stats(&mut det, 14);
    assert!(s.found >= 42, "{s:?}");
    assert_eq!(s.false_positives, 0, "{s:?}");
}

#[test]
fn blazeface_pyramid_keeps_dlib_clean() {
    let mut det = detector(blazeface());
    assert_eq!(det.config().tiling, TilingMode::Pyramid);
    // 500x375 (scale 1.95): 6 native tiles + 1 region at 1.4: two sweeps.
    let s = dlib_stats(&mut det, 14);
    assert!(s.found >= 42, "{s:?}");
    assert_eq!(s.false_positives, 0, "{s:?}");
}

#[test]
fn all_tiles_find_the_solvay_faces() {
    // 29 faces of ~55 px on a 2048 px wide photo: 7 model px in the full frame,
    // so only tiles find them. No ground-truth boxes: the count must be right and
    // every detection face-sized (a background false positive would have to be
    // compensated by a miss, which hand-checking with detect_bench --draw rules out).
    let mut det = detector(DetectorConfig {
        tiling: TilingMode::All,
        ..blazeface()
    });
    let img = image::open(shared().join("data/scenes/solvay1927.jpg"))
        .expect("solvay1927.jpg")
        .to_rgb8();
    let dets = det.detect(&img, &[]).expect("detect");
    assert!((27..=30).contains(&dets.len()), "{} detections", dets.len());
    for d in &dets {
        let side = d.bbox.w.max(d.bbox.h);
        assert!((35.0..=90.0).contains(&side), "{d:?}");
        // The caption strip below the photo holds no faces.
        assert!(d.bbox.y + d.bbox.h < 830.0, "{d:?}");
    }
    // The full frame alone reports none of them (tiny faces are rejected rather
    // than reported with misplaced boxes).
    let mut full = detector(DetectorConfig {
        tiling: TilingMode::Off,
        ..blazeface()
    });
    assert!(full.detect(&img, &[]).expect("detect").is_empty());
}

#[test]
fn rotating_tiles_find_12_to_20_px_faces_at_twice_the_full_frame_cost() {
    let (canvas, truth) = eval::small_face_canvas(&shared()).expect("canvas");
    assert_eq!(truth.len(), 11);
    assert!(truth.iter().all(|b| (11.0..=21.0).contains(&b.w.max(b.h))));

    let mut full = detector(DetectorConfig {
        tiling: TilingMode::Off,
        ..blazeface()
    });
    let r = eval::replay_still(&mut full, &canvas, &truth, 1).expect("detect");
    assert_eq!(
        r.first_found.iter().flatten().count(),
        0,
        "full frame alone"
    );

    let mut det = detector(DetectorConfig {
        tiling: TilingMode::Rotating,
        ..blazeface()
    });
    // 28 grid tiles at a budget of 1 tile per frame: one sweep takes 28 frames,
    // or up to 56 once tracked faces take every other frame's tile. Found faces
    // are then kept by the regions around tracked faces.
    let r = eval::replay_still(&mut det, &canvas, &truth, 60).expect("detect");
    let found: Vec<usize> = r.first_found.iter().flatten().copied().collect();
    assert_eq!(found.len(), truth.len(), "{:?}", r.first_found);
    assert!(found.iter().all(|&f| f <= 56), "{:?}", r.first_found);
    let held = eval::match_detections(&truth, &r.held);
    assert_eq!(held.found, truth.len(), "{held:?}");
    assert_eq!(held.false_positives, 0, "{held:?}");
    assert_eq!(r.false_positives, 0);
    // Cost: the full frame plus one 256x256 model run per frame.
    assert!(r.runs_per_frame <= 2.0, "{}", r.runs_per_frame);
}

#[test]
fn blazeface_pyramid_finds_12_to_20_px_faces_within_one_sweep() {
    let (canvas, truth) = eval::small_face_canvas(&shared()).expect("canvas");
    let mut det = detector(blazeface());
    // 720p: 24 native tiles + 8 regions at 1.71 + 2 at 2.92 = 34 regions, one
    // per frame; the faces are found in their native tiles within the sweep
    // and kept by revisiting the tiles that hold them.
    let r = eval::replay_still(&mut det, &canvas, &truth, 60).expect("detect");
    let found: Vec<usize> = r.first_found.iter().flatten().copied().collect();
    assert_eq!(found.len(), truth.len(), "{:?}", r.first_found);
    assert!(found.iter().all(|&f| f <= 35), "{:?}", r.first_found);
    let held = eval::match_detections(&truth, &r.held);
    assert_eq!(held.found, truth.len(), "{held:?}");
    assert_eq!(held.false_positives, 0, "{held:?}");
    assert_eq!(r.false_positives, 0);
    assert!(r.runs_per_frame <= 2.0, "{}", r.runs_per_frame);
}

#[test]
fn default_retinaface_keeps_dlib_clean() {
    let mut det = detector(DetectorConfig::default());
    assert_eq!(det.config().model, DetectorModel::Retinaface);
    // 500x375 under `pyramid`: 4 regions at full scale and 12 upscaled tiles,
    // 2 per frame: 8 frames sweep them all.
    let s = dlib_stats(&mut det, 10);
    assert!(s.found >= 42, "{s:?}");
    // Measured: 43 found and 6 unmatched boxes. Five are unlabelled real faces
    // (checked by drawing: three people behind the labelled ones in
    // 2008_002079.jpg, two 6 px faces in 2008_004176.jpg); the sixth, since the
    // pyramid sweep, is a hand in 2008_002079.jpg (at 153, 240) that a
    // full-scale region scores 0.70 and the whole frame (`rotating`) did not
    // report. More than that is a regression.
    assert!(s.false_positives <= 6, "{s:?}");
}

#[test]
fn default_retinaface_finds_12_to_20_px_faces_within_one_sweep() {
    let (canvas, truth) = eval::small_face_canvas(&shared()).expect("canvas");
    let mut det = detector(DetectorConfig::default());
    // 1280x720 under `pyramid`: 15 regions at full scale and 66 upscaled
    // tiles, 2 per frame: a sweep is 41 frames.
    let r = eval::replay_still(&mut det, &canvas, &truth, 42).expect("detect");
    let found: Vec<usize> = r.first_found.iter().flatten().copied().collect();
    assert_eq!(found.len(), truth.len(), "{:?}", r.first_found);
    let held = eval::match_detections(&truth, &r.held);
    assert_eq!(held.found, truth.len(), "{held:?}");
    assert!(r.runs_per_frame <= 3.0, "{}", r.runs_per_frame);
}
