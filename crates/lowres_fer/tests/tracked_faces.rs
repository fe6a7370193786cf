//! Faces carried between detector runs, on a real photo of small faces (Solvay
//! 1927 at 400 px wide: 29 faces of 10-13 px) with the default RetinaFace:
//! - a still camera's faces that only the swept regions find are held between
//!   the region's runs, and each says how many frames ago it was seen
//!   (`Detection::age`);
//! - when the camera pans, held boxes no longer show their faces and are
//!   dropped; the re-detection around tracked faces (`detector.redetect_tracked`)
//!   finds them again in the same frame.
//!
//! Needs the fetched detector (scripts/fetch_models.sh), ONNX Runtime
//! ($ORT_DYLIB_PATH; scripts/env.sh) and ../shared (LOWRES_FER_SHARED overrides).

use std::path::PathBuf;

use image::imageops::FilterType;
use image::RgbImage;
use lowres_fer::pipeline::Pipeline;
use lowres_fer::settings::config::PipelineConfig;

fn shared() -> PathBuf {
    std::env::var_os("LOWRES_FER_SHARED")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../..")).join("../shared")
        })
}

/// The photo's size in the frames: its faces are 10-13 px, at the edge of the
/// full frame pass's reach, so the upscaled tiles find the ones it misses.
const W: u32 = 400;
const H: u32 = 180;

fn pipeline(redetect: bool) -> Pipeline {
    let mut cfg = PipelineConfig {
        models_dir: PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../..")).join("models"),
        ..Default::default()
    };
    cfg.detector.redetect_tracked = redetect;
    Pipeline::new(&cfg)
        .expect("pipeline loads (run scripts/setup.sh; tests run through scripts/env.sh)")
}

/// The photo at `W` px wide.
fn solvay() -> RgbImage {
    let img = image::open(shared().join("data/scenes/solvay1927.jpg"))
        .expect("solvay1927.jpg in the shared scenes")
        .to_rgb8();
    image::imageops::resize(&img, W, H, FilterType::Triangle)
}

/// `photo` shifted right by `dx` px inside a 680x288 frame (grey elsewhere).
fn panned(photo: &RgbImage, dx: u32) -> RgbImage {
    let mut frame = RgbImage::from_pixel(W + 40, H, image::Rgb([110, 110, 110]));
    image::imageops::replace(&mut frame, photo, i64::from(dx), 0);
    frame
}

#[test]
fn held_faces_say_how_old_their_boxes_are() {
    let photo = solvay();
    let frame = panned(&photo, 20);
    let mut p = pipeline(true);
    let first: Vec<u32> = p
        .process(&frame)
        .expect("frame 1")
        .faces
        .iter()
        .map(|f| f.detection.age)
        .collect();
    assert!(
        first.iter().all(|&a| a == 0),
        "frame 1: every box is from this frame's runs: {first:?}"
    );
    let mut ages = Vec::new();
    for _ in 0..11 {
        ages = p
            .process(&frame)
            .expect("frame")
            .faces
            .iter()
            .map(|f| f.detection.age)
            .collect();
    }
    // A 440x180 frame has 2 regions of 320 px at full scale and 8 upscaled
    // tiles of 160 px in the default `pyramid` sweep, 2 per frame: a held box is
    // at most 4 frames old, and the faces only the sweep finds are held in between.
    assert!(
        ages.len() > first.len(),
        "tiles add faces: {} then {}",
        first.len(),
        ages.len()
    );
    assert!(ages.iter().any(|&a| a > 0), "some boxes are held: {ages:?}");
    assert!(
        ages.iter().all(|&a| a <= 4),
        "held at most one sweep: {ages:?}"
    );
}

#[test]
fn a_panning_camera_keeps_its_tracked_faces_with_redetection() {
    let photo = solvay();
    let mut found = [0usize; 2];
    for (i, redetect) in [false, true].into_iter().enumerate() {
        let mut p = pipeline(redetect);
        // A still camera: the tile sweep finds the small faces, the tracks start.
        let still = panned(&photo, 20);
        for _ in 0..12 {
            p.process(&still).expect("still frame");
        }
        // Then the camera pans 3 px per frame: every held box's pixels change.
        for k in 1..=6 {
            let out = p
                .process(&panned(&photo, 20 + 3 * k))
                .expect("panned frame");
            found[i] += out.faces.len();
            if redetect {
                let fresh = out.faces.iter().filter(|f| f.detection.age == 0).count();
                assert_eq!(fresh, out.faces.len(), "panning: no held box survives");
            }
        }
    }
    let [without, with] = found;
    // Measured: 155 without, 176 with (29.3 a frame: the whole group, plus
    // a face the sweep found that the full frame misses).
    assert!(
        with >= 6 * 28 && with as f32 >= without as f32 * 1.08,
        "faces over 6 panned frames: {without} without re-detection, {with} with"
    );
}
