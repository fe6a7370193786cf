//! The offline evaluation of one bag: every frame of an image topic through the
//! same [`Pipeline`] the node runs, results written as a new bag plus a summary.
//!
//! Output is built in a hidden temporary directory next to the destination and
//! renamed into place only when everything succeeded, so a failure (corrupt
//! bag, bad frame, full disk) never leaves a half-written bag that looks valid.

use std::io::{IsTerminal, Write};
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{anyhow, bail, Context, Result};
use image::RgbImage;
use serde::Serialize;

use super::msgs::{
    CompressedImage, FaceEmotion, FaceEmotionArray, Header, Image, COMPRESSED_IMAGE_TYPE,
    FACE_EMOTION_ARRAY_TYPE, IMAGE_TYPE,
};
use super::output_dir;
use super::reader::Bag;
use super::truth::{GroundTruth, Metrics};
use super::writer::BagWriter;
use crate::annotate;
use crate::config::PipelineConfig;
use crate::face::{FaceState, EMOTIONS};
use crate::image_io::{compressed_to_rgb, raw_to_rgb};
use crate::pipeline::{Pipeline, StageTimings};

/// How annotated frames are written to the output bag.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Annotated {
    None,
    /// sensor_msgs/Image rgb8 on `<ns>/image_annotated` (what the node publishes).
    Raw,
    /// sensor_msgs/CompressedImage JPEG on `<ns>/image_annotated/compressed` (~20x smaller).
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
}

/// One processed frame (a row of frames.csv).
#[derive(Debug, Clone, Serialize)]
struct FrameRow {
    index: u64,
    log_time_ns: u64,
    stamp_ns: i64,
    width: u32,
    height: u32,
    faces: usize,
    classified: usize,
    decode_ms: f64,
    #[serde(flatten)]
    timings: StageTimings,
    processing_ms: f64,
}

/// One face of one frame of a track (a row of tracks.csv).
#[derive(Debug, Clone, Serialize)]
struct TrackRow {
    track_id: u64,
    frame: u64,
    stamp_ns: i64,
    state: &'static str,
    top_label: &'static str,
    top_confidence: f32,
    x: f32,
    y: f32,
    width: f32,
    height: f32,
    face_size_px: f32,
}

#[derive(Debug, Clone, Serialize)]
struct Segment {
    label: String,
    start_stamp_ns: i64,
    end_stamp_ns: i64,
    frames: u64,
}

#[derive(Debug, Clone, Serialize)]
struct TrackSummary {
    track_id: u64,
    first_stamp_ns: i64,
    last_stamp_ns: i64,
    frames: u64,
    classified_frames: u64,
    /// Most frequent top label over the classified frames ("" if none).
    dominant_label: String,
    mean_face_size_px: f64,
    /// Runs of consecutive frames with the same label ("unclassified" when the
    /// face was seen but not classified): the emotion timeline of the track.
    timeline: Vec<Segment>,
}

#[derive(Debug, Clone, Default, Serialize)]
struct Stat {
    mean: f64,
    p50: f64,
    p95: f64,
    max: f64,
}

fn stat(mut v: Vec<f64>) -> Stat {
    if v.is_empty() {
        return Stat::default();
    }
    v.sort_by(f64::total_cmp);
    let q = |p: f64| v[((v.len() - 1) as f64 * p).round() as usize];
    Stat {
        mean: v.iter().sum::<f64>() / v.len() as f64,
        p50: q(0.5),
        p95: q(0.95),
        max: v[v.len() - 1],
    }
}

#[derive(Debug, Serialize)]
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
    timings_ms: std::collections::BTreeMap<&'static str, Stat>,
    /// Frames per second over the whole run, bag reading and writing included.
    throughput_fps: f64,
    wall_s: f64,
    output_topics: Vec<String>,
    tracks: Vec<TrackSummary>,
    ground_truth: Option<Metrics>,
    config: PipelineConfig,
}

#[derive(Debug, Clone, Default, Serialize)]
struct FacesPerFrame {
    mean: f64,
    max: usize,
    /// histogram[k] = number of frames with k faces.
    histogram: Vec<u64>,
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

struct Progress {
    enabled: bool,
    tty: bool,
    total: u64,
    start: Instant,
    last: Instant,
}

impl Progress {
    fn update(&mut self, done: u64, force: bool) {
        if !self.enabled {
            return;
        }
        let now = Instant::now();
        // A TTY gets a live line; a log file a line every 10 s.
        let every = if self.tty { 0.25 } else { 10.0 };
        if !force && now.duration_since(self.last).as_secs_f64() < every {
            return;
        }
        self.last = now;
        let el = now.duration_since(self.start).as_secs_f64().max(1e-9);
        let fps = done as f64 / el;
        let line = if self.total > 0 {
            let pct = 100.0 * done as f64 / self.total as f64;
            let eta = if fps > 0.0 {
                self.total.saturating_sub(done) as f64 / fps
            } else {
                0.0
            };
            let width = 30usize;
            let filled = ((pct / 100.0) * width as f64).round().min(width as f64) as usize;
            format!(
                "[{}{}] {done}/{} frames {pct:5.1}% {fps:6.1} frames/s eta {eta:4.0}s",
                "#".repeat(filled),
                "-".repeat(width - filled),
                self.total
            )
        } else {
            format!("{done} frames {fps:6.1} frames/s")
        };
        let mut err = std::io::stderr().lock();
        if self.tty {
            let _ = write!(err, "\r{line}");
            if force {
                let _ = writeln!(err);
            }
        } else {
            let _ = writeln!(err, "{line}");
        }
    }
}

fn csv_write<T: Serialize>(path: &Path, rows: &[T], header: &[&str]) -> Result<()> {
    // A tiny CSV writer: every field is a number or a label from a fixed set,
    // so no quoting is needed.
    let mut out = String::new();
    out.push_str(&header.join(","));
    out.push('\n');
    for r in rows {
        let v = serde_json::to_value(r)?;
        let obj = v
            .as_object()
            .ok_or_else(|| anyhow!("csv row is not an object"))?;
        let cells: Vec<String> = header
            .iter()
            .map(|h| match obj.get(*h) {
                Some(serde_json::Value::String(s)) => s.clone(),
                Some(other) => other.to_string(),
                None => String::new(),
            })
            .collect();
        out.push_str(&cells.join(","));
        out.push('\n');
    }
    std::fs::write(path, out).with_context(|| format!("cannot write {}", path.display()))
}

fn state_name(s: FaceState) -> &'static str {
    match s {
        FaceState::Classified => "classified",
        FaceState::TooSmall => "too_small",
        FaceState::LowDetectorScore => "low_detector_score",
        FaceState::ClassifierFailed => "classifier_failed",
    }
}

fn track_summaries(rows: &[TrackRow]) -> Vec<TrackSummary> {
    let mut sorted: Vec<&TrackRow> = rows.iter().filter(|r| r.track_id > 0).collect();
    sorted.sort_by_key(|r| (r.track_id, r.frame));
    let mut out: Vec<TrackSummary> = Vec::new();
    for r in sorted {
        let label = if r.state == "classified" {
            r.top_label
        } else {
            "unclassified"
        };
        let new_track = out.last().is_none_or(|t| t.track_id != r.track_id);
        if new_track {
            out.push(TrackSummary {
                track_id: r.track_id,
                first_stamp_ns: r.stamp_ns,
                last_stamp_ns: r.stamp_ns,
                frames: 0,
                classified_frames: 0,
                dominant_label: String::new(),
                mean_face_size_px: 0.0,
                timeline: Vec::new(),
            });
        }
        let Some(t) = out.last_mut() else { continue };
        t.last_stamp_ns = r.stamp_ns;
        t.frames += 1;
        t.mean_face_size_px += r.face_size_px as f64;
        if r.state == "classified" {
            t.classified_frames += 1;
        }
        match t.timeline.last_mut() {
            Some(seg) if seg.label == label => {
                seg.end_stamp_ns = r.stamp_ns;
                seg.frames += 1;
            }
            _ => t.timeline.push(Segment {
                label: label.to_string(),
                start_stamp_ns: r.stamp_ns,
                end_stamp_ns: r.stamp_ns,
                frames: 1,
            }),
        }
    }
    for t in &mut out {
        t.mean_face_size_px /= t.frames.max(1) as f64;
        let mut counts = [0u64; EMOTIONS.len()];
        for seg in &t.timeline {
            if let Some(i) = EMOTIONS.iter().position(|e| *e == seg.label) {
                counts[i] += seg.frames;
            }
        }
        // Ties go to the lower class index: deterministic.
        let best = (0..counts.len()).max_by_key(|&i| (counts[i], std::cmp::Reverse(i)));
        if let Some(i) = best.filter(|&i| counts[i] > 0) {
            t.dominant_label = EMOTIONS[i].to_string();
        }
    }
    out
}

/// Evaluate the bag; on success the output directory exists and is complete.
pub fn run(opts: &Options) -> Result<Report> {
    let bag = Bag::open(&opts.input)?;
    let (topic, msg_type) = pick_topic(&bag, opts.topic.as_deref())?;
    let total = bag.topic(&topic).map(|t| t.count).unwrap_or(0);
    let mut truth = match &opts.ground_truth {
        Some(p) => Some(GroundTruth::load(p, opts.gt_iou)?),
        None => None,
    };

    // Destination checks before the (slow) model load.
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

    let mut pipeline = Pipeline::new(&opts.pipeline).context("cannot build the pipeline")?;

    let tmp_path = parent.join(format!(".{name}.partial-{}", std::process::id()));
    if tmp_path.exists() {
        std::fs::remove_dir_all(&tmp_path)?;
    }
    let mut tmp = TempDir(Some(tmp_path.clone()));
    let mut writer = BagWriter::create(&tmp_path, &name)?;
    let emotions_topic = join_ns(&opts.namespace, "emotions");
    let h_emotions = writer.add_topic(&emotions_topic, FACE_EMOTION_ARRAY_TYPE)?;
    let mut output_topics = vec![emotions_topic];
    let h_annotated = match opts.annotated {
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
    let h_input = if opts.copy_input {
        if output_topics.contains(&topic) {
            bail!("input topic {topic} collides with an output topic; change --namespace");
        }
        output_topics.push(topic.clone());
        Some(writer.add_topic(&topic, &msg_type)?)
    } else {
        None
    };

    let compressed = msg_type == COMPRESSED_IMAGE_TYPE;
    let mut rgb = RgbImage::new(0, 0);
    let mut annotated = RgbImage::new(0, 0);
    let mut jpeg: Vec<u8> = Vec::new();
    // Bag writing runs on its own thread so disk I/O overlaps inference (the
    // pipeline itself stays single-threaded). One in-order channel keeps the
    // output deterministic; its bound caps memory at a few frames.
    let (tx, rx) = std::sync::mpsc::sync_channel::<(usize, u64, Vec<u8>)>(8);
    let writer_thread = std::thread::Builder::new()
        .name("bag-writer".into())
        .spawn(move || -> Result<()> {
            for (h, t, data) in rx {
                writer.write(h, t, &data)?;
            }
            writer.finish()
        })?;
    // A send fails only when the writer thread stopped on an error, which
    // joining it reports.
    let send = |h: usize, t: u64, data: Vec<u8>| -> Result<()> {
        tx.send((h, t, data))
            .map_err(|_| anyhow!("the bag writer stopped"))
    };
    let mut frames: Vec<FrameRow> = Vec::new();
    let mut tracks: Vec<TrackRow> = Vec::new();
    let mut skipped = 0u64;
    let mut index = 0u64;
    let mut last_stamp: Option<i64> = None;
    let start = Instant::now();
    let mut progress = Progress {
        enabled: opts.progress,
        tty: std::io::stderr().is_terminal(),
        total: opts.max_frames.map_or(total, |m| m.min(total)),
        start,
        last: start,
    };
    let zero = opts.deterministic;

    let processed = bag.for_each_message(&topic, |m| {
        if opts.max_frames.is_some_and(|max| index >= max) {
            return Ok(ControlFlow::Break(()));
        }
        let this = index;
        index += 1;
        let t0 = Instant::now();
        // Decode the CDR message, then the pixels; both are untrusted.
        let decoded: Result<Header> = if compressed {
            CompressedImage::decode(m.data)
                .map_err(anyhow::Error::from)
                .and_then(|c| {
                    compressed_to_rgb(&c.format, c.data, opts.max_pixels, &mut rgb)?;
                    Ok(c.header)
                })
        } else {
            Image::decode(m.data)
                .map_err(anyhow::Error::from)
                .and_then(|i| {
                    raw_to_rgb(
                        i.width,
                        i.height,
                        &i.encoding,
                        i.is_bigendian != 0,
                        i.step,
                        i.data,
                        opts.max_pixels,
                        &mut rgb,
                    )?;
                    Ok(i.header)
                })
        };
        let header = match decoded {
            Ok(h) => h,
            Err(e) => {
                let msg = format!(
                    "frame {this} (log time {} ns) on {topic} cannot be decoded: {e:#}",
                    m.log_time
                );
                if opts.skip_bad_frames {
                    skipped += 1;
                    eprintln!("\nwarning: {msg} (skipped)");
                    return Ok(ControlFlow::Continue(()));
                }
                bail!("{msg} (use --skip-bad-frames to skip such frames)");
            }
        };
        let decode_ms = t0.elapsed().as_secs_f64() * 1e3;
        // Same policy as the node: time going backwards (a looped bag) must not
        // carry tracks over.
        let stamp = header.stamp_ns();
        if last_stamp.is_some_and(|l| stamp < l) {
            pipeline.reset();
        }
        last_stamp = Some(stamp);
        let out = pipeline
            .process(&rgb)
            .with_context(|| format!("pipeline failed on frame {this}"))?;
        // An evaluation with some faces unclassified by an error is not a result.
        if let Some(e) = &out.classify_error {
            bail!("pipeline failed on frame {this}: {e}");
        }
        let processing_ms = if zero {
            0.0
        } else {
            t0.elapsed().as_secs_f64() * 1e3
        };

        let msg = FaceEmotionArray {
            header: header.clone(),
            image_width: rgb.width(),
            image_height: rgb.height(),
            processing_time_ms: processing_ms as f32,
            faces: out.faces.iter().map(FaceEmotion::from_result).collect(),
        };
        send(h_emotions, m.log_time, msg.encode_into(Vec::new()))?;

        if let Some(h) = h_annotated {
            annotated.clone_from(&rgb);
            annotate::draw_faces(&mut annotated, &out.faces);
            let data = if opts.annotated == Annotated::Jpeg {
                jpeg.clear();
                image::codecs::jpeg::JpegEncoder::new_with_quality(&mut jpeg, 90)
                    .encode_image(&annotated)
                    .context("cannot encode the annotated JPEG")?;
                CompressedImage {
                    header: header.clone(),
                    format: "jpeg".into(),
                    data: &jpeg,
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
            };
            send(h, m.log_time, data)?;
        }
        if let Some(h) = h_input {
            send(h, m.log_time, m.data.to_vec())?;
        }

        if let Some(gt) = truth.as_mut() {
            gt.score(this, stamp, &out.faces);
        }
        for f in &out.faces {
            let (top, conf) = f.top();
            let classified = f.state == FaceState::Classified;
            tracks.push(TrackRow {
                track_id: f.track_id,
                frame: this,
                stamp_ns: stamp,
                state: state_name(f.state),
                top_label: if classified { EMOTIONS[top] } else { "" },
                top_confidence: if classified { conf } else { 0.0 },
                x: f.detection.bbox.x,
                y: f.detection.bbox.y,
                width: f.detection.bbox.w,
                height: f.detection.bbox.h,
                face_size_px: f.size_px,
            });
        }
        frames.push(FrameRow {
            index: this,
            log_time_ns: m.log_time,
            stamp_ns: stamp,
            width: rgb.width(),
            height: rgb.height(),
            faces: out.faces.len(),
            classified: out
                .faces
                .iter()
                .filter(|f| f.state == FaceState::Classified)
                .count(),
            decode_ms: if zero { 0.0 } else { decode_ms },
            timings: if zero {
                StageTimings::default()
            } else {
                out.timings
            },
            processing_ms,
        });
        progress.update(frames.len() as u64 + skipped, false);
        Ok(ControlFlow::Continue(()))
    });
    // Close the channel and wait for the writer before looking at any result:
    // its error (disk full, ...) is the root cause when sends failed.
    drop(tx);
    let written = writer_thread
        .join()
        .map_err(|_| anyhow!("the bag writer thread panicked"))?;
    written?;
    processed?;
    progress.update(frames.len() as u64 + skipped, true);
    if frames.is_empty() {
        bail!(
            "no frame of {topic} could be processed ({} messages, {skipped} skipped)",
            total
        );
    }
    let wall_s = start.elapsed().as_secs_f64();
    let fps = frames.len() as f64 / wall_s.max(1e-9);

    // ---- summary ----
    let n = frames.len() as u64;
    let faces_total: u64 = frames.iter().map(|f| f.faces as u64).sum();
    let max_faces = frames.iter().map(|f| f.faces).max().unwrap_or(0);
    let mut histogram = vec![0u64; max_faces + 1];
    for f in &frames {
        histogram[f.faces] += 1;
    }
    let col = |g: fn(&FrameRow) -> f64| stat(frames.iter().map(g).collect());
    let mut timings_ms = std::collections::BTreeMap::new();
    timings_ms.insert("decode", col(|f| f.decode_ms));
    timings_ms.insert("detect", col(|f| f.timings.detect_ms));
    timings_ms.insert("align", col(|f| f.timings.align_ms));
    timings_ms.insert("classify", col(|f| f.timings.classify_ms));
    timings_ms.insert("track", col(|f| f.timings.track_ms));
    timings_ms.insert("pipeline", col(|f| f.timings.total_ms));
    timings_ms.insert("processing", col(|f| f.processing_ms));
    let metrics = match truth {
        Some(gt) => Some(gt.finish()?),
        None => None,
    };
    let summary = Summary {
        format: "lowres_fer.bag_summary.v1",
        input: opts.input.display().to_string(),
        storage: bag.storage.name(),
        topic: topic.clone(),
        msg_type,
        messages_in_topic: total,
        frames_processed: n,
        frames_skipped_bad: skipped,
        faces_total,
        faces_per_frame: FacesPerFrame {
            mean: faces_total as f64 / n as f64,
            max: max_faces,
            histogram,
        },
        timings_ms,
        throughput_fps: if zero { 0.0 } else { fps },
        wall_s: if zero { 0.0 } else { wall_s },
        output_topics,
        tracks: track_summaries(&tracks),
        ground_truth: metrics,
        config: pipeline.config().clone(),
    };
    let json = serde_json::to_string_pretty(&summary)?;
    std::fs::write(tmp_path.join("summary.json"), json + "\n")?;
    csv_write(
        &tmp_path.join("frames.csv"),
        &frames,
        &[
            "index",
            "log_time_ns",
            "stamp_ns",
            "width",
            "height",
            "faces",
            "classified",
            "decode_ms",
            "detect_ms",
            "align_ms",
            "classify_ms",
            "track_ms",
            "total_ms",
            "processing_ms",
        ],
    )?;
    let mut by_track: Vec<&TrackRow> = tracks.iter().collect();
    by_track.sort_by_key(|r| (r.track_id, r.frame));
    let by_track: Vec<TrackRow> = by_track.into_iter().cloned().collect();
    csv_write(
        &tmp_path.join("tracks.csv"),
        &by_track,
        &[
            "track_id",
            "frame",
            "stamp_ns",
            "state",
            "top_label",
            "top_confidence",
            "x",
            "y",
            "width",
            "height",
            "face_size_px",
        ],
    )?;

    // ---- commit: replace the destination atomically ----
    output_dir::write_marker(&tmp_path)?;
    // --overwrite: the old output goes only once the new one is complete, and
    // only if it still is nothing but a previous result.
    output_dir::remove_previous(&opts.input, out)?;
    std::fs::rename(&tmp_path, out)
        .with_context(|| format!("cannot move the result to {}", out.display()))?;
    tmp.0 = None;
    Ok(Report {
        frames: n,
        skipped,
        faces: faces_total,
        wall_s,
        fps,
        output: out.clone(),
    })
}
