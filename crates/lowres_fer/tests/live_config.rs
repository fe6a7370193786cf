//! Issue 26: run-time parameter changes reach the next frame without
//! reloading a model, and changes that need a reload are refused.
//! Needs the fetched models (scripts/setup.sh), ONNX Runtime ($ORT_DYLIB_PATH;
//! scripts/env.sh) and ../shared (LOWRES_FER_SHARED overrides).

use std::path::PathBuf;

use lowres_fer::frame::{FrameStep, Payload};
use lowres_fer::msg::Header;
use lowres_fer::pipeline::Pipeline;
use lowres_fer::settings::config::{DetectorModel, PipelineConfig, TilingMode};
use lowres_fer::FaceState;

fn shared() -> PathBuf {
    std::env::var_os("LOWRES_FER_SHARED")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../..")).join("../shared")
        })
}

fn config() -> PipelineConfig {
    PipelineConfig {
        models_dir: PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../..")).join("models"),
        ..Default::default()
    }
}

/// (faces, classified faces, their track ids) of one frame.
fn run(step: &mut FrameStep, photo: &image::RgbImage, sec: i32) -> (usize, usize, Vec<u64>) {
    let header = Header {
        sec,
        ..Default::default()
    };
    let payload = Payload::Raw {
        width: photo.width(),
        height: photo.height(),
        encoding: "rgb8",
        is_bigendian: false,
        step: photo.width() * 3,
        data: photo.as_raw(),
    };
    let out = step
        .process(header, payload, false)
        .expect("frame processed");
    let classified = out
        .faces
        .iter()
        .filter(|f| f.state == FaceState::Classified)
        .count();
    let ids = out.faces.iter().map(|f| f.track_id).collect();
    (out.faces.len(), classified, ids)
}

#[test]
fn live_changes_apply_from_the_next_frame() {
    let photo = image::open(shared().join("data/scenes/pexels_group7.jpg"))
        .expect("scene")
        .to_rgb8();
    let mut cfg = config();
    cfg.detector.tiling = TilingMode::Off;
    let pipeline = Pipeline::new(&cfg)
        .expect("pipeline loads (run scripts/setup.sh; tests run through scripts/env.sh)");
    let mut step = FrameStep::new(pipeline);

    let (faces, classified, ids) = run(&mut step, &photo, 1);
    assert!(
        faces >= 6 && classified >= 6,
        "{faces} faces, {classified} classified"
    );
    assert!(ids.iter().all(|&id| id > 0), "{ids:?}");

    // The quality gate: every face of the group photo (130-250 px) is now too small.
    let mut live = cfg.clone();
    live.classifier.min_face_px = 1000.0;
    step.apply_live(&live, u64::MAX).unwrap();
    let (faces2, classified, _) = run(&mut step, &photo, 2);
    assert_eq!((faces2, classified), (faces, 0));

    // The detector threshold: no full-frame detection reaches above 1.
    live.classifier.min_face_px = cfg.classifier.min_face_px;
    live.detector.score_threshold = 1.0;
    step.apply_live(&live, u64::MAX).unwrap();
    let (none, _, _) = run(&mut step, &photo, 3);
    assert!(
        none < faces,
        "{none} faces at threshold 1.0, {faces} at the default"
    );

    // Back, and tracking off then on: faces again, ids never reused.
    live.detector.score_threshold = cfg.detector.score_threshold;
    live.tracking.enabled = false;
    step.apply_live(&live, u64::MAX).unwrap();
    let (again, _, off_ids) = run(&mut step, &photo, 4);
    assert_eq!(again, faces);
    assert!(off_ids.iter().all(|&id| id == 0), "{off_ids:?}");
    live.tracking.enabled = true;
    step.apply_live(&live, u64::MAX).unwrap();
    let (_, _, new_ids) = run(&mut step, &photo, 5);
    let max_old = ids.iter().max().copied().unwrap_or(0);
    assert!(
        new_ids.iter().all(|&id| id > max_old),
        "{ids:?} then {new_ids:?}"
    );

    // The pixel budget is checked before decoding.
    step.apply_live(&live, 1000).unwrap();
    let header = Header {
        sec: 6,
        ..Default::default()
    };
    let payload = Payload::Raw {
        width: photo.width(),
        height: photo.height(),
        encoding: "rgb8",
        is_bigendian: false,
        step: photo.width() * 3,
        data: photo.as_raw(),
    };
    assert!(step.process(header, payload, false).is_err());
}

#[test]
fn changes_that_need_a_reload_or_are_invalid_are_refused() {
    let cfg = config();
    let mut step = FrameStep::new(Pipeline::new(&cfg).expect("pipeline loads"));
    let mut other = cfg.clone();
    other.detector.model = DetectorModel::Back;
    let e = step.apply_live(&other, u64::MAX).unwrap_err().to_string();
    assert!(e.contains("restart"), "{e}");
    let mut bad = cfg.clone();
    bad.detector.score_threshold = 1.5;
    let e = step.apply_live(&bad, u64::MAX).unwrap_err().to_string();
    assert!(e.contains("detector.score_threshold"), "{e}");
    // Nothing changed.
    assert_eq!(step.pipeline().config(), &cfg);
}
