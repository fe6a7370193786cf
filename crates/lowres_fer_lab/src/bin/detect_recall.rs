//! Multi-scale recall benchmark (see docs/detection.md, "Crowds: the multi-scale
//! benchmark").
//!
//! `cargo run --release --bin detect_recall -- [--shared DIR] [--models-dir DIR]
//!  [--modes m1,m2,..] [--frames N] [--seq-frames N] [--sizes vga,720p] [--draw DIR]`
//!
//! Builds VGA and 720p mosaics of the labelled shared photos with faces of 8 to
//! ~120 px (`lowres_fer_lab::detect_bench`), runs each detector mode on them on one
//! thread and prints recall per face-height bucket (IoU >= 0.4), false positives
//! per image and ms per frame: on the first frame of each still, within `--frames`
//! frames of a still camera (detections fed back as hints, as the tracker does),
//! and on a moving sequence (camera panning and zooming in over `--seq-frames`
//! frames; a face counts when it was detected within the last `--frames` frames).
//!
//! `--dump-labels` prints the all-tiles detections of the photos that have no
//! boxes in the shared data, as `file x y w h` lines: the starting point of
//! `tests/data/scene_faces.txt`, which was then checked by drawing (`--draw`).
//! `--list-fp` lists each mode's false positives on the stills; `--timing`
//! times the modes interleaved frame by frame; `--gate` counts the detections
//! the classifier's quality gate would pass.

use std::path::Path;

use anyhow::Context;
use clap::Parser;
use lowres_fer::detect::FaceDetector;
use lowres_fer::models::ModelStore;
use lowres_fer::settings::config::{DetectorConfig, TilingMode};
use lowres_fer::{BBox, Detection};
use lowres_fer_lab::cli;
use lowres_fer_lab::detect_bench::{self as bench, BenchResult, Buckets, Scene, BUCKET_NAMES};

/// Multi-scale recall benchmark on mosaics of the labelled shared photos.
#[derive(Parser, Debug)]
#[command(name = "detect_recall", args_override_self = true)]
struct Args {
    #[command(flatten)]
    shared: cli::Shared,
    #[command(flatten)]
    models: cli::ModelsDir,
    /// Detector modes (comma-separated): default, no_redetect, blazeface, full, rotating1-3, all,
    /// pyramid<N>, pyramid_all
    #[arg(long, value_name = "LIST", value_parser = cli::comma_list::<String>,
          default_value = "blazeface,default")]
    modes: ::std::vec::Vec<String>,
    /// Frames of a still camera (and the moving sequence's window)
    #[arg(long, value_name = "N", default_value_t = 10)]
    frames: usize,
    /// Frames of the moving sequence
    #[arg(long, value_name = "N", default_value_t = 40)]
    seq_frames: usize,
    /// Frame sizes (comma-separated: vga, 720p)
    #[arg(long, value_name = "LIST", value_parser = size_list, default_value = "vga,720p")]
    sizes: ::std::vec::Vec<(u32, u32)>,
    #[command(flatten)]
    draw: cli::Draw,
    /// Print the all-tiles detections of the photos without boxes, as `file x y w h` lines
    #[arg(long)]
    dump_labels: bool,
    /// List each mode's false positives on the stills
    #[arg(long)]
    list_fp: bool,
    /// Time the modes interleaved frame by frame
    #[arg(long)]
    timing: bool,
    /// Count the detections the classifier's quality gate would pass
    #[arg(long)]
    gate: bool,
}

fn size_list(text: &str) -> anyhow::Result<Vec<(u32, u32)>> {
    text.split(',')
        .map(|s| match s {
            "vga" => Ok((640, 480)),
            "720p" => Ok((1280, 720)),
            o => anyhow::bail!("unknown size {o} (vga, 720p)"),
        })
        .collect()
}

/// Named detector configurations (all on one thread).
fn mode(name: &str) -> anyhow::Result<DetectorConfig> {
    // The node's defaults (RetinaFace); the other modes are BlazeFace's, at
    // its tile threshold (config/close_range.yaml).
    let default = DetectorConfig {
        threads: 1,
        ..Default::default()
    };
    let base = lowres_fer_lab::detect_eval::close_range(default.clone());
    Ok(match name {
        // The default without the re-detection around tracked faces (before it).
        "no_redetect" => DetectorConfig {
            redetect_tracked: false,
            ..default
        },
        // RetinaFace's default before the pyramid sweep: the full frame every
        // frame plus 2 upscaled tiles, scores 0.5 / 0.7.
        "retina_rotating" => DetectorConfig {
            tiling: TilingMode::Rotating,
            score_threshold: 0.5,
            tile_score_threshold: 0.7,
            ..default
        },
        "default" => default,
        // BlazeFace's profile (config/close_range.yaml), the default before issue 24.
        "blazeface" => base,
        "full" => DetectorConfig {
            tiling: TilingMode::Off,
            ..base
        },
        "rotating1" => DetectorConfig {
            tiling: TilingMode::Rotating,
            tiles_per_frame: 1,
            ..base
        },
        "rotating2" => DetectorConfig {
            tiling: TilingMode::Rotating,
            tiles_per_frame: 2,
            ..base
        },
        "rotating3" => DetectorConfig {
            tiling: TilingMode::Rotating,
            tiles_per_frame: 3,
            ..base
        },
        "all" => DetectorConfig {
            tiling: TilingMode::All,
            ..base
        },
        p if p.starts_with("pyramid") => {
            // pyramid<N>: N regions per frame; pyramid_all: every region.
            let n = match &p["pyramid".len()..] {
                "_all" => 64,
                n => n
                    .parse()
                    .with_context(|| format!("mode {p}: pyramid<N> or pyramid_all"))?,
            };
            DetectorConfig {
                tiling: TilingMode::Pyramid,
                tiles_per_frame: n,
                ..base
            }
        }
        other => anyhow::bail!("unknown mode {other}"),
    })
}

fn cell(b: &Buckets, i: usize) -> String {
    if b.total[i] == 0 {
        "-".into()
    } else {
        format!("{:.2} ({})", b.recall(i), b.total[i])
    }
}

fn row(label: &str, b: &Buckets, r: &BenchResult) -> String {
    let cells: Vec<String> = (0..6).map(|i| cell(b, i)).collect();
    format!(
        "| {label} | {} | {:.2} | {:.1} | {:.1} | {:.2} |",
        cells.join(" | "),
        r.fp_per_image(),
        r.ms_per_frame(),
        r.max_ms,
        r.runs_per_frame()
    )
}

fn dump_labels(store: &ModelStore, shared: &Path, draw_dir: Option<&Path>) -> anyhow::Result<()> {
    let cfg = DetectorConfig {
        tiling: TilingMode::All,
        threads: 1,
        ..Default::default()
    };
    let mut det = FaceDetector::new(store, &cfg)?;
    for file in ["solvay1927.jpg", "pexels_group3.jpg", "pexels_group7.jpg"] {
        let p = shared.join("data/scenes").join(file);
        let img = image::open(&p)
            .with_context(|| format!("cannot open {}", p.display()))?
            .to_rgb8();
        let mut dets: Vec<Detection> = det.detect(&img, &[])?;
        dets.sort_by(|a, b| {
            (a.bbox.y, a.bbox.x)
                .partial_cmp(&(b.bbox.y, b.bbox.x))
                .unwrap_or(std::cmp::Ordering::Equal)
        });
        for d in &dets {
            println!(
                "{file} {:.0} {:.0} {:.0} {:.0}  # score {:.2}",
                d.bbox.x, d.bbox.y, d.bbox.w, d.bbox.h, d.score
            );
        }
        if let Some(dir) = draw_dir {
            let mut c = img.clone();
            let boxes: Vec<BBox> = dets.iter().map(|d| d.bbox).collect();
            bench::draw_boxes(&mut c, &boxes, [255, 0, 0]);
            std::fs::create_dir_all(dir)?;
            c.save(dir.join(format!("labels_{file}.png")))?;
        }
    }
    Ok(())
}

/// `--timing`: the modes interleaved frame by frame on the same VGA and 720p
/// mosaics (faces ~22 px, detections fed back as hints), so that load from other
/// processes hits every mode alike; prints median and p90 ms per frame.
fn time_modes(
    store: &ModelStore,
    sources: &[lowres_fer_lab::detect_eval::LabelledImage],
    modes: &[String],
) -> anyhow::Result<()> {
    const FRAMES: usize = 60;
    for size in bench::FRAME_SIZES {
        let scene = bench::mosaic(sources, size, 22.0, 4);
        let mut dets = Vec::new();
        for m in modes {
            dets.push((
                FaceDetector::new(store, &mode(m)?)?,
                lowres_fer_lab::detect_eval::HintMemory::default(),
                Vec::with_capacity(FRAMES),
            ));
        }
        for _ in 0..FRAMES {
            for (det, memory, times) in dets.iter_mut() {
                let t = std::time::Instant::now();
                let found = det.detect(&scene.image, memory.hints())?;
                times.push(t.elapsed().as_secs_f64() * 1000.0);
                memory.update(&found, lowres_fer_lab::detect_eval::KEEP_FRAMES);
            }
        }
        println!(
            "{}x{} ({} faces), {FRAMES} frames interleaved:",
            size.0,
            size.1,
            scene.faces.len()
        );
        for (m, (_, _, times)) in modes.iter().zip(dets.iter_mut()) {
            times.sort_by(f64::total_cmp);
            println!(
                "  {m:<12} median {:.1} ms, p90 {:.1} ms",
                times[FRAMES / 2],
                times[FRAMES * 9 / 10]
            );
        }
    }
    Ok(())
}

/// `--gate`: which detections of the still mosaics (each mode, `frames` frames
/// per still, >= 8 px as `classifier.min_face_px`) the classifier's quality gate
/// would pass, for matched faces and for false positives, under the current rule
/// and lower score floors with the keypoint test.
fn gate_table(
    store: &ModelStore,
    sources: &[lowres_fer_lab::detect_eval::LabelledImage],
    modes: &[String],
    frames: usize,
) -> anyhow::Result<()> {
    use lowres_fer::classify::gate::plausible_face;
    type Rule = (&'static str, fn(&Detection) -> bool);
    let rules: [Rule; 5] = [
        ("score >= 0.8 || (>= 0.66 && plausible) [current]", |d| {
            d.score >= 0.8 || (d.score >= 0.66 && plausible_face(d))
        }),
        ("score >= 0.8 || (>= 0.6 && plausible)", |d| {
            d.score >= 0.8 || (d.score >= 0.6 && plausible_face(d))
        }),
        ("score >= 0.8 || (>= 0.5 && plausible)", |d| {
            d.score >= 0.8 || (d.score >= 0.5 && plausible_face(d))
        }),
        ("plausible alone", plausible_face),
        ("score >= 0.66 alone", |d| d.score >= 0.66),
    ];
    for m in modes {
        let cfg = mode(m)?;
        for &size in &bench::FRAME_SIZES {
            let stills = bench::still_scenes(sources, &[size]);
            let (mut real, mut fp): (Vec<Detection>, Vec<Detection>) = (Vec::new(), Vec::new());
            let mut found = Vec::new();
            for s in &stills {
                let mut det = FaceDetector::new(store, &cfg)?;
                let mut memory = lowres_fer_lab::detect_eval::HintMemory::default();
                for _ in 0..frames.max(1) {
                    let dets = det.detect(&s.image, memory.hints())?;
                    memory.update(&dets, lowres_fer_lab::detect_eval::KEEP_FRAMES);
                    for d in dets.iter().filter(|d| d.bbox.w.max(d.bbox.h) >= 8.0) {
                        if bench::match_scene(s, std::slice::from_ref(d), &mut found) > 0 {
                            fp.push(*d);
                        } else if found.iter().any(|&f| f) {
                            real.push(*d);
                        }
                    }
                }
            }
            println!(
                "{m}, {}x{}: {} detections of labelled faces, {} false positives (all frames)",
                size.0,
                size.1,
                real.len(),
                fp.len()
            );
            for (name, rule) in &rules {
                let r = real.iter().filter(|d| rule(d)).count();
                let f = fp.iter().filter(|d| rule(d)).count();
                println!(
                    "  {name:<48} faces kept {:.2} ({r}/{}), false positives kept {f}/{}",
                    r as f64 / real.len().max(1) as f64,
                    real.len(),
                    fp.len()
                );
            }
        }
    }
    Ok(())
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let shared = args.shared.dir();
    let draw_dir = args.draw.draw.as_deref();
    let env = lowres_fer::models::runtime::environment(None)?;
    let store = ModelStore::open(&env, &args.models.models_dir)?;
    if args.dump_labels {
        return dump_labels(&store, &shared, draw_dir);
    }
    let sources = bench::load_sources(&shared)?;
    if args.timing {
        return time_modes(&store, &sources, &args.modes);
    }
    if args.gate {
        return gate_table(&store, &sources, &args.modes, args.frames);
    }
    println!(
        "sources: {} photos, {} labelled faces; match IoU >= {}; detector threads = 1",
        sources.len(),
        sources.iter().map(|s| s.faces.len()).sum::<usize>(),
        bench::BENCH_IOU
    );
    for &size in &args.sizes {
        size_table(&store, &sources, size, &args, draw_dir)?;
    }
    Ok(())
}

/// The recall table of one frame size: every mode on the stills and the moving sequence.
fn size_table(
    store: &ModelStore,
    sources: &[lowres_fer_lab::detect_eval::LabelledImage],
    size: (u32, u32),
    args: &Args,
    draw_dir: Option<&Path>,
) -> anyhow::Result<()> {
    let stills = bench::still_scenes(sources, &[size]);
    let seq = bench::moving_sequence(sources, size, args.seq_frames);
    let mut labelled = Buckets::default();
    for s in &stills {
        for b in &s.faces {
            labelled.count(b.h, true);
        }
    }
    println!(
        "\n{}x{}: {} still frames, faces per bucket {:?}; moving: {} frames, {}-{} faces visible",
        size.0,
        size.1,
        stills.len(),
        labelled.total,
        seq.frames.len(),
        seq.frames.iter().map(|f| f.faces.len()).min().unwrap_or(0),
        seq.frames.iter().map(|f| f.faces.len()).max().unwrap_or(0),
    );
    if let Some(dir) = draw_dir {
        std::fs::create_dir_all(dir)?;
        for s in stills.iter().chain(seq.frames.iter().step_by(10)) {
            let mut c = s.image.clone();
            bench::draw_boxes(&mut c, &s.faces, [0, 255, 0]);
            bench::draw_boxes(&mut c, &s.ignore, [255, 255, 0]);
            c.save(dir.join(format!("{}.png", s.name)))?;
        }
    }
    println!(
        "| mode, set | {} | FP/image | ms/frame | max ms | runs/frame |",
        BUCKET_NAMES.join(" | ")
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|");
    for m in &args.modes {
        mode_rows(store, m, &stills, &seq, args, draw_dir)?;
    }
    Ok(())
}

/// One mode's rows: the stills' first frame (and within `--frames` frames for
/// the sweeping modes), then the moving sequence.
fn mode_rows(
    store: &ModelStore,
    m: &str,
    stills: &[Scene],
    seq: &bench::Sequence,
    args: &Args,
    draw_dir: Option<&Path>,
) -> anyhow::Result<()> {
    let frames = args.frames;
    let cfg = mode(m)?;
    let mut make = || FaceDetector::new(store, &cfg);
    let one = bench::run_stills(&mut make, stills, 1)?;
    if args.list_fp {
        list_false_positives(m, stills, &one);
    }
    if let Some(dir) = draw_dir {
        draw_first_frames(dir, m, stills, &one)?;
    }
    println!("{}", row(&format!("{m}, still 1 frame"), &one.first, &one));
    if matches!(cfg.tiling, TilingMode::Rotating | TilingMode::Pyramid) {
        let r = bench::run_stills(&mut make, stills, frames)?;
        println!(
            "{}",
            row(&format!("{m}, still within {frames} frames"), &r.within, &r)
        );
    }
    let mut det = make()?;
    let r = bench::run_sequence(&mut det, seq, frames)?;
    println!("{}", row(&format!("{m}, moving, this frame"), &r.first, &r));
    println!(
        "{}",
        row(
            &format!("{m}, moving, within {frames} frames"),
            &r.within,
            &r
        )
    );
    Ok(())
}

/// `--list-fp`: the false positives of the stills' first frame.
fn list_false_positives(m: &str, stills: &[Scene], one: &BenchResult) {
    let mut found = Vec::new();
    for (s, dets) in stills.iter().zip(&one.last) {
        for d in dets {
            if bench::match_scene(s, std::slice::from_ref(d), &mut found) > 0 {
                let near = s.faces.iter().map(|f| f.iou(&d.bbox)).fold(0.0, f32::max);
                println!(
                    "  FP {m} {}: {:.0} {:.0} {:.0}x{:.0} score {:.2}, best IoU with a face {:.2}",
                    s.name, d.bbox.x, d.bbox.y, d.bbox.w, d.bbox.h, d.score, near
                );
            }
        }
    }
}

/// `--draw`: detections of the first frame, red where they are false
/// positives, blue where they match a face or an ignored box.
fn draw_first_frames(
    dir: &Path,
    m: &str,
    stills: &[Scene],
    one: &BenchResult,
) -> anyhow::Result<()> {
    let mut found = Vec::new();
    for (s, dets) in stills.iter().zip(&one.last) {
        let mut c = s.image.clone();
        bench::draw_boxes(&mut c, &s.faces, [0, 255, 0]);
        bench::draw_boxes(&mut c, &s.ignore, [255, 255, 0]);
        for d in dets {
            let fp = bench::match_scene(s, std::slice::from_ref(d), &mut found) > 0;
            let colour = if fp { [255, 0, 0] } else { [0, 0, 255] };
            bench::draw_boxes(&mut c, &[d.bbox], colour);
        }
        c.save(dir.join(format!("{m}_{}.png", s.name)))?;
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
    fn defaults() {
        let a = Args::parse_from(["detect_recall"]);
        assert_eq!(a.modes, ["blazeface", "default"]);
        assert_eq!(a.sizes, bench::FRAME_SIZES);
        assert_eq!((a.frames, a.seq_frames), (10, 40));
        for m in &a.modes {
            mode(m).unwrap();
        }
    }
}
