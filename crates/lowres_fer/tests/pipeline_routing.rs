//! The whole pipeline on a real photo with each routing mode: faces are found,
//! classified by the expected model, and their probabilities are distributions.
//! Needs the fetched detector (scripts/fetch_models.sh), ONNX Runtime
//! ($ORT_DYLIB_PATH; scripts/env.sh) and ../shared (LOWRES_FER_SHARED overrides).

use std::path::PathBuf;

use image::imageops::FilterType;
use lowres_fer::pipeline::Pipeline;
use lowres_fer::settings::config::{DetectorModel, PipelineConfig, Precision, Routing, TilingMode};
use lowres_fer::FaceState;

fn shared() -> PathBuf {
    std::env::var_os("LOWRES_FER_SHARED")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../..")).join("../shared")
        })
}

/// Route name of the manifest's classifier (the file name without ".onnx").
fn classifier_route() -> String {
    let models = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../..")).join("models");
    let manifest = lowres_fer::models::Manifest::load(&models).expect("manifest");
    let name = manifest.classifier().expect("one classifier");
    name.trim_end_matches(".onnx").to_owned()
}

fn pipeline(routing: Routing) -> Pipeline {
    pipeline_at(routing, Precision::Fp32)
}

fn pipeline_at(routing: Routing, precision: Precision) -> Pipeline {
    let mut cfg = PipelineConfig {
        models_dir: PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../..")).join("models"),
        ..Default::default()
    };
    // BlazeFace (config/close_range.yaml): the routing expectations below were
    // set on its boxes. With the default RetinaFace, whose WIDER-style boxes
    // are taller, the RRN sent one of the 6 small faces (a 26.5 px crop) to
    // the large-face expert (docs/detection.md, "Not done").
    cfg.detector.model = DetectorModel::Back;
    cfg.detector.tiling = TilingMode::Pyramid;
    cfg.detector.tiles_per_frame = 1;
    cfg.detector.score_threshold = 0.5;
    cfg.detector.tile_score_threshold = 0.65;
    cfg.classifier.routing = routing;
    cfg.classifier.precision = precision;
    Pipeline::new(&cfg)
        .expect("pipeline loads (run scripts/setup.sh; tests run through scripts/env.sh)")
}

/// (route, native crop side) of every classified face.
fn routes(p: &mut Pipeline, frame: &image::RgbImage) -> Vec<(String, f32)> {
    let out = p.process(frame).expect("frame processed");
    out.faces
        .iter()
        .filter(|f| f.state == FaceState::Classified)
        .map(|f| {
            let sum: f32 = f.probs.iter().sum();
            assert!(
                (sum - 1.0).abs() < 1e-4 && f.probs.iter().all(|&v| (0.0..=1.0).contains(&v)),
                "{:?}",
                f.probs
            );
            (f.route.to_string(), f.size_px)
        })
        .collect()
}

#[test]
fn routing_modes_pick_the_expected_models_on_a_real_photo() {
    let photo = image::open(shared().join("data/scenes/pexels_group7.jpg"))
        .expect("scene")
        .to_rgb8();
    // The same photo at 1/8 scale: its 130-250 px faces become 16-31 px.
    let small = image::imageops::resize(
        &photo,
        photo.width() / 8,
        photo.height() / 8,
        FilterType::Triangle,
    );

    let mut off = pipeline(Routing::Off);
    let r = routes(&mut off, &photo);
    assert!(r.len() >= 6, "expected the group's faces, got {r:?}");
    let general = classifier_route();
    assert!(r.iter().all(|(route, _)| *route == general), "{r:?}");

    let mut by_size = pipeline(Routing::FaceSize);
    let r = routes(&mut by_size, &photo);
    assert!(
        r.len() >= 6 && r.iter().all(|(route, _)| route == "expert_r32_48"),
        "large faces: {r:?}"
    );

    let mut learned = pipeline(Routing::Learned);
    let r = routes(&mut learned, &photo);
    assert!(
        r.len() >= 6 && r.iter().all(|(route, _)| route == "expert_r32_48"),
        "learned, large: {r:?}"
    );
    // Detection on the small frame takes a few frames of the tile rotation.
    let mut r = Vec::new();
    for _ in 0..8 {
        r = routes(&mut by_size, &small);
    }
    assert!(!r.is_empty(), "small faces found");
    // The large-face expert serves crops of 28 px and up (the box plus
    // classifier.crop_margin on each side), the general classifier the rest: this
    // frame's 16-26 px faces straddle the edge.
    let (to_general, to_expert): (Vec<_>, Vec<_>) =
        r.iter().partition(|(route, _)| *route == general);
    let largest_general = to_general.iter().map(|(_, px)| *px).fold(0.0, f32::max);
    assert!(
        !to_general.is_empty()
            && !to_expert.is_empty()
            && to_expert
                .iter()
                .all(|(route, px)| route == "expert_r32_48" && *px > largest_general),
        "face size, small: {r:?}"
    );
    let mut r = Vec::new();
    for _ in 0..8 {
        r = routes(&mut learned, &small);
    }
    assert!(!r.is_empty(), "small faces found");
    // The recogniser judges what a crop shows, not its box: a sharp crop near the
    // 28 px edge may be recognised as large.
    assert!(
        r.iter()
            .all(|(route, px)| *route == general || (route == "expert_r32_48" && *px >= 20.0)),
        "learned, small: {r:?}"
    );
    assert!(
        r.iter().any(|(route, _)| *route == general),
        "learned, small: {r:?}"
    );
}

/// `classifier.precision` swaps every emotion model for its variant (the route
/// names say which), and the INT8 variants agree with FP32 on most faces.
#[test]
fn precision_selects_the_variants_of_every_route() {
    let photo = image::open(shared().join("data/scenes/pexels_group7.jpg"))
        .expect("scene")
        .to_rgb8();
    let top = |p: &mut Pipeline| -> Vec<(String, usize)> {
        let out = p.process(&photo).expect("frame processed");
        out.faces
            .iter()
            .filter(|f| f.state == FaceState::Classified)
            .map(|f| {
                let best = (0..f.probs.len())
                    .max_by(|&a, &b| f.probs[a].total_cmp(&f.probs[b]))
                    .unwrap_or(0);
                (f.route.to_string(), best)
            })
            .collect()
    };
    let fp32 = top(&mut pipeline_at(Routing::FaceSize, Precision::Fp32));
    let int8 = top(&mut pipeline_at(Routing::FaceSize, Precision::Int8));
    assert!(
        fp32.len() >= 6 && fp32.len() == int8.len(),
        "{fp32:?} {int8:?}"
    );
    assert!(
        int8.iter().all(|(route, _)| route == "expert_r32_48.int8"),
        "{int8:?}"
    );
    let agree = fp32.iter().zip(&int8).filter(|(a, b)| a.1 == b.1).count();
    assert!(
        agree * 4 >= fp32.len() * 3,
        "top labels: {fp32:?} vs {int8:?}"
    );
    let off = top(&mut pipeline_at(Routing::Off, Precision::Fp16));
    assert!(
        off.iter()
            .all(|(route, _)| *route == format!("{}.fp16", classifier_route())),
        "{off:?}"
    );
}
