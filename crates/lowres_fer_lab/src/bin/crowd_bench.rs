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

use std::path::PathBuf;

use anyhow::Context;
use lowres_fer::frame::FrameStep;
use lowres_fer::pipeline::Pipeline;
use lowres_fer::settings::params::{self, Given, Kind, Settings, Value};
use lowres_fer_lab::crowd::{self, CrowdScore};
use lowres_fer_lab::detect_bench::BUCKET_NAMES;
use lowres_fer_lab::detect_eval as eval;

struct Args {
    shared: PathBuf,
    models: PathBuf,
    frames: usize,
    given: Given,
}

/// `VALUE` typed by the declaration of `name` (what a params file would give).
fn typed(name: &str, value: &str) -> anyhow::Result<Value> {
    let p = params::find(name).with_context(|| format!("--set: unknown parameter {name:?}"))?;
    Ok(match p.kind {
        Kind::Bool => Value::Bool(value.parse().with_context(|| format!("{name}: bool"))?),
        Kind::Int { .. } => Value::Int(value.parse().with_context(|| format!("{name}: integer"))?),
        Kind::Double { .. } => {
            Value::Double(value.parse().with_context(|| format!("{name}: number"))?)
        }
        Kind::Str | Kind::Choice(_) => Value::Str(value.to_string()),
    })
}

fn parse_args() -> anyhow::Result<Args> {
    let mut a = Args {
        shared: eval::default_shared_dir(),
        models: PathBuf::from("models"),
        frames: crowd::STILL_FRAMES,
        given: Given::new(),
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        if flag == "-h" || flag == "--help" {
            println!(
                "crowd_bench [--shared DIR] [--models-dir DIR] [--frames N] [--set NAME=VALUE]..."
            );
            std::process::exit(0);
        }
        let value = it.next().with_context(|| format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--shared" => a.shared = value.into(),
            "--models-dir" => a.models = value.into(),
            "--frames" => a.frames = value.parse().context("--frames")?,
            "--set" => {
                let (name, v) = value.split_once('=').context("--set takes NAME=VALUE")?;
                a.given.insert(name.to_string(), typed(name, v)?);
            }
            other => anyhow::bail!("unknown argument {other:?}"),
        }
    }
    Ok(a)
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
    let args = parse_args()?;
    let dir = crowd::crowds_dir(&args.shared);
    let photos = crowd::load(&dir)?;
    let settings = Settings::read(&args.given)?;
    let mut cfg = settings.pipeline;
    cfg.models_dir = args.models.clone();
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
