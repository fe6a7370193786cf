//! Offline per-stage benchmark of the frame step (issue 12): no ROS, the node's
//! own code path from a raw rgb8 VGA payload to the emotions message.
//!
//! `cargo run --release --bin frame_bench -- [--shared DIR] [--models-dir DIR]
//!  [--faces 0,1,5,10] [--frames 300] [--threads 1] [--write-frames DIR]
//!  [--precision fp32|int8|fp16] [--detectors default,close_range] [--set NAME=VALUE]...`
//!
//! For each face count N it builds one 640x480 frame: a heavily blurred real
//! photo as background (no face survives the blur) with N real faces pasted on
//! it, cut with context from the labelled dlib photos of the shared scenes and
//! scaled to 40-64 px. It runs the frame `--frames` times through
//! [`FrameStep`] (decode, detect, gate + align, classify, track) with the
//! default parameters on `--threads` inference threads and prints p50 / p99 /
//! max per stage, plus the faces classified per frame. Timed, not asserted:
//! figures go to docs/realtime.md with the machine they were measured on.
//! `--write-frames DIR` saves the frames as `DIR/vga_<N>faces.png`: the live
//! benchmark (scripts/latency_bench.sh) publishes exactly these.
//! `--detectors default,close_range` runs every face count with each detector
//! set-up in turn, in one run: the defaults (RetinaFace) and BlazeFace's
//! config/close_range.yaml, for before/after ratios on the same machine state.
//! `--set NAME=VALUE` changes a node parameter under every set-up (e.g.
//! `--set detector.input_scale=0.5`).

use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, ValueEnum};
use image::{imageops, RgbImage};
use lowres_fer::frame::FrameStep;
use lowres_fer::pipeline::Pipeline;
use lowres_fer::settings::config::{PipelineConfig, Precision};
use lowres_fer::settings::params::Settings;
use lowres_fer::FaceState;
use lowres_fer_lab::detect_eval as eval;
use lowres_fer_lab::{cli, still_camera};

/// Offline per-stage benchmark of the frame step: VGA frames with N real faces, no ROS.
#[derive(Parser, Debug)]
#[command(name = "frame_bench", args_override_self = true)]
struct Args {
    #[command(flatten)]
    shared: cli::Shared,
    #[command(flatten)]
    models: cli::ModelsDir,
    /// Face counts, one frame each (comma-separated)
    #[arg(long, value_name = "LIST", value_parser = cli::comma_list::<usize>,
          default_value = "0,1,5,10")]
    faces: ::std::vec::Vec<usize>,
    /// Timed frames per case (after 10 warm-up frames), at least 10
    #[arg(long, value_name = "N", default_value_t = 300, value_parser = at_least_10)]
    frames: usize,
    #[command(flatten)]
    threads: cli::Threads,
    /// Also save each frame as DIR/vga_<N>faces.png
    #[arg(long, value_name = "DIR")]
    write_frames: Option<PathBuf>,
    /// Emotion model variant (the node's classifier.precision)
    #[arg(long, value_name = "PRECISION", default_value = "fp32",
          value_parser = cli::choice::<Precision>("classifier.precision"))]
    precision: Precision,
    /// Detector set-ups, run in turn on every face count (comma-separated: default, the
    /// node's defaults; close_range, BlazeFace's config/close_range.yaml)
    #[arg(long, value_name = "LIST", value_parser = detector_list, default_value = "default")]
    detectors: ::std::vec::Vec<Detectors>,
    #[command(flatten)]
    set: cli::ParamSet,
}

/// A detector set-up of `--detectors`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
#[value(rename_all = "snake_case")]
enum Detectors {
    /// The node's defaults (RetinaFace)
    Default,
    /// BlazeFace's config/close_range.yaml, the default before issue 24
    CloseRange,
}

/// `default,close_range`: one value, so a repeated flag replaces the list.
fn detector_list(text: &str) -> anyhow::Result<Vec<Detectors>> {
    text.split(',')
        .map(|s| {
            Detectors::from_str(s.trim(), false).map_err(|_| {
                let names: Vec<_> = Detectors::value_variants()
                    .iter()
                    .filter_map(|d| d.to_possible_value())
                    .map(|v| v.get_name().to_string())
                    .collect();
                anyhow::anyhow!("--detectors: unknown {s:?} ({})", names.join(", "))
            })
        })
        .collect()
}

fn at_least_10(text: &str) -> anyhow::Result<usize> {
    let n: usize = text.parse()?;
    anyhow::ensure!(n >= 10, "--frames must be >= 10");
    Ok(n)
}

/// Real faces with context (box side x 1.6), each scaled to a 40-64 px face.
fn face_patches(dlib: &[eval::LabelledImage]) -> Vec<RgbImage> {
    let mut out = Vec::new();
    for (i, li) in dlib.iter().enumerate() {
        for (j, b) in li.faces.iter().enumerate() {
            let side = b.w.max(b.h) * 1.6;
            let (cx, cy) = b.center();
            let x0 = (cx - side / 2.0).max(0.0) as u32;
            let y0 = (cy - side / 2.0).max(0.0) as u32;
            let s = (side as u32)
                .min(li.image.width().saturating_sub(x0))
                .min(li.image.height().saturating_sub(y0));
            if s < 8 {
                continue;
            }
            let face_px = 40 + ((i * 7 + j * 5) % 25) as u32;
            let target = (face_px as f32 * 1.6) as u32;
            let crop = imageops::crop_imm(&li.image, x0, y0, s, s).to_image();
            out.push(imageops::resize(
                &crop,
                target,
                target,
                imageops::FilterType::Triangle,
            ));
        }
    }
    out
}

/// 640x480: a blurred real photo with `n` pasted faces on a grid.
fn frame_with(n: usize, background: &RgbImage, patches: &[RgbImage]) -> RgbImage {
    let mut frame = background.clone();
    let (cols, rows) = (5u32, 3u32);
    for k in 0..n {
        let p = &patches[k % patches.len()];
        let (c, r) = (k as u32 % cols, (k as u32 / cols) % rows);
        let x = 20 + c * 124 + (k as u32 * 13) % 20;
        let y = 30 + r * 150 + (k as u32 * 17) % 30;
        imageops::replace(&mut frame, p, x as i64, y as i64);
    }
    frame
}

fn pct(sorted: &[f64], q: f64) -> f64 {
    let i = ((sorted.len() - 1) as f64 * q).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let shared = args.shared.dir();
    let dlib = eval::load_dlib(&shared)?;
    let patches = face_patches(&dlib);
    anyhow::ensure!(
        !patches.is_empty(),
        "no labelled faces under {}",
        shared.display()
    );
    let first = &dlib[0].image;
    let background = imageops::blur(
        &imageops::resize(first, 640, 480, imageops::FilterType::Triangle),
        14.0,
    );

    // The node's parameters, defaults unless --set changes them.
    let mut base = Settings::read(&args.set.given())?.pipeline;
    base.models_dir = args.models.models_dir.clone();
    base.detector.threads = args.threads.threads;
    base.classifier.threads = args.threads.threads;
    base.classifier.precision = args.precision;
    for &set_up in &args.detectors {
        let mut cfg = base.clone();
        let name = match set_up {
            Detectors::Default => "default",
            // config/close_range.yaml: BlazeFace, the default before issue 24.
            Detectors::CloseRange => {
                cfg.detector = lowres_fer_lab::detect_eval::close_range(cfg.detector);
                "close_range"
            }
        };
        run_cases(&args, &cfg, name, &background, &patches)?;
    }
    Ok(())
}

fn run_cases(
    args: &Args,
    cfg: &PipelineConfig,
    name: &str,
    background: &RgbImage,
    patches: &[RgbImage],
) -> anyhow::Result<()> {
    println!(
        "frame_bench [{name}]: 640x480 rgb8, {} frames per case, {} inference thread(s), detector {:?} (tiling {:?} x{}), routing {:?}, precision {:?}",
        args.frames, args.threads.threads, cfg.detector.model, cfg.detector.tiling, cfg.detector.tiles_per_frame, cfg.classifier.routing, cfg.classifier.precision
    );
    println!(
        "{:>5} {:>6} | {:>17} | {:>17} | {:>17} | {:>17} | {:>17} | {:>17}",
        "faces",
        "class.",
        "decode p50/p99",
        "detect p50/p99",
        "align p50/p99",
        "classify p50/p99",
        "track p50/p99",
        "total p50/p99/max"
    );
    for &n in &args.faces {
        let frame = frame_with(n, background, patches);
        if let Some(dir) = &args.write_frames {
            std::fs::create_dir_all(dir)?;
            let path = dir.join(format!("vga_{n}faces.png"));
            frame
                .save(&path)
                .with_context(|| format!("cannot write {}", path.display()))?;
        }
        let mut step = FrameStep::new(Pipeline::new(cfg)?);
        let mut cols: [Vec<f64>; 6] = Default::default();
        let mut classified = 0usize;
        for i in 0..args.frames + 10 {
            let out = step
                .process(
                    still_camera::header(0, i, "camera"),
                    still_camera::rgb8(&frame),
                    false,
                )
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            if i < 10 {
                continue; // warm-up: sessions, allocations, tracks confirmed
            }
            classified += out
                .faces
                .iter()
                .filter(|f| f.state == FaceState::Classified)
                .count();
            let t = out.timings;
            for (col, v) in cols.iter_mut().zip([
                t.decode_ms,
                t.stages.detect_ms,
                t.stages.align_ms,
                t.stages.classify_ms,
                t.stages.track_ms,
                t.processing_ms,
            ]) {
                col.push(v);
            }
        }
        for c in &mut cols {
            c.sort_by(f64::total_cmp);
        }
        let cell = |c: &[f64]| format!("{:>7.2} / {:>7.2}", pct(c, 0.5), pct(c, 0.99));
        println!(
            "{:>5} {:>6.1} | {} | {} | {} | {} | {} | {} / {:.2}",
            n,
            classified as f64 / args.frames as f64,
            cell(&cols[0]),
            cell(&cols[1]),
            cell(&cols[2]),
            cell(&cols[3]),
            cell(&cols[4]),
            cell(&cols[5]),
            cols[5].last().copied().unwrap_or(0.0)
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn command_line_is_consistent() {
        <Args as clap::CommandFactory>::command().debug_assert();
    }

    #[test]
    fn defaults_and_lists() {
        let a = Args::parse_from(["frame_bench"]);
        assert_eq!((a.faces.as_slice(), a.frames), (&[0, 1, 5, 10][..], 300));
        assert_eq!(
            (a.precision, a.detectors.as_slice()),
            (Precision::Fp32, &[Detectors::Default][..])
        );
        let a = Args::parse_from([
            "frame_bench",
            "--faces",
            "3",
            "--faces",
            "1,2",
            "--precision",
            "int8",
            "--detectors",
            "default,close_range",
        ]);
        assert_eq!(a.faces, [1, 2]);
        assert_eq!(a.precision, Precision::Int8);
        assert_eq!(a.detectors, [Detectors::Default, Detectors::CloseRange]);
        assert!(Args::try_parse_from(["frame_bench", "--frames", "9"]).is_err());
        assert!(Args::try_parse_from(["frame_bench", "--precision", "fp64"]).is_err());
    }
}
