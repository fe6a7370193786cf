//! lowres_fer_bag: offline facial-emotion evaluation of a rosbag2 recording.
//! See `lowres_fer_bag --help` and docs/rosbag.md.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use lowres_fer::sanitize;
use lowres_fer::settings::config::{DetectorModel, PipelineConfig, Routing, TilingMode};
use lowres_fer::settings::params::{self, Settings};
use lowres_fer_bag::offline::{self, Annotated, Options};
use lowres_fer_bag::reader::Bag;

const HELP: &str = "\
lowres_fer_bag: run the lowres_fer pipeline (the node's, frame for frame) on every
image of a rosbag2 recording, without a ROS graph.

USAGE
  lowres_fer_bag INPUT --output OUT [OPTIONS]
  lowres_fer_bag INPUT --list-topics

INPUT  a rosbag2 directory (metadata.yaml + .mcap or .db3 files), or one .mcap
       or .db3 file. Storage: MCAP (any chunk compression) or SQLite3.
       Topic type: sensor_msgs/msg/Image (rgb8, bgr8, rgba8, bgra8, mono8,
       mono16, yuv422/uyvy, yuyv) or sensor_msgs/msg/CompressedImage (JPEG/PNG).

OUT    a new rosbag2 directory (MCAP storage) holding
         OUT/metadata.yaml, OUT/<name>_0.mcap   (open the .mcap in Foxglove)
           <ns>/emotions          lowres_fer/msg/FaceEmotionArray, one per frame
           <ns>/image_annotated   sensor_msgs/msg/Image rgb8 (see --annotated)
           the input topic        with --copy-input
         every message at the input message's recorded time; headers copied;
         OUT/summary.json   frames, faces per frame, per-stage timings, per-track
                            emotion timelines, ground-truth metrics
         OUT/frames.csv     one row per frame (faces, stage timings)
         OUT/tracks.csv     one row per face per frame, sorted by track
       It is written to a temporary directory and renamed when complete: on any
       error nothing is left behind.

OPTIONS
  -o, --output OUT          output bag directory (must not exist, see --overwrite)
  -t, --topic NAME          image topic (default: the bag's only image topic)
      --list-topics         print the bag's topics and exit
      --overwrite           replace OUT if it is a previous result of this tool (it
                            holds the .lowres_fer_bag_output marker and only the files
                            listed there); never OUT = the input or a directory
                            holding it. The old result goes only after success
      --namespace NS        namespace of the output topics (default /lowres_fer)
      --annotated MODE      raw (default; rgb8 Image like the node), jpeg
                            (CompressedImage on <ns>/image_annotated/compressed), none
      --copy-input          also copy the input images into the output bag
      --ground-truth FILE   score against a sidecar of per-frame boxes and labels
                            (format: docs/rosbag.md); metrics go to summary.json
      --gt-iou X            IoU for a detection to match a ground-truth box (0.5)
      --deterministic       write every timing as 0: repeated runs give
                            byte-identical output (all other values are identical anyway)
      --skip-bad-frames     skip frames that fail to decode (counted) instead of failing
      --max-frames N        stop after N frames
      --max-pixels N        pixel budget per frame, checked from the header before
                            decoding (default: input.max_pixels of --params-file,
                            else 16777216 = 4096x4096, the node's default); a larger
                            frame is a bad frame
      --report              also write OUT/report.html: one self-contained page (no
                            external URL) with the summary figures, per-track emotion
                            timelines (stacked probabilities over time), face size over
                            time and face thumbnails; bounded: 120 time bins per track,
                            the 12 longest of at most 64 followed tracks, 24 thumbnails
      --quiet               no progress line on stderr
  Pipeline (defaults = the node's defaults, config/default.yaml):
      --params-file FILE    a node parameter file (ros__parameters: detector.*, classifier.*,
                            tracking.*, models_dir, onnxruntime_library), checked like the
                            node checks it; flags below override it
      --models-dir DIR      ONNX models + manifest.json (default: models_dir of the params
                            file; empty: share/lowres_fer/models of the install, else ./models)
      --onnxruntime-library FILE   libonnxruntime.so (default $ORT_DYLIB_PATH)
      --threads N           ONNX Runtime threads for detector and classifier (default 1)
      --detector-model M    front | back
      --tiling M            off | rotating | all
      --routing M           off | face_size | learned
      --no-tracking         no face ids and no smoothing
  -h, --help                this text

EXIT STATUS
  0 success, 1 error (unreadable/corrupt/truncated bag, unknown topic or message
  type, undecodable frame, model or I/O failure), 2 bad command line.

EXAMPLE
  scripts/env.sh lowres_fer_bag recording/ -t /camera/image_raw -o eval_v2 --ground-truth gt.json
";

struct UsageError(String);

/// A pipeline flag, applied after --params-file so flags win whatever their order.
type ConfigEdit = Box<dyn Fn(&mut PipelineConfig)>;

fn value(args: &mut std::vec::IntoIter<String>, flag: &str) -> Result<String, UsageError> {
    args.next()
        .ok_or_else(|| UsageError(format!("{flag} needs a value")))
}

fn parse_enum<T: serde::de::DeserializeOwned>(flag: &str, v: &str) -> Result<T, UsageError> {
    serde_json::from_value(serde_json::Value::String(v.to_string()))
        .map_err(|_| UsageError(format!("{flag}: invalid value '{v}'")))
}

/// Settings from a node parameter file, read and checked exactly as the node
/// reads its parameters (unknown names: a warning, then ignored).
fn params_file(path: &Path) -> Result<Settings> {
    let given = lowres_fer_bag::params_file::read_params_file(path)?;
    for unknown in params::unknown_names(&given) {
        eprintln!(
            "lowres_fer_bag: warning: {}: ignoring unknown parameter '{}' (typo in a params file?)",
            sanitize::wire_max(&path.to_string_lossy(), 200),
            sanitize::wire(&unknown)
        );
    }
    Settings::read(&given).with_context(|| format!("{}", path.display()))
}

enum Command {
    Run(Box<Options>),
    ListTopics(PathBuf),
    Help,
}

fn parse(argv: Vec<String>) -> Result<Command, UsageError> {
    let mut args = argv.into_iter();
    let mut input: Option<PathBuf> = None;
    let mut output: Option<PathBuf> = None;
    let mut list = false;
    let mut cfg_file: Option<PathBuf> = None;
    let mut edits: Vec<ConfigEdit> = Vec::new();
    let mut o = Options {
        input: PathBuf::new(),
        topic: None,
        output: PathBuf::new(),
        overwrite: false,
        pipeline: Settings::defaults().pipeline,
        namespace: "/lowres_fer".into(),
        annotated: Annotated::Raw,
        copy_input: false,
        ground_truth: None,
        gt_iou: 0.5,
        deterministic: false,
        skip_bad_frames: false,
        max_frames: None,
        max_pixels: lowres_fer::imaging::io::DEFAULT_MAX_PIXELS,
        progress: true,
        report: false,
    };
    // --max-pixels, when given, wins over the params file's input.max_pixels.
    let mut max_pixels_flag: Option<u64> = None;
    while let Some(a) = args.next() {
        match a.as_str() {
            "-h" | "--help" => return Ok(Command::Help),
            "-o" | "--output" => output = Some(value(&mut args, &a)?.into()),
            "-t" | "--topic" => o.topic = Some(value(&mut args, &a)?),
            "--list-topics" => list = true,
            "--overwrite" => o.overwrite = true,
            "--namespace" => o.namespace = value(&mut args, &a)?,
            "--annotated" => {
                o.annotated = match value(&mut args, &a)?.as_str() {
                    "raw" => Annotated::Raw,
                    "jpeg" => Annotated::Jpeg,
                    "none" => Annotated::None,
                    v => {
                        return Err(UsageError(format!(
                            "--annotated: '{v}' is not raw, jpeg or none"
                        )))
                    }
                }
            }
            "--copy-input" => o.copy_input = true,
            "--ground-truth" => o.ground_truth = Some(value(&mut args, &a)?.into()),
            "--gt-iou" => {
                let v = value(&mut args, &a)?;
                o.gt_iou = v
                    .parse()
                    .ok()
                    .filter(|x: &f32| (0.0..=1.0).contains(x) && *x > 0.0)
                    .ok_or_else(|| UsageError(format!("--gt-iou: '{v}' is not in (0, 1]")))?;
            }
            "--deterministic" => o.deterministic = true,
            "--skip-bad-frames" => o.skip_bad_frames = true,
            "--max-frames" => {
                let v = value(&mut args, &a)?;
                o.max_frames = Some(
                    v.parse()
                        .map_err(|_| UsageError(format!("--max-frames: '{v}' is not a count")))?,
                );
            }
            "--max-pixels" => {
                let v = value(&mut args, &a)?;
                let max = lowres_fer::imaging::io::MAX_PIXELS_LIMIT;
                max_pixels_flag = v
                    .parse()
                    .ok()
                    .filter(|n| (1..=max).contains(n))
                    .ok_or_else(|| {
                        UsageError(format!("--max-pixels: '{v}' is not a count in [1, {max}]"))
                    })
                    .map(Some)?;
            }
            "--quiet" => o.progress = false,
            "--report" => o.report = true,
            "--params-file" => cfg_file = Some(value(&mut args, &a)?.into()),
            "--models-dir" => {
                let v = PathBuf::from(value(&mut args, &a)?);
                edits.push(Box::new(move |c| c.models_dir = v.clone()));
            }
            "--onnxruntime-library" => {
                let v = PathBuf::from(value(&mut args, &a)?);
                edits.push(Box::new(move |c| c.onnxruntime_library = v.clone()));
            }
            "--threads" => {
                let v = value(&mut args, &a)?;
                let n: u32 = v
                    .parse()
                    .map_err(|_| UsageError(format!("--threads: '{v}' is not a count")))?;
                edits.push(Box::new(move |c| {
                    c.detector.threads = n;
                    c.classifier.threads = n;
                }));
            }
            "--detector-model" => {
                let m: DetectorModel = parse_enum(&a, &value(&mut args, &a)?)?;
                edits.push(Box::new(move |c| c.detector.model = m));
            }
            "--tiling" => {
                let m: TilingMode = parse_enum(&a, &value(&mut args, &a)?)?;
                edits.push(Box::new(move |c| c.detector.tiling = m));
            }
            "--routing" => {
                let m: Routing = parse_enum(&a, &value(&mut args, &a)?)?;
                edits.push(Box::new(move |c| c.classifier.routing = m));
            }
            "--no-tracking" => edits.push(Box::new(|c| c.tracking.enabled = false)),
            s if s.starts_with('-') => return Err(UsageError(format!("unknown option '{s}'"))),
            s => {
                if input.is_some() {
                    return Err(UsageError(format!(
                        "unexpected argument '{s}' (one INPUT only)"
                    )));
                }
                input = Some(s.into());
            }
        }
    }
    let input =
        input.ok_or_else(|| UsageError("missing INPUT (a bag directory, .mcap or .db3)".into()))?;
    if list {
        return Ok(Command::ListTopics(input));
    }
    o.input = input;
    o.output = output.ok_or_else(|| UsageError("missing --output OUT".into()))?;
    if let Some(f) = cfg_file {
        let settings = params_file(&f).map_err(|e| UsageError(format!("{e:#}")))?;
        o.pipeline = settings.pipeline;
        // The node's input.max_pixels applies to the bag tool too (issue 11).
        o.max_pixels = settings.max_pixels;
    }
    if let Some(m) = max_pixels_flag {
        o.max_pixels = m;
    }
    for e in &edits {
        e(&mut o.pipeline);
    }
    // Same rule as the node: "" = the install's models, else ./models.
    o.pipeline.models_dir = params::resolve_models_dir(&o.pipeline.models_dir);
    o.pipeline
        .validate()
        .map_err(|e| UsageError(e.to_string()))?;
    Ok(Command::Run(Box::new(o)))
}

fn list_topics(path: &Path) -> Result<()> {
    let bag = Bag::open(path)?;
    println!(
        "{} ({} storage, {} file(s))",
        path.display(),
        bag.storage.name(),
        bag.files.len()
    );
    for t in &bag.topics {
        println!("{}\t{}\t{}", t.name, t.msg_type, t.count);
    }
    Ok(())
}

fn real_main() -> Result<()> {
    lowres_fer::logging::init_stderr("lowres_fer_bag");
    // The bag reader turns panics of the mcap crate on corrupt files into
    // errors; keep their default report ("thread panicked at ...") off stderr.
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if !lowres_fer_bag::reader::mcap_panic_is_handled() {
            default_hook(info);
        }
    }));
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let cmd = match parse(argv) {
        Ok(c) => c,
        Err(UsageError(m)) => {
            eprintln!(
                "lowres_fer_bag: {}\nTry 'lowres_fer_bag --help'.",
                sanitize::line(&m)
            );
            std::process::exit(2);
        }
    };
    match cmd {
        Command::Help => {
            print!("{HELP}");
            Ok(())
        }
        Command::ListTopics(p) => list_topics(&p),
        Command::Run(opts) => {
            if !opts.input.exists() {
                bail!("bag {} does not exist", opts.input.display());
            }
            let r = offline::run(&opts)?;
            eprintln!(
                "lowres_fer_bag: {} frames ({} skipped), {} faces in {:.2} s = {:.1} frames/s -> {}",
                r.frames,
                r.skipped,
                r.faces,
                r.wall_s,
                r.fps,
                r.output.display()
            );
            Ok(())
        }
    }
}

fn main() -> ExitCode {
    match real_main() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!(
                "lowres_fer_bag: error: {}",
                sanitize::line(&format!("{e:#}"))
            );
            ExitCode::FAILURE
        }
    }
}
