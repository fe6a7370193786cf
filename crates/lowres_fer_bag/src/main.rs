//! lowres_fer_bag: offline facial-emotion evaluation of a rosbag2 recording.
//! See `lowres_fer_bag --help` and docs/rosbag.md.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use clap::builder::{OsStringValueParser, PossibleValuesParser, TypedValueParser};
use clap::error::ErrorKind;
use clap::Parser;
use lowres_fer::sanitize;
use lowres_fer::settings::config::{DetectorModel, Routing, TilingMode};
use lowres_fer::settings::params::{self, Kind, Settings};
use lowres_fer_bag::offline::{self, Annotated, Options};
use lowres_fer_bag::reader::Bag;

/// The help page around clap's option list (`{all-args}`).
const TEMPLATE: &str = "\
{about}

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
           <ns>/detections        vision_msgs/msg/Detection2DArray, the same faces
           <ns>/image_annotated   sensor_msgs/msg/Image rgb8 (see --annotated)
           the input topic        with --copy-input
         every message at the input message's recorded time; headers copied;
         OUT/summary.json   frames, faces per frame, per-stage timings, per-track
                            emotion timelines, ground-truth metrics
         OUT/frames.csv     one row per frame (faces, stage timings)
         OUT/tracks.csv     one row per face per frame, sorted by track
       It is written to a temporary directory and renamed when complete: on any
       error nothing is left behind.

{all-args}

EXIT STATUS
  0 success, 1 error (unreadable/corrupt/truncated bag, unknown topic or message
  type, undecodable frame, model or I/O failure), 2 bad command line.

EXAMPLE
  scripts/env.sh lowres_fer_bag recording/ -t /camera/image_raw -o eval_v2 --ground-truth gt.json
";

const PIPELINE: &str = "Pipeline (defaults = the node's defaults, config/default.yaml)";

/// The choices of an enum parameter, as the parameter table declares them.
fn choices(param: &str) -> &'static [&'static str] {
    match params::find(param).map(|p| p.kind) {
        Some(Kind::Choice(names)) => names,
        _ => panic!("{param} is not a choice parameter"),
    }
}

/// A flag's value parser for the config enum of `param`: clap checks (and the
/// help lists) the table's choices, serde maps the name to the enum.
fn choice<T>(param: &str) -> impl TypedValueParser<Value = T>
where
    T: serde::de::DeserializeOwned + Clone + Send + Sync + 'static,
{
    PossibleValuesParser::new(choices(param).iter().copied()).try_map(|v| {
        serde_json::from_value::<T>(serde_json::Value::String(v.clone()))
            .map_err(|_| format!("'{v}' has no config value"))
    })
}

/// The help of an enum flag: what it sets and the parameter's default.
fn enum_help(what: &str, param: &str) -> String {
    match params::find(param).map(|p| p.default) {
        Some(params::Default::Str(s)) => format!("{what} ({param}, default {s})"),
        _ => what.to_string(),
    }
}

/// A path taken as given: an empty one is allowed (it means "the default"
/// for --models-dir and --onnxruntime-library, as in the params file).
fn path() -> impl TypedValueParser<Value = PathBuf> {
    OsStringValueParser::new().map(PathBuf::from)
}

fn count<T: std::str::FromStr>(v: &str) -> Result<T, String> {
    v.parse().map_err(|_| "is not a count".to_string())
}

fn gt_iou(v: &str) -> Result<f32, String> {
    v.parse()
        .ok()
        .filter(|x: &f32| (0.0..=1.0).contains(x) && *x > 0.0)
        .ok_or_else(|| "is not in (0, 1]".to_string())
}

fn max_pixels(v: &str) -> Result<u64, String> {
    let max = lowres_fer::imaging::io::MAX_PIXELS_LIMIT;
    v.parse()
        .ok()
        .filter(|n| (1..=max).contains(n))
        .ok_or_else(|| format!("is not a count in [1, {max}]"))
}

/// The command line. Every value flag takes the next word as its value (as
/// `-o -x` did before clap) and a repeated flag's last value wins.
#[derive(Parser, Debug)]
#[command(
    name = "lowres_fer_bag",
    about = "lowres_fer_bag: run the lowres_fer pipeline (the node's, frame for frame) on every\nimage of a rosbag2 recording, without a ROS graph.",
    help_template = TEMPLATE,
    args_override_self = true,
    disable_version_flag = true
)]
struct Cli {
    /// The bag (see INPUT above).
    #[arg(value_name = "INPUT", value_parser = path(), hide = true)]
    input: Option<PathBuf>,
    #[arg(short = 'o', long, value_name = "OUT", value_parser = path(), allow_hyphen_values = true,
          help = "output bag directory (must not exist, see --overwrite)")]
    output: Option<PathBuf>,
    #[arg(
        short = 't',
        long,
        value_name = "NAME",
        allow_hyphen_values = true,
        help = "image topic (default: the bag's only image topic)"
    )]
    topic: Option<String>,
    #[arg(long, help = "print the bag's topics and exit")]
    list_topics: bool,
    #[arg(
        long,
        help = "replace OUT if it is a previous result of this tool (it holds the\n\
        .lowres_fer_bag_output marker and only the files listed there); never OUT =\n\
        the input or a directory holding it. The old result goes only after success"
    )]
    overwrite: bool,
    #[arg(
        long,
        value_name = "NS",
        allow_hyphen_values = true,
        default_value = "/lowres_fer",
        help = "namespace of the output topics"
    )]
    namespace: String,
    #[arg(long, value_name = "MODE", value_enum, default_value_t = Annotated::Raw,
          help = "raw: rgb8 Image like the node; jpeg: CompressedImage on\n\
                  <ns>/image_annotated/compressed; none")]
    annotated: Annotated,
    #[arg(long, help = "also copy the input images into the output bag")]
    copy_input: bool,
    #[arg(long, value_name = "FILE", value_parser = path(), allow_hyphen_values = true,
          help = "score against a sidecar of per-frame boxes and labels\n\
                  (format: docs/rosbag.md); metrics go to summary.json")]
    ground_truth: Option<PathBuf>,
    #[arg(long, value_name = "X", value_parser = gt_iou, allow_hyphen_values = true, default_value = "0.5",
          help = "IoU for a detection to match a ground-truth box")]
    gt_iou: f32,
    #[arg(
        long,
        help = "write every timing as 0: repeated runs give byte-identical\n\
        output (all other values are identical anyway)"
    )]
    deterministic: bool,
    #[arg(
        long,
        help = "skip frames that fail to decode (counted) instead of failing"
    )]
    skip_bad_frames: bool,
    #[arg(long, value_name = "N", value_parser = count::<u64>, allow_hyphen_values = true,
          help = "stop after N frames")]
    max_frames: Option<u64>,
    #[arg(long, value_name = "N", value_parser = max_pixels, allow_hyphen_values = true,
          help = "pixel budget per frame, checked from the header before decoding\n\
        (default: input.max_pixels of --params-file, else 16777216 = 4096x4096,\n\
        the node's default); a larger frame is a bad frame")]
    max_pixels: Option<u64>,
    #[arg(
        long,
        help = "also write OUT/report.html: one self-contained page (no external\n\
        URL) with the summary figures, per-track emotion timelines (stacked\n\
        probabilities over time), face size over time and face thumbnails;\n\
        bounded: 120 time bins per track, the 12 longest of at most 64 followed\n\
        tracks, 24 thumbnails"
    )]
    report: bool,
    #[arg(long, help = "no progress line on stderr")]
    quiet: bool,

    #[arg(long, value_name = "FILE", value_parser = path(), allow_hyphen_values = true,
          help_heading = PIPELINE,
          help = "a node parameter file (ros__parameters: detector.*, classifier.*,\n\
        tracking.*, models_dir, onnxruntime_library), checked like the node checks\n\
        it; the flags below override it")]
    params_file: Option<PathBuf>,
    #[arg(long, value_name = "DIR", value_parser = path(), allow_hyphen_values = true,
          help_heading = PIPELINE,
          help = "ONNX models + manifest.json (default: models_dir of the params file;\n\
        empty: share/lowres_fer/models of the install, else ./models)")]
    models_dir: Option<PathBuf>,
    #[arg(long, value_name = "FILE", value_parser = path(), allow_hyphen_values = true,
          help_heading = PIPELINE, help = "libonnxruntime.so (default $ORT_DYLIB_PATH)")]
    onnxruntime_library: Option<PathBuf>,
    #[arg(long, value_name = "N", value_parser = count::<u32>, allow_hyphen_values = true,
          help_heading = PIPELINE,
          help = "ONNX Runtime threads for detector and classifier (default 1)")]
    threads: Option<u32>,
    #[arg(long, value_name = "M", value_parser = choice::<DetectorModel>("detector.model"),
          allow_hyphen_values = true, help_heading = PIPELINE, help = enum_help("face detector", "detector.model"))]
    detector_model: Option<DetectorModel>,
    #[arg(long, value_name = "M", value_parser = choice::<TilingMode>("detector.tiling"),
          allow_hyphen_values = true, help_heading = PIPELINE, help = enum_help("extra passes for small faces", "detector.tiling"))]
    tiling: Option<TilingMode>,
    #[arg(long, value_name = "M", value_parser = choice::<Routing>("classifier.routing"),
          allow_hyphen_values = true, help_heading = PIPELINE, help = enum_help("how a face is assigned to a classifier", "classifier.routing"))]
    routing: Option<Routing>,
    #[arg(long, help_heading = PIPELINE, help = "no face ids and no smoothing")]
    no_tracking: bool,
}

struct UsageError(String);

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
    Help(String),
}

/// A clap error as this tool reports usage errors: the message without
/// clap's "error: " prefix and its usage/"--help" footer.
fn clap_message(e: &clap::Error) -> String {
    let text = e.to_string();
    let text = text.strip_prefix("error: ").unwrap_or(&text);
    let end = ["\n\nUsage:", "\n\nFor more information"]
        .iter()
        .filter_map(|m| text.find(m))
        .min()
        .unwrap_or(text.len());
    text[..end].trim_end().to_string()
}

fn parse(argv: Vec<String>) -> Result<Command, UsageError> {
    let cli = match Cli::try_parse_from(std::iter::once("lowres_fer_bag".to_string()).chain(argv)) {
        Ok(cli) => cli,
        Err(e) if e.kind() == ErrorKind::DisplayHelp => return Ok(Command::Help(e.to_string())),
        Err(e) => return Err(UsageError(clap_message(&e))),
    };
    let input = cli
        .input
        .clone()
        .ok_or_else(|| UsageError("missing INPUT (a bag directory, .mcap or .db3)".into()))?;
    if cli.list_topics {
        return Ok(Command::ListTopics(input));
    }
    let output = cli
        .output
        .clone()
        .ok_or_else(|| UsageError("missing --output OUT".into()))?;
    let mut o = Options {
        input,
        topic: cli.topic.clone(),
        output,
        overwrite: cli.overwrite,
        pipeline: Settings::defaults().pipeline,
        namespace: cli.namespace.clone(),
        annotated: cli.annotated,
        copy_input: cli.copy_input,
        ground_truth: cli.ground_truth.clone(),
        gt_iou: cli.gt_iou,
        deterministic: cli.deterministic,
        skip_bad_frames: cli.skip_bad_frames,
        max_frames: cli.max_frames,
        max_pixels: lowres_fer::imaging::io::DEFAULT_MAX_PIXELS,
        progress: !cli.quiet,
        report: cli.report,
    };
    if let Some(f) = &cli.params_file {
        let settings = params_file(f).map_err(|e| UsageError(format!("{e:#}")))?;
        o.pipeline = settings.pipeline;
        // The node's input.max_pixels applies to the bag tool too (issue 11).
        o.max_pixels = settings.max_pixels;
    }
    apply_flags(&cli, &mut o);
    // Same rule as the node: "" = the install's models, else ./models.
    o.pipeline.models_dir = params::resolve_models_dir(&o.pipeline.models_dir);
    o.pipeline
        .validate()
        .map_err(|e| UsageError(e.to_string()))?;
    Ok(Command::Run(Box::new(o)))
}

/// The pipeline flags, applied after --params-file so flags win whatever their
/// order on the command line.
fn apply_flags(cli: &Cli, o: &mut Options) {
    let c = &mut o.pipeline;
    if let Some(m) = cli.max_pixels {
        o.max_pixels = m;
    }
    if let Some(d) = &cli.models_dir {
        c.models_dir = d.clone();
    }
    if let Some(l) = &cli.onnxruntime_library {
        c.onnxruntime_library = l.clone();
    }
    if let Some(n) = cli.threads {
        c.detector.threads = n;
        c.classifier.threads = n;
    }
    if let Some(m) = cli.detector_model {
        c.detector.model = m;
    }
    if let Some(m) = cli.tiling {
        c.detector.tiling = m;
    }
    if let Some(m) = cli.routing {
        c.classifier.routing = m;
    }
    if cli.no_tracking {
        c.tracking.enabled = false;
    }
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
            // Line by line: clap's messages have a line of possible values or a tip.
            let m: Vec<_> = m.lines().map(sanitize::line).collect();
            eprintln!(
                "lowres_fer_bag: {}\nTry 'lowres_fer_bag --help'.",
                m.join("\n")
            );
            std::process::exit(2);
        }
    };
    match cmd {
        Command::Help(help) => {
            print!("{help}");
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

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    /// The enum flags and the parameter whose declared choices they take
    /// (through [`choice`]).
    const ENUM_FLAGS: &[(&str, &str)] = &[
        ("detector-model", "detector.model"),
        ("tiling", "detector.tiling"),
        ("routing", "classifier.routing"),
    ];

    fn help() -> String {
        Cli::command().render_help().to_string()
    }

    fn run_options(args: &[&str]) -> Options {
        match parse(args.iter().map(|a| a.to_string()).collect()) {
            Ok(Command::Run(o)) => *o,
            Ok(_) => panic!("{args:?}: not a run"),
            Err(UsageError(m)) => panic!("{args:?}: {m}"),
        }
    }

    fn usage_error(args: &[&str]) -> String {
        match parse(args.iter().map(|a| a.to_string()).collect()) {
            Err(UsageError(m)) => m,
            Ok(_) => panic!("{args:?} parsed"),
        }
    }

    #[test]
    fn help_lists_every_choice_of_each_enum_flag() {
        let help = help();
        let mut lists: Vec<(String, Vec<String>)> = ENUM_FLAGS
            .iter()
            .map(|(flag, param)| {
                let names = choices(param).iter().map(|c| c.to_string()).collect();
                (flag.to_string(), names)
            })
            .collect();
        let annotated = <Annotated as clap::ValueEnum>::value_variants()
            .iter()
            .filter_map(clap::ValueEnum::to_possible_value)
            .map(|p| p.get_name().to_string())
            .collect();
        lists.push(("annotated".into(), annotated));
        for (flag, names) in lists {
            let line = help
                .lines()
                .find(|l| l.trim_start().starts_with(&format!("--{flag} ")))
                .unwrap_or_else(|| panic!("--{flag} is not in the help:\n{help}"));
            let listed = format!("[possible values: {}]", names.join(", "));
            assert!(
                help.contains(&listed),
                "--{flag}: help lacks {listed}: {line}"
            );
        }
        assert!(help.contains("pyramid"), "{help}");
    }

    #[test]
    fn enum_flags_take_the_parameter_tables_choices() {
        let cmd = Cli::command();
        for (flag, param) in ENUM_FLAGS {
            let arg = cmd
                .get_arguments()
                .find(|a| a.get_long() == Some(*flag))
                .unwrap_or_else(|| panic!("no --{flag}"));
            let values: Vec<String> = arg
                .get_possible_values()
                .iter()
                .map(|v| v.get_name().to_string())
                .collect();
            assert_eq!(values, choices(param), "--{flag}");
            // Every choice maps to a config value.
            for v in choices(param) {
                run_options(&["bag", "-o", "out", &format!("--{flag}"), v]);
            }
        }
        assert!(every_enum_parameter_is_considered());
    }

    /// Enum parameters of the table that have no flag here are deliberate.
    fn every_enum_parameter_is_considered() -> bool {
        let flagged: Vec<&str> = ENUM_FLAGS.iter().map(|(_, p)| *p).collect();
        params::PARAMS
            .iter()
            .filter(|p| matches!(p.kind, Kind::Choice(_)) && !flagged.contains(&p.name))
            .all(|p| {
                p.name.starts_with("input.")
                    || p.name.starts_with("ros4hri.")
                    || p.name.ends_with(".execution_provider")
                    || p.name == "classifier.precision"
            })
    }

    #[test]
    fn flags_set_the_pipeline_and_the_last_one_wins() {
        let o = run_options(&[
            "bag",
            "-o",
            "out",
            "--tiling",
            "all",
            "--tiling",
            "pyramid",
            "--routing",
            "face_size",
            "--threads",
            "3",
            "--no-tracking",
            "--quiet",
            "--annotated",
            "jpeg",
        ]);
        assert_eq!(o.pipeline.detector.tiling, TilingMode::Pyramid);
        assert_eq!(o.pipeline.classifier.routing, Routing::FaceSize);
        assert_eq!(o.pipeline.detector.threads, 3);
        assert_eq!(o.pipeline.classifier.threads, 3);
        assert!(!o.pipeline.tracking.enabled && !o.progress);
        assert_eq!(o.annotated, Annotated::Jpeg);
        assert_eq!(o.namespace, "/lowres_fer");
        assert_eq!(o.gt_iou, 0.5);
        assert_eq!(o.max_pixels, lowres_fer::imaging::io::DEFAULT_MAX_PIXELS);
        // A value flag takes the next word, whatever it looks like.
        assert_eq!(
            run_options(&["bag", "-o", "-x"]).output,
            PathBuf::from("-x")
        );
    }

    #[test]
    fn usage_errors_name_the_flag() {
        assert!(usage_error(&[]).contains("missing INPUT"));
        assert!(usage_error(&["bag"]).contains("missing --output OUT"));
        for (args, flag) in [
            (&["bag", "-o", "o", "--tiling", "sideways"][..], "--tiling"),
            (&["bag", "-o", "o", "--gt-iou", "0"], "--gt-iou"),
            (&["bag", "-o", "o", "--max-frames", "x"], "--max-frames"),
            (&["bag", "-o", "o", "--max-pixels", "0"], "--max-pixels"),
            (&["bag", "-o", "o", "--threads", "-1"], "--threads"),
            (&["bag", "-o", "o", "--annotated", "png"], "--annotated"),
            (&["bag", "-o", "o", "--frobnicate"], "--frobnicate"),
            (&["bag", "-o"], "--output"),
        ] {
            let m = usage_error(args);
            assert!(m.contains(flag), "{args:?}: {m}");
            assert!(!m.contains("Usage:") && !m.starts_with("error:"), "{m}");
        }
        // The pipeline's own checks still run on the flags' result.
        assert!(usage_error(&["bag", "-o", "o", "--threads", "0"]).contains("threads"));
    }

    #[test]
    fn help_is_a_command() {
        for flag in ["-h", "--help"] {
            match parse(vec!["x".into(), flag.into()]) {
                Ok(Command::Help(h)) => {
                    assert!(h.contains("USAGE") && h.contains("--ground-truth"))
                }
                _ => panic!("{flag}"),
            }
        }
    }
}
