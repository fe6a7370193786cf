//! The bag tool's per-frame and per-track records and the reports built from
//! them: frames.csv, tracks.csv and the statistics of summary.json. Pure data
//! work over the frame step's output, unit-tested without models.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{anyhow, Context, Result};
use serde::Serialize;

use crate::face::{FaceState, EMOTIONS};
use crate::frame::StepOutput;
use crate::pipeline::StageTimings;

/// One processed frame (a row of frames.csv).
#[derive(Debug, Clone, Serialize)]
pub(super) struct FrameRow {
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
pub(super) struct TrackRow {
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
pub(super) struct Segment {
    label: String,
    start_stamp_ns: i64,
    end_stamp_ns: i64,
    frames: u64,
}

#[derive(Debug, Clone, Serialize)]
pub(super) struct TrackSummary {
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
pub(super) struct Stat {
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

#[derive(Debug, Clone, Default, Serialize)]
pub(super) struct FacesPerFrame {
    mean: f64,
    max: usize,
    /// histogram[k] = number of frames with k faces.
    histogram: Vec<u64>,
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

fn track_summaries(rows: &[TrackRow]) -> Vec<TrackSummary> {
    let mut sorted: Vec<&TrackRow> = rows.iter().filter(|r| r.track_id > 0).collect();
    sorted.sort_by_key(|r| (r.track_id, r.frame));
    let mut out: Vec<TrackSummary> = Vec::new();
    for r in sorted {
        let label = if r.state == FaceState::Classified.name() {
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
        if r.state == FaceState::Classified.name() {
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

/// Every processed frame and every face of it, in processing order.
#[derive(Debug, Default)]
pub(super) struct Rows {
    pub(super) frames: Vec<FrameRow>,
    tracks: Vec<TrackRow>,
}

impl Rows {
    /// Record one processed frame: message `index` of the topic, logged at `log_time_ns`.
    pub(super) fn push(&mut self, index: u64, log_time_ns: u64, out: &StepOutput<'_>) {
        let msg = out.msg;
        let stamp = msg.header.stamp_ns();
        for f in out.faces {
            let (top, conf) = f.top();
            let classified = f.state == FaceState::Classified;
            self.tracks.push(TrackRow {
                track_id: f.track_id,
                frame: index,
                stamp_ns: stamp,
                state: f.state.name(),
                top_label: if classified { EMOTIONS[top] } else { "" },
                top_confidence: if classified { conf } else { 0.0 },
                x: f.detection.bbox.x,
                y: f.detection.bbox.y,
                width: f.detection.bbox.w,
                height: f.detection.bbox.h,
                face_size_px: f.size_px,
            });
        }
        self.frames.push(FrameRow {
            index,
            log_time_ns,
            stamp_ns: stamp,
            width: msg.image_width,
            height: msg.image_height,
            faces: out.faces.len(),
            classified: out
                .faces
                .iter()
                .filter(|f| f.state == FaceState::Classified)
                .count(),
            decode_ms: out.timings.decode_ms,
            timings: out.timings.stages,
            processing_ms: out.timings.processing_ms,
        });
    }

    pub(super) fn faces_total(&self) -> u64 {
        self.frames.iter().map(|f| f.faces as u64).sum()
    }

    pub(super) fn faces_per_frame(&self) -> FacesPerFrame {
        let max = self.frames.iter().map(|f| f.faces).max().unwrap_or(0);
        let mut histogram = vec![0u64; max + 1];
        for f in &self.frames {
            histogram[f.faces] += 1;
        }
        FacesPerFrame {
            mean: self.faces_total() as f64 / self.frames.len().max(1) as f64,
            max,
            histogram,
        }
    }

    /// Per-stage latency statistics in ms.
    pub(super) fn timings_ms(&self) -> BTreeMap<&'static str, Stat> {
        let col = |g: fn(&FrameRow) -> f64| stat(self.frames.iter().map(g).collect());
        let mut t = BTreeMap::new();
        t.insert("decode", col(|f| f.decode_ms));
        t.insert("detect", col(|f| f.timings.detect_ms));
        t.insert("align", col(|f| f.timings.align_ms));
        t.insert("classify", col(|f| f.timings.classify_ms));
        t.insert("track", col(|f| f.timings.track_ms));
        t.insert("pipeline", col(|f| f.timings.total_ms));
        t.insert("processing", col(|f| f.processing_ms));
        t
    }

    pub(super) fn track_summaries(&self) -> Vec<TrackSummary> {
        track_summaries(&self.tracks)
    }

    /// frames.csv (processing order) and tracks.csv (by track, then frame) in `dir`.
    pub(super) fn write_csv(&self, dir: &Path) -> Result<()> {
        csv_write(
            &dir.join("frames.csv"),
            &self.frames,
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
        let mut by_track: Vec<&TrackRow> = self.tracks.iter().collect();
        by_track.sort_by_key(|r| (r.track_id, r.frame));
        let by_track: Vec<TrackRow> = by_track.into_iter().cloned().collect();
        csv_write(
            &dir.join("tracks.csv"),
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
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(track_id: u64, frame: u64, state: &'static str, label: &'static str) -> TrackRow {
        TrackRow {
            track_id,
            frame,
            stamp_ns: frame as i64 * 10,
            state,
            top_label: label,
            top_confidence: 0.9,
            x: 0.0,
            y: 0.0,
            width: 10.0,
            height: 10.0,
            face_size_px: 10.0 + frame as f32,
        }
    }

    #[test]
    fn track_timelines_and_dominant_labels() {
        let rows = [
            row(2, 0, "classified", "happiness"),
            row(1, 0, "classified", "anger"),
            row(2, 1, "classified", "happiness"),
            row(2, 2, "too_small", ""),
            row(2, 3, "classified", "neutral"),
            row(0, 3, "classified", "fear"), // untracked: no summary
        ];
        let t = track_summaries(&rows);
        assert_eq!(t.iter().map(|t| t.track_id).collect::<Vec<_>>(), [1, 2]);
        let two = &t[1];
        assert_eq!((two.frames, two.classified_frames), (4, 3));
        assert_eq!(two.dominant_label, "happiness");
        let labels: Vec<(&str, u64)> = two
            .timeline
            .iter()
            .map(|s| (s.label.as_str(), s.frames))
            .collect();
        assert_eq!(
            labels,
            [("happiness", 2), ("unclassified", 1), ("neutral", 1)]
        );
        assert_eq!((two.first_stamp_ns, two.last_stamp_ns), (0, 30));
        assert!((two.mean_face_size_px - 11.5).abs() < 1e-9);
    }

    #[test]
    fn stat_percentiles_and_empty() {
        let s = stat((1..=100).map(f64::from).collect());
        assert_eq!((s.p50, s.p95, s.max), (51.0, 95.0, 100.0));
        assert!((s.mean - 50.5).abs() < 1e-9);
        let e = stat(Vec::new());
        assert_eq!((e.mean, e.max), (0.0, 0.0));
    }

    #[test]
    fn faces_per_frame_histogram() {
        let mut r = Rows::default();
        for faces in [0, 2, 2, 1] {
            r.frames.push(FrameRow {
                index: 0,
                log_time_ns: 0,
                stamp_ns: 0,
                width: 1,
                height: 1,
                faces,
                classified: 0,
                decode_ms: 1.0,
                timings: StageTimings::default(),
                processing_ms: 2.0,
            });
        }
        let f = r.faces_per_frame();
        assert_eq!((f.max, f.histogram.clone()), (2, vec![1, 1, 2]));
        assert!((f.mean - 1.25).abs() < 1e-9);
        assert_eq!(r.faces_total(), 5);
        assert_eq!(r.timings_ms()["processing"].max, 2.0);
        assert_eq!(Rows::default().faces_per_frame().histogram, vec![0]);
    }
}
