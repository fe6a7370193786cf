//! Crowd benchmark (issue 24): the 100 WIDER FACE photos of `shared/data/crowds`
//! through the node's frame step, scored with the protocol of that README
//! (crates/lowres_fer_lab/src/crowd.rs). See docs/detection.md ("Crowds").
//!
//! `cargo run --release --bin crowd_bench -- [--shared DIR]
//!  [--models-dir DIR] [--frames 10] [--set NAME=VALUE]...`
//!
//! Parameters are the node's (crates/lowres_fer/src/settings/params.rs), defaults unless `--set` changes
//! them, e.g. `--set detector.model=back --set detector.tiling=all`. Inference
//! runs on one thread unless `--set detector.threads=N`. Prints, per mode
//! (single photo = frame 1; still camera = frame `--frames`), the recall per
//! face-height bucket with the bucket counts, false positives per photo, the
//! share of found faces the quality gate lets through to the classifier, and
//! the mean detect stage and frame step times.

use clap::Parser;
use lowres_fer::frame::FrameStep;
use lowres_fer::pipeline::Pipeline;
use lowres_fer::settings::params::Settings;
use lowres_fer_lab::cli;
use lowres_fer_lab::crowd::{self, CrowdScore};
use lowres_fer_lab::detect_bench::BUCKET_NAMES;

/// Crowd benchmark: the WIDER FACE crowd photos through the node's frame step.
#[derive(Parser, Debug)]
#[command(name = "crowd_bench", args_override_self = true)]
struct Args {
    #[command(flatten)]
    shared: cli::Shared,
    #[command(flatten)]
    models: cli::ModelsDir,
    /// Frames each photo is held for in the still-camera mode
    #[arg(long, value_name = "N", default_value_t = crowd::STILL_FRAMES)]
    frames: usize,
    #[command(flatten)]
    set: cli::ParamSet,
}

fn row(label: &str, s: &CrowdScore, ms: (f64, f64)) {
    let b = &s.buckets;
    let mut cells = String::new();
    for i in 0..6 {
        cells += &format!(" {:>4.2}", b.recall(i));
    }
    let found16: usize = b.found[2..].iter().sum();
    let gated16: usize = s.gated[2..].iter().sum();
    println!(
        "{label:<14}|{cells} | {:>5.2} | {:>6.2} | {:>5.1} | {:>5.1}",
        s.fp_per_photo(),
        gated16 as f64 / found16.max(1) as f64,
        ms.0,
        ms.1
    );
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let dir = crowd::crowds_dir(&args.shared.dir());
    let photos = crowd::load(&dir)?;
    let settings = Settings::read(&args.set.given())?;
    let mut cfg = settings.pipeline;
    cfg.models_dir = args.models.models_dir.clone();
    let d = &cfg.detector;
    println!(
        "crowd_bench: {} photos of {}, {} still frames; detector {:?}, tiling {:?} x{}, input_scale {}, tile_scale {}, scores {}/{}, {} thread(s); gate min_detector_score {}",
        photos.len(),
        dir.display(),
        args.frames,
        d.model,
        d.tiling,
        d.tiles_per_frame,
        d.input_scale,
        d.tile_scale,
        d.score_threshold,
        d.tile_score_threshold,
        d.threads,
        cfg.classifier.min_detector_score,
    );
    let mut step = FrameStep::new(Pipeline::new(&cfg)?);
    let r = crowd::run(&mut step, &photos, args.frames)?;
    let counts: Vec<String> = r
        .still
        .buckets
        .total
        .iter()
        .map(|c| c.to_string())
        .collect();
    println!(
        "{:<14}| {} | FP/ph | gated  | det ms | frame ms",
        "mode",
        BUCKET_NAMES.map(|n| format!("{n:>4}")).join(" ")
    );
    println!("{:<14}| {} (faces per bucket)", "", counts.join(" / "));
    row(
        "single photo",
        &r.single,
        (r.single_detect_ms, r.single_total_ms),
    );
    row(
        &format!("still, frame {}", args.frames),
        &r.still,
        (r.still_detect_ms, r.still_total_ms),
    );
    let mut cells = String::new();
    for i in 0..6 {
        cells += &format!(" {:>4.2}", r.within.recall(i));
    }
    println!("{:<14}|{cells}", format!("within {}", args.frames));
    println!("gated: share of the found faces >= 16 px that the quality gate classifies");
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn command_line_is_consistent() {
        <super::Args as clap::CommandFactory>::command().debug_assert();
    }
}
