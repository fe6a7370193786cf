//! The classifier on the detector's crops (docs/detection.md, "Classification
//! on RetinaFace's crops"): what the box convention of the default detector
//! costs the emotion model, which was trained on FER+'s own face frames.
//!
//! `cargo run --release --bin ferplus_detected -- [--data ../shared/data/ferplus.tar.gz]
//!  [--models-dir DIR] [--resolutions 48,32,20] [--set NAME=VALUE]...`
//!
//! Each FER+ Test face (majority rule) is scaled to R px (the protocol's clean
//! downscale) and pasted in the middle of a mid-grey square 3R px wide (at least
//! 64), then goes through the node's pipeline as one frame: detection, quality
//! gate, the eye-levelled crop of the box plus its margin, classification. The
//! face the pipeline classified nearest the middle is the prediction. Printed per
//! R: the share of faces detected and classified, the accuracy of the node's path
//! on them, and the protocol's accuracy (the whole 48x48 frame, the same R) on
//! the same faces and on all of them.

use anyhow::Context;
use clap::Parser;
use image::{GrayImage, Luma, RgbImage};
use lowres_fer::classify::EmotionClassifier;
use lowres_fer::models::{runtime, ModelStore};
use lowres_fer::pipeline::Pipeline;
use lowres_fer::settings::params::Settings;
use lowres_fer::{BBox, FaceState};
use lowres_fer_lab::cli;
use lowres_fer_lab::degrade::{self, Degrader};
use lowres_fer_lab::ferplus::{self, LabelRule};

/// FER+ Test through the detector, the gate and the node's crop, against the protocol crop.
#[derive(Parser, Debug)]
#[command(name = "ferplus_detected", args_override_self = true)]
struct Args {
    #[command(flatten)]
    data: cli::FerplusData,
    #[command(flatten)]
    models: cli::ModelsDir,
    /// Face sizes in px (comma-separated)
    #[arg(long, value_name = "LIST", value_parser = cli::comma_list::<u32>, default_value = "48,32,20")]
    resolutions: ::std::vec::Vec<u32>,
    #[command(flatten)]
    set: cli::ParamSet,
}

/// `face` in the middle of a grey square 3x its side (at least 64 px), as RGB,
/// and where it lies.
fn on_canvas(face: &GrayImage) -> (RgbImage, BBox) {
    let r = face.width();
    let side = (3 * r).max(64);
    let mut canvas = GrayImage::from_pixel(side, side, Luma([128]));
    let off = (side - r) / 2;
    image::imageops::replace(&mut canvas, face, i64::from(off), i64::from(off));
    let rgb = image::DynamicImage::ImageLuma8(canvas).to_rgb8();
    let at = BBox {
        x: off as f32,
        y: off as f32,
        w: r as f32,
        h: r as f32,
    };
    (rgb, at)
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let mut cfg = Settings::read(&args.set.given())?.pipeline;
    cfg.models_dir = args.models.models_dir.clone();
    let mut pipeline = Pipeline::new(&cfg)?;
    let env = runtime::environment(None)?;
    let store = ModelStore::open(&env, &cfg.models_dir)?;
    let model = store
        .manifest()
        .classifier()
        .context("the manifest names no classifier")?
        .to_owned();
    let mut classifier = EmotionClassifier::new(&store, &model, &cfg.classifier)?;
    let root = ferplus::dataset_root(&args.data.data, &ferplus::default_cache())?;
    let samples: Vec<_> = ferplus::load_split(&root, ferplus::TEST_DIR)?
        .into_iter()
        .filter_map(|s| LabelRule::Majority.label(&s.votes).map(|l| (s, l)))
        .collect();
    let faces: Vec<_> = samples.iter().map(|(s, _)| s).collect();
    println!(
        "ferplus_detected: {} FER+ Test faces (majority), detector {:?}, classifier {model}",
        faces.len(),
        cfg.detector.model
    );
    println!("| R | detected | box side / R | classified | node path acc. (classified) | protocol acc. (same faces) | protocol acc. (all) |");
    println!("|---|---|---|---|---|---|---|");
    let mut degrader = Degrader::new(0);
    for &r in &args.resolutions {
        let owned: Vec<ferplus::Sample> = faces
            .iter()
            .map(|s| ferplus::Sample {
                name: s.name.clone(),
                image: s.image.clone(),
                votes: s.votes,
            })
            .collect();
        let protocol = ferplus::predict_probs(
            &mut classifier,
            &owned,
            r,
            &degrade::CLEAN,
            &mut degrader,
            256,
        )?;
        let (mut detected, mut classified, mut node_ok, mut proto_same, mut proto_all) =
            (0usize, 0usize, 0usize, 0usize, 0usize);
        let mut box_side = 0.0f64;
        for ((sample, label), proto) in samples.iter().zip(&protocol) {
            let proto_right = ferplus::argmax(proto) == *label;
            proto_all += usize::from(proto_right);
            let native = degrader.native(&sample.image, r, &degrade::CLEAN);
            let (frame, at) = on_canvas(&native);
            pipeline.reset();
            let out = pipeline.process(&frame)?;
            let centre = |b: &BBox| (b.x + b.w * 0.5, b.y + b.h * 0.5);
            let (cx, cy) = centre(&at);
            let nearest = out
                .faces
                .iter()
                .filter(|f| f.detection.bbox.iou(&at) > 0.2)
                .min_by(|a, b| {
                    let d = |f: &lowres_fer::FaceResult| {
                        let (x, y) = centre(&f.detection.bbox);
                        (x - cx).powi(2) + (y - cy).powi(2)
                    };
                    d(a).total_cmp(&d(b))
                });
            let Some(face) = nearest else { continue };
            detected += 1;
            box_side += face.detection.bbox.w.max(face.detection.bbox.h) as f64 / r as f64;
            if face.state != FaceState::Classified {
                continue;
            }
            classified += 1;
            node_ok += usize::from(ferplus::argmax(&face.probs) == *label);
            proto_same += usize::from(proto_right);
        }
        let n = samples.len().max(1) as f64;
        let pct = |k: usize, of: usize| 100.0 * k as f64 / of.max(1) as f64;
        println!(
            "| {r} | {:.1} % | {:.2} | {:.1} % | {:.2} % | {:.2} % | {:.2} % |",
            100.0 * detected as f64 / n,
            box_side / detected.max(1) as f64,
            100.0 * classified as f64 / n,
            pct(node_ok, classified),
            pct(proto_same, classified),
            100.0 * proto_all as f64 / n
        );
    }
    Ok(())
}
