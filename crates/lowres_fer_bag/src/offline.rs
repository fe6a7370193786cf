//! The offline evaluation of one bag: every frame of an image topic through the
//! same [`Pipeline`] the node runs, results written as a new bag plus a summary.
//!
//! Output is built in a hidden temporary directory next to the destination and
//! renamed into place only when everything succeeded, so a failure (corrupt
//! bag, bad frame, full disk) never leaves a half-written bag that looks valid.

use std::collections::BTreeMap;
use std::io::{IsTerminal, Write};
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::sync::mpsc::SyncSender;
use std::thread::JoinHandle;
use std::time::Instant;

use anyhow::{anyhow, bail, Context, Result};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressFinish, ProgressState, ProgressStyle};
use serde::Serialize;

use super::html::HtmlReport;
use super::msgs::{
    encode_detections, CdrMessage as _, CompressedImage, Header, Image, COMPRESSED_IMAGE_TYPE,
    DETECTION_2D_ARRAY_TYPE, FACE_EMOTION_ARRAY_TYPE, IMAGE_TYPE,
};
use super::output_dir;
use super::reader::{Bag, BagMessage};
use super::report::{FacesPerFrame, Rows, Stat, Tracks};
use super::truth::{GroundTruth, Metrics};
use super::writer::BagWriter;
use lowres_fer::frame::{FrameStep, Payload, StepError};
use lowres_fer::pipeline::Pipeline;
use lowres_fer::settings::config::PipelineConfig;

/// How annotated frames are written to the output bag (`--annotated`: the
/// variants' names are the flag's values).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Annotated {
    None,
    // (Plain comments: doc comments would become per-value help and switch
    // clap to its long help layout.)
    // sensor_msgs/Image rgb8 on `<ns>/image_annotated` (what the node publishes).
    Raw,
    // sensor_msgs/CompressedImage JPEG on `<ns>/image_annotated/compressed` (~20x smaller).
    Jpeg,
}

#[derive(Debug, Clone)]
pub struct Options {
    pub input: PathBuf,
    /// Image topic; `None`: the bag's only Image/CompressedImage topic.
    pub topic: Option<String>,
    /// Output bag directory (rosbag2 layout) that also receives the summary files.
    pub output: PathBuf,
    pub overwrite: bool,
    pub pipeline: PipelineConfig,
    /// Namespace of the output topics (`<ns>/emotions`, `<ns>/image_annotated`).
    pub namespace: String,
    pub annotated: Annotated,
    pub copy_input: bool,
    pub ground_truth: Option<PathBuf>,
    pub gt_iou: f32,
    /// Write every timing as 0 so repeated runs produce byte-identical output.
    pub deterministic: bool,
    /// Skip (and count) frames that do not decode instead of failing.
    pub skip_bad_frames: bool,
    pub max_frames: Option<u64>,
    /// Pixel budget per frame (the node's `input.max_pixels`).
    pub max_pixels: u64,
    pub progress: bool,
    /// Also write OUT/report.html (see [`super::html`]).
    pub report: bool,
}

#[derive(Serialize)]
struct Summary {
    format: &'static str,
    input: String,
    storage: &'static str,
    topic: String,
    msg_type: String,
    messages_in_topic: u64,
    frames_processed: u64,
    frames_skipped_bad: u64,
    faces_total: u64,
    faces_per_frame: FacesPerFrame,
    /// Per-stage latency in ms (0 with --deterministic).
    timings_ms: BTreeMap<&'static str, Stat>,
    /// Frames per second over the whole run, bag reading and writing included.
    throughput_fps: f64,
    wall_s: f64,
    output_topics: Vec<String>,
    /// Streamed from the sorted track rows (writes tracks.csv on the way).
    tracks: Tracks,
    ground_truth: Option<Metrics>,
    config: PipelineConfig,
}

/// What a successful run reports to the caller (and the CLI prints).
#[derive(Debug, Clone)]
pub struct Report {
    pub frames: u64,
    pub skipped: u64,
    pub faces: u64,
    pub wall_s: f64,
    pub fps: f64,
    pub output: PathBuf,
}

fn join_ns(ns: &str, name: &str) -> String {
    let ns = ns.trim_end_matches('/');
    if ns.is_empty() {
        format!("/{name}")
    } else if ns.starts_with('/') {
        format!("{ns}/{name}")
    } else {
        format!("/{ns}/{name}")
    }
}

fn pick_topic(bag: &Bag, want: Option<&str>) -> Result<(String, String)> {
    let is_image = |t: &str| t == IMAGE_TYPE || t == COMPRESSED_IMAGE_TYPE;
    match want {
        Some(name) => {
            let Some(t) = bag.topic(name) else {
                bail!(
                    "topic '{name}' is not in the bag. The bag has these topics:\n{}",
                    bag.topic_list()
                );
            };
            if !is_image(&t.msg_type) {
                bail!(
                    "topic '{name}' has type '{}', which is not an image type ({IMAGE_TYPE} or {COMPRESSED_IMAGE_TYPE}). The bag has these topics:\n{}",
                    t.msg_type,
                    bag.topic_list()
                );
            }
            if t.encoding != "cdr" {
                bail!(
                    "topic '{name}' is serialized as '{}', only 'cdr' is supported",
                    t.encoding
                );
            }
            Ok((t.name.clone(), t.msg_type.clone()))
        }
        None => {
            let images: Vec<_> = bag
                .topics
                .iter()
                .filter(|t| is_image(&t.msg_type))
                .collect();
            match images.as_slice() {
                [one] => Ok((one.name.clone(), one.msg_type.clone())),
                [] => bail!(
                    "the bag has no {IMAGE_TYPE} or {COMPRESSED_IMAGE_TYPE} topic. It has:\n{}",
                    bag.topic_list()
                ),
                _ => bail!(
                    "the bag has several image topics; choose one with --topic:\n{}",
                    bag.topic_list()
                ),
            }
        }
    }
}

/// Removes the temporary output unless disarmed (on success it was renamed).
struct TempDir(Option<PathBuf>);

impl Drop for TempDir {
    fn drop(&mut self) {
        if let Some(p) = self.0.take() {
            let _ = std::fs::remove_dir_all(p);
        }
    }
}

/// The progress line on stderr: on a terminal a live indicatif bar (4
/// redraws a second); otherwise (a log file) a plain line every 10 s.
enum Progress {
    Off,
    Bar(ProgressBar),
    Log {
        total: u64,
        start: Instant,
        last: Instant,
    },
}

/// `[###---] 12/40 frames  30.0%   25.1 frames/s eta    1s`, the log line's format.
const BAR_TEMPLATE: &str = "[{bar:30}] {pos}/{len} frames {pct}% {fps} frames/s eta {eta_s}s";

fn rate_keys(style: ProgressStyle) -> ProgressStyle {
    style.with_key("fps", |s: &ProgressState, w: &mut dyn std::fmt::Write| {
        let _ = write!(w, "{:6.1}", s.per_sec());
    })
}

impl Progress {
    fn new(enabled: bool, total: u64, start: Instant) -> Self {
        if !enabled {
            return Self::Off;
        }
        if !std::io::stderr().is_terminal() {
            return Self::Log {
                total,
                start,
                last: start,
            };
        }
        let target = ProgressDrawTarget::stderr_with_hz(4);
        let style = if total > 0 {
            ProgressStyle::with_template(BAR_TEMPLATE).map(|s| {
                rate_keys(s)
                    .with_key("pct", |s: &ProgressState, w: &mut dyn std::fmt::Write| {
                        let _ = write!(w, "{:5.1}", 100.0 * s.fraction());
                    })
                    .with_key("eta_s", |s: &ProgressState, w: &mut dyn std::fmt::Write| {
                        let _ = write!(w, "{:4.0}", s.eta().as_secs_f64());
                    })
                    .progress_chars("#-")
            })
        } else {
            ProgressStyle::with_template("{pos} frames {fps} frames/s").map(rate_keys)
        };
        // A run that fails (the bar dropped unfinished) clears the line for
        // its error message.
        let bar = ProgressBar::with_draw_target((total > 0).then_some(total), target)
            .with_finish(ProgressFinish::AndClear);
        bar.set_style(style.expect("the progress templates parse"));
        Self::Bar(bar)
    }

    /// `done` frames handled; `last`: the run is over (the line stays).
    fn update(&mut self, done: u64, last: bool) {
        match self {
            Self::Off => {}
            Self::Bar(bar) => {
                bar.set_position(done);
                if last {
                    // The line stays; what follows starts on the next one.
                    bar.finish();
                    let _ = writeln!(std::io::stderr());
                }
            }
            Self::Log {
                total,
                start,
                last: shown,
            } => {
                let now = Instant::now();
                if !last && now.duration_since(*shown).as_secs_f64() < 10.0 {
                    return;
                }
                *shown = now;
                let el = now.duration_since(*start).as_secs_f64().max(1e-9);
                let _ = writeln!(std::io::stderr().lock(), "{}", log_line(done, *total, el));
            }
        }
    }
}

/// A progress line for a log file.
fn log_line(done: u64, total: u64, elapsed_s: f64) -> String {
    let fps = done as f64 / elapsed_s;
    if total == 0 {
        return format!("{done} frames {fps:6.1} frames/s");
    }
    let pct = 100.0 * done as f64 / total as f64;
    let eta = if fps > 0.0 {
        total.saturating_sub(done) as f64 / fps
    } else {
        0.0
    };
    let width = 30usize;
    let filled = ((pct / 100.0) * width as f64).round().min(width as f64) as usize;
    format!(
        "[{}{}] {done}/{total} frames {pct:5.1}% {fps:6.1} frames/s eta {eta:4.0}s",
        "#".repeat(filled),
        "-".repeat(width - filled),
    )
}

/// One input message, CDR-decoded; the pixels borrow from the bag's buffer.
enum Decoded<'a> {
    Raw(Image<'a>),
    Compressed(CompressedImage<'a>),
}

impl<'a> Decoded<'a> {
    fn new(data: &'a [u8], compressed: bool) -> Result<Self, super::cdr::CdrError> {
        Ok(if compressed {
            Self::Compressed(CompressedImage::decode(data)?)
        } else {
            Self::Raw(Image::decode(data)?)
        })
    }

    /// The header (moved out) and the pixel fields for the frame step.
    fn split(&mut self) -> (Header, Payload<'_>) {
        match self {
            Self::Raw(i) => (
                std::mem::take(&mut i.header),
                Payload::Raw {
                    width: i.width,
                    height: i.height,
                    encoding: &i.encoding,
                    is_bigendian: i.is_bigendian != 0,
                    step: i.step,
                    data: i.data,
                },
            ),
            Self::Compressed(c) => (
                std::mem::take(&mut c.header),
                Payload::Compressed {
                    format: &c.format,
                    data: c.data,
                },
            ),
        }
    }
}

/// A frame that does not decode: skipped and counted with --skip-bad-frames,
/// else the run fails naming the frame.
fn bad_frame(
    opts: &Options,
    topic: &str,
    skipped: &mut u64,
    index: u64,
    log_time: u64,
    e: anyhow::Error,
) -> Result<ControlFlow<()>> {
    let msg = format!("frame {index} (log time {log_time} ns) on {topic} cannot be decoded: {e:#}");
    if opts.skip_bad_frames {
        *skipped += 1;
        log::warn!("{msg} (skipped)");
        return Ok(ControlFlow::Continue(()));
    }
    bail!("{msg} (use --skip-bad-frames to skip such frames)");
}

/// OUT/report.html from the gathered page data and the summary's figures.
fn write_html(h: &HtmlReport, dir: &std::path::Path, s: &Summary) -> Result<()> {
    let fig = |k: &str, v: String| (k.to_string(), v);
    let figures = vec![
        fig("input", s.input.clone()),
        fig("topic", format!("{} ({})", s.topic, s.msg_type)),
        fig("storage", s.storage.to_string()),
        fig(
            "frames processed",
            format!("{} of {}", s.frames_processed, s.messages_in_topic),
        ),
        fig("frames skipped (bad)", s.frames_skipped_bad.to_string()),
        fig("faces", s.faces_total.to_string()),
        fig(
            "faces per frame",
            format!("{:.2}", s.faces_per_frame.mean()),
        ),
        fig("throughput", format!("{:.1} frames/s", s.throughput_fps)),
        fig("wall time", format!("{:.1} s", s.wall_s)),
    ];
    let timings: Vec<(String, f64, f64, f64)> = s
        .timings_ms
        .iter()
        .map(|(k, st)| (k.to_string(), st.p50(), st.p95(), st.max()))
        .collect();
    h.write(
        &dir.join("report.html"),
        &s.input,
        &figures,
        &timings,
        s.faces_per_frame.histogram(),
    )
}

/// The output directory's name and its (existing) parent, checked before
/// the (slow) model load.
fn destination(opts: &Options) -> Result<(String, PathBuf)> {
    let out = &opts.output;
    let name = out
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or_else(|| anyhow!("output path {} has no usable name", out.display()))?
        .to_string();
    output_dir::check_destination(&opts.input, out, opts.overwrite)?;
    let parent = match out.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    if !parent.is_dir() {
        bail!("output directory {} does not exist", parent.display());
    }
    Ok((name, parent))
}

/// The output bag's topic handles.
struct Topics {
    emotions: usize,
    detections: usize,
    annotated: Option<usize>,
    input: Option<usize>,
}

/// Declare the output topics; also returns their names for the summary.
fn add_topics(
    writer: &mut BagWriter,
    opts: &Options,
    topic: &str,
    msg_type: &str,
) -> Result<(Topics, Vec<String>)> {
    let emotions_topic = join_ns(&opts.namespace, "emotions");
    let emotions = writer.add_topic(&emotions_topic, FACE_EMOTION_ARRAY_TYPE)?;
    let detections_topic = join_ns(&opts.namespace, "detections");
    let detections = writer.add_topic(&detections_topic, DETECTION_2D_ARRAY_TYPE)?;
    let mut output_topics = vec![emotions_topic, detections_topic];
    let annotated = match opts.annotated {
        Annotated::None => None,
        Annotated::Raw => {
            let t = join_ns(&opts.namespace, "image_annotated");
            let h = writer.add_topic(&t, IMAGE_TYPE)?;
            output_topics.push(t);
            Some(h)
        }
        Annotated::Jpeg => {
            let t = join_ns(&opts.namespace, "image_annotated/compressed");
            let h = writer.add_topic(&t, COMPRESSED_IMAGE_TYPE)?;
            output_topics.push(t);
            Some(h)
        }
    };
    let input = if opts.copy_input {
        if output_topics.iter().any(|t| t == topic) {
            bail!("input topic {topic} collides with an output topic; change --namespace");
        }
        output_topics.push(topic.to_string());
        Some(writer.add_topic(topic, msg_type)?)
    } else {
        None
    };
    let topics = Topics {
        emotions,
        detections,
        annotated,
        input,
    };
    Ok((topics, output_topics))
}

/// One message for the bag writer: (topic handle, log time, CDR bytes).
type Outgoing = (usize, u64, Vec<u8>);

/// Bag writing runs on its own thread so disk I/O overlaps inference (the
/// pipeline itself stays single-threaded). One in-order channel keeps the
/// output deterministic; its bound caps memory at a few frames.
fn spawn_writer(mut writer: BagWriter) -> Result<(SyncSender<Outgoing>, JoinHandle<Result<()>>)> {
    let (tx, rx) = std::sync::mpsc::sync_channel::<Outgoing>(8);
    let thread = std::thread::Builder::new()
        .name("bag-writer".into())
        .spawn(move || -> Result<()> {
            for (h, t, data) in rx {
                writer.write(h, t, &data)?;
            }
            writer.finish()
        })?;
    Ok((tx, thread))
}

/// A send fails only when the writer thread stopped on an error, which
/// joining it reports.
fn send(tx: &Option<SyncSender<Outgoing>>, h: usize, t: u64, data: Vec<u8>) -> Result<()> {
    tx.as_ref()
        .and_then(|tx| tx.send((h, t, data)).ok())
        .ok_or_else(|| anyhow!("the bag writer stopped"))
}

/// The annotated frame as the output message: rgb8 Image, or JPEG
/// CompressedImage (encoded into the reused `jpeg` buffer).
fn annotated_message(
    mode: Annotated,
    header: &Header,
    annotated: &image::RgbImage,
    jpeg: &mut Vec<u8>,
) -> Result<Vec<u8>> {
    Ok(if mode == Annotated::Jpeg {
        jpeg.clear();
        image::codecs::jpeg::JpegEncoder::new_with_quality(&mut *jpeg, 90)
            .encode_image(annotated)
            .context("cannot encode the annotated JPEG")?;
        CompressedImage {
            header: header.clone(),
            format: "jpeg".into(),
            data: jpeg,
        }
        .encode_into(Vec::with_capacity(jpeg.len() + 64))
    } else {
        Image {
            header: header.clone(),
            height: annotated.height(),
            width: annotated.width(),
            encoding: "rgb8".into(),
            is_bigendian: 0,
            step: annotated.width() * 3,
            data: annotated.as_raw(),
        }
        .encode_into(Vec::with_capacity(annotated.as_raw().len() + 64))
    })
}

/// The state of the pass over the input topic.
struct Frames<'a> {
    opts: &'a Options,
    topic: &'a str,
    compressed: bool,
    step: FrameStep,
    topics: Topics,
    /// None once the pass is over (the writer then finishes).
    tx: Option<SyncSender<Outgoing>>,
    jpeg: Vec<u8>,
    truth: Option<GroundTruth>,
    html: Option<HtmlReport>,
    rows: Rows,
    skipped: u64,
    index: u64,
    progress: Progress,
}

impl Frames<'_> {
    /// One input message through the frame step; its results to the output
    /// bag, the records, the ground truth and the report.
    fn message(&mut self, m: BagMessage) -> Result<ControlFlow<()>> {
        if self.opts.max_frames.is_some_and(|max| self.index >= max) {
            return Ok(ControlFlow::Break(()));
        }
        let this = self.index;
        self.index += 1;
        let (opts, topic) = (self.opts, self.topic);
        // Decode the CDR message, then (in the frame step) the pixels; both are
        // untrusted.
        let mut decoded = match Decoded::new(m.data, self.compressed) {
            Ok(d) => d,
            Err(e) => return bad_frame(opts, topic, &mut self.skipped, this, m.log_time, e.into()),
        };
        let (header, payload) = decoded.split();
        let annotate = self.topics.annotated.is_some();
        let out = match self.step.process(header, payload, annotate) {
            Ok(out) => out,
            Err(StepError::Input(e)) => {
                return bad_frame(opts, topic, &mut self.skipped, this, m.log_time, e.into())
            }
            Err(StepError::Pipeline(e)) => {
                return Err(e.context(format!("pipeline failed on frame {this}")))
            }
        };
        // An evaluation with some faces unclassified by an error is not a result.
        if let Some(e) = out.classify_error {
            bail!("pipeline failed on frame {this}: {e}");
        }
        let msg = out.msg;
        send(
            &self.tx,
            self.topics.emotions,
            m.log_time,
            msg.encode_into(Vec::new()),
        )?;
        send(
            &self.tx,
            self.topics.detections,
            m.log_time,
            encode_detections(out.detections, Vec::new()),
        )?;
        if let (Some(h), Some(annotated)) = (self.topics.annotated, out.annotated) {
            let data = annotated_message(opts.annotated, &msg.header, annotated, &mut self.jpeg)?;
            send(&self.tx, h, m.log_time, data)?;
        }
        if let Some(h) = self.topics.input {
            send(&self.tx, h, m.log_time, m.data.to_vec())?;
        }

        if let Some(gt) = self.truth.as_mut() {
            gt.score(this, msg.header.stamp_ns(), out.faces);
        }
        if let Some(h) = self.html.as_mut() {
            h.push(this, msg.header.stamp_ns(), out.rgb, out.faces);
        }
        self.rows.push(this, m.log_time, &out)?;
        self.progress
            .update(self.rows.frames() + self.skipped, false);
        Ok(ControlFlow::Continue(()))
    }
}

/// What the summary says about the input and the output bag.
struct TopicInfo {
    storage: &'static str,
    topic: String,
    msg_type: String,
    /// Messages of the topic in the bag.
    total: u64,
    output_topics: Vec<String>,
}

impl Frames<'_> {
    /// After the pass (writer joined): the summary, whose tracks stream
    /// tracks.csv into `dir` as it is written, the report's page data and
    /// the caller's report.
    fn finish(
        self,
        input: TopicInfo,
        start: Instant,
        dir: &Path,
    ) -> Result<(Summary, Option<HtmlReport>, Report)> {
        let opts = self.opts;
        let Frames {
            step,
            truth,
            html,
            rows,
            skipped,
            mut progress,
            ..
        } = self;
        progress.update(rows.frames() + skipped, true);
        if rows.frames() == 0 {
            bail!(
                "no frame of {} could be processed ({} messages, {skipped} skipped)",
                input.topic,
                input.total
            );
        }
        let wall_s = start.elapsed().as_secs_f64();
        let fps = rows.frames() as f64 / wall_s.max(1e-9);

        let n = rows.frames();
        let faces_per_frame = rows.faces_per_frame();
        let faces_total = rows.faces_total();
        let metrics = match truth {
            Some(gt) => Some(gt.finish()?),
            None => None,
        };
        let timings_ms = rows.timings_ms();
        let tracks = rows.finish(dir)?;
        let zero = opts.deterministic;
        let summary = Summary {
            format: "lowres_fer.bag_summary.v1",
            input: opts.input.display().to_string(),
            storage: input.storage,
            topic: input.topic,
            msg_type: input.msg_type,
            messages_in_topic: input.total,
            frames_processed: n,
            frames_skipped_bad: skipped,
            faces_total,
            faces_per_frame,
            timings_ms,
            throughput_fps: if zero { 0.0 } else { fps },
            wall_s: if zero { 0.0 } else { wall_s },
            output_topics: input.output_topics,
            tracks,
            ground_truth: metrics,
            config: step.pipeline().config().clone(),
        };
        let report = Report {
            frames: n,
            skipped,
            faces: faces_total,
            wall_s,
            fps,
            output: opts.output.clone(),
        };
        Ok((summary, html, report))
    }
}

/// summary.json (streamed: the track summaries are made, and tracks.csv
/// written, while it is written), then report.html, into `dir`.
fn write_summary(dir: &Path, summary: Summary, html: Option<&HtmlReport>) -> Result<()> {
    let summary_path = dir.join("summary.json");
    let file = std::fs::File::create(&summary_path)
        .with_context(|| format!("cannot create {}", summary_path.display()))?;
    let mut json = std::io::BufWriter::new(file);
    let written: Result<()> = (|| {
        serde_json::to_writer_pretty(&mut json, &summary)?;
        json.write_all(b"\n")?;
        Ok(json.flush()?)
    })();
    written.with_context(|| format!("cannot write {}", summary_path.display()))?;
    drop(json);
    if let Some(h) = html {
        write_html(h, dir, &summary)?;
    }
    summary.tracks.finish()
}

/// Replace the destination with the complete temporary output.
fn commit(opts: &Options, tmp: &mut TempDir) -> Result<()> {
    let Some(tmp_path) = tmp.0.clone() else {
        bail!("the temporary output is gone");
    };
    output_dir::write_marker(&tmp_path)?;
    // --overwrite: the old output goes only once the new one is complete, and
    // only if it still is nothing but a previous result.
    output_dir::remove_previous(&opts.input, &opts.output)?;
    std::fs::rename(&tmp_path, &opts.output)
        .with_context(|| format!("cannot move the result to {}", opts.output.display()))?;
    tmp.0 = None;
    Ok(())
}

/// Evaluate the bag; on success the output directory exists and is complete.
pub fn run(opts: &Options) -> Result<Report> {
    let bag = Bag::open(&opts.input)?;
    let (topic, msg_type) = pick_topic(&bag, opts.topic.as_deref())?;
    let total = bag.topic(&topic).map(|t| t.count).unwrap_or(0);
    let truth = match &opts.ground_truth {
        Some(p) => Some(GroundTruth::load(p, opts.gt_iou)?),
        None => None,
    };
    let (name, parent) = destination(opts)?;

    let pipeline = Pipeline::new(&opts.pipeline).context("cannot build the pipeline")?;
    let step = FrameStep::new(pipeline)
        .deterministic(opts.deterministic)
        .max_pixels(opts.max_pixels);

    let tmp_path = parent.join(format!(".{name}.partial-{}", std::process::id()));
    if tmp_path.exists() {
        std::fs::remove_dir_all(&tmp_path)?;
    }
    let mut tmp = TempDir(Some(tmp_path.clone()));
    let mut writer = BagWriter::create(&tmp_path, &name)?;
    let (topics, output_topics) = add_topics(&mut writer, opts, &topic, &msg_type)?;
    let (tx, writer_thread) = spawn_writer(writer)?;
    let start = Instant::now();
    let mut frames = Frames {
        opts,
        topic: &topic,
        compressed: msg_type == COMPRESSED_IMAGE_TYPE,
        step,
        topics,
        tx: Some(tx),
        jpeg: Vec::new(),
        truth,
        html: opts.report.then(HtmlReport::new),
        rows: Rows::create(&tmp_path)?,
        skipped: 0,
        index: 0,
        progress: Progress::new(
            opts.progress,
            opts.max_frames.map_or(total, |m| m.min(total)),
            start,
        ),
    };
    let processed = bag.for_each_message(&topic, |m| frames.message(m));
    // Close the channel and wait for the writer before looking at any result:
    // its error (disk full, ...) is the root cause when sends failed.
    frames.tx = None;
    let written = writer_thread
        .join()
        .map_err(|_| anyhow!("the bag writer thread panicked"))?;
    written?;
    processed?;
    let input = TopicInfo {
        storage: bag.storage.name(),
        topic: topic.clone(),
        msg_type,
        total,
        output_topics,
    };
    let (summary, html, report) = frames.finish(input, start, &tmp_path)?;
    write_summary(&tmp_path, summary, html.as_ref())?;
    commit(opts, &mut tmp)?;
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_lines_and_the_bar_template() {
        assert_eq!(
            log_line(20, 40, 1.0),
            "[###############---------------] 20/40 frames  50.0%   20.0 frames/s eta    1s"
        );
        assert_eq!(log_line(7, 0, 2.0), "7 frames    3.5 frames/s");
        // A hidden bar takes the same calls (and the templates parse).
        let mut p = Progress::new(true, 40, Instant::now());
        p.update(1, false);
        p.update(40, true);
        assert!(ProgressStyle::with_template(BAR_TEMPLATE).is_ok());
    }
}
