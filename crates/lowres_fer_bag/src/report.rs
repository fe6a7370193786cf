//! The bag tool's per-frame and per-track records and the reports built from
//! them: frames.csv, tracks.csv and the statistics of summary.json.
//!
//! Memory stays bounded whatever the bag's length (issue 11):
//! - frames.csv rows are written as they come (buffered);
//! - latency statistics are kept in a fixed log-scale histogram per stage
//!   ([`StatAcc`]): exact count, mean and max, p50/p95 within 0.5 %. A
//!   histogram rather than a reservoir because it is deterministic (the
//!   `--deterministic` outputs stay byte-identical) and its error does not
//!   depend on the number of frames;
//! - tracks.csv is sorted by track with an external merge sort ([`TrackSorter`]):
//!   runs of at most [`RUN_ROWS`] rows are sorted in memory and spilled to
//!   disk, then merged while tracks.csv and the per-track summaries of
//!   summary.json are written in one streaming pass ([`Tracks`]), so no
//!   track's timeline is ever held whole.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::fs::File;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde::ser::{SerializeSeq, SerializeStruct};
use serde::{Deserialize, Serialize, Serializer};

use lowres_fer::face::{FaceState, EMOTIONS};
use lowres_fer::frame::StepOutput;
use lowres_fer::pipeline::StageTimings;

const FRAMES_HEADER: &[&str] = &[
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
];

const TRACKS_HEADER: &[&str] = &[
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
];

/// Track rows sorted in memory per run: ~100 B each, so a run costs a few MB.
pub(super) const RUN_ROWS: usize = 32_768;
/// Runs merged at once; beyond that they are first merged into one run, so
/// the number of open files stays bounded too.
const MAX_RUNS: usize = 64;

/// One processed frame (a row of frames.csv, fields in [`FRAMES_HEADER`] order).
#[derive(Debug, Clone)]
struct FrameRow {
    index: u64,
    log_time_ns: u64,
    stamp_ns: i64,
    width: u32,
    height: u32,
    faces: usize,
    classified: usize,
    decode_ms: f64,
    timings: StageTimings,
    processing_ms: f64,
}

/// By hand because the csv crate cannot write serde's `flatten` (a map).
impl Serialize for FrameRow {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let t = &self.timings;
        let mut r = s.serialize_struct("FrameRow", FRAMES_HEADER.len())?;
        r.serialize_field("index", &self.index)?;
        r.serialize_field("log_time_ns", &self.log_time_ns)?;
        r.serialize_field("stamp_ns", &self.stamp_ns)?;
        r.serialize_field("width", &self.width)?;
        r.serialize_field("height", &self.height)?;
        r.serialize_field("faces", &self.faces)?;
        r.serialize_field("classified", &self.classified)?;
        r.serialize_field("decode_ms", &Num(self.decode_ms))?;
        r.serialize_field("detect_ms", &Num(t.detect_ms))?;
        r.serialize_field("align_ms", &Num(t.align_ms))?;
        r.serialize_field("classify_ms", &Num(t.classify_ms))?;
        r.serialize_field("track_ms", &Num(t.track_ms))?;
        r.serialize_field("total_ms", &Num(t.total_ms))?;
        r.serialize_field("processing_ms", &Num(self.processing_ms))?;
        r.end()
    }
}

/// One face of one frame of a track (a row of tracks.csv, fields in
/// [`TRACKS_HEADER`] order).
#[derive(Debug, Clone, Serialize)]
struct TrackRow {
    track_id: u64,
    frame: u64,
    stamp_ns: i64,
    state: &'static str,
    top_label: &'static str,
    #[serde(serialize_with = "num32")]
    top_confidence: f32,
    #[serde(serialize_with = "num32")]
    x: f32,
    #[serde(serialize_with = "num32")]
    y: f32,
    #[serde(serialize_with = "num32")]
    width: f32,
    #[serde(serialize_with = "num32")]
    height: f32,
    #[serde(serialize_with = "num32")]
    face_size_px: f32,
}

/// A CSV number spelled as serde_json spells it in summary.json (`1e+17`,
/// `null` for NaN; f32 widened to f64 as serde_json's values do), which the
/// csv crate's own float format (`1e17`, `NaN`) is not: the CSVs stay as
/// they were.
struct Num(f64);

impl Serialize for Num {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let text = serde_json::to_string(&self.0).map_err(serde::ser::Error::custom)?;
        s.serialize_str(&text)
    }
}

fn num32<S: Serializer>(v: &f32, s: S) -> Result<S::Ok, S::Error> {
    Num(f64::from(*v)).serialize(s)
}

/// A CSV writer of this module: no automatic header (each file writes its
/// own, even when it gets no rows), `\n` line ends. Fields are numbers and
/// labels from fixed sets: nothing is ever quoted.
fn csv_writer(path: &Path) -> Result<csv::Writer<File>> {
    let f = File::create(path).with_context(|| format!("cannot create {}", path.display()))?;
    Ok(csv::WriterBuilder::new().has_headers(false).from_writer(f))
}

#[derive(Debug, Clone, Default, Serialize)]
pub(super) struct Stat {
    mean: f64,
    p50: f64,
    p95: f64,
    max: f64,
}

/// Bins per factor of 10: adjacent bin edges differ by 1 %, so a bin's
/// geometric middle is within 0.5 % of any value in it.
const BINS_PER_DECADE: f64 = 231.0;
/// Smallest value with its own bin (1 ns in ms); smaller ones share bin 0.
const STAT_MIN: f64 = 1e-6;
/// 1 ns .. 10^4 s: 13 decades. Larger values share the last bin (their max is exact).
const STAT_BINS: usize = 13 * 231 + 2;

/// Streaming statistics of one latency column: exact count, mean, min and
/// max; quantiles from a fixed log-scale histogram (24 KB, whatever the count).
#[derive(Debug, Clone)]
pub(super) struct StatAcc {
    n: u64,
    sum: f64,
    min: f64,
    max: f64,
    bins: Vec<u64>,
}

impl Default for StatAcc {
    fn default() -> Self {
        Self {
            n: 0,
            sum: 0.0,
            min: f64::INFINITY,
            max: f64::NEG_INFINITY,
            bins: vec![0; STAT_BINS],
        }
    }
}

impl StatAcc {
    fn bin(v: f64) -> usize {
        // Below the range, and NaN, go to bin 0.
        if v.is_nan() || v < STAT_MIN {
            return 0;
        }
        let b = 1.0 + ((v / STAT_MIN).log10() * BINS_PER_DECADE).floor();
        (b as usize).min(STAT_BINS - 1)
    }

    /// Geometric middle of bin `b` (> 0).
    fn middle(b: usize) -> f64 {
        STAT_MIN * 10f64.powf((b as f64 - 0.5) / BINS_PER_DECADE)
    }

    pub(super) fn add(&mut self, v: f64) {
        self.n += 1;
        self.sum += v;
        self.min = self.min.min(v);
        self.max = self.max.max(v);
        self.bins[Self::bin(v)] += 1;
    }

    /// The value of rank round((n-1) p) in sorted order (as the exact
    /// computation did), to within its bin, clamped to the observed range.
    fn quantile(&self, p: f64) -> f64 {
        let rank = ((self.n - 1) as f64 * p).round() as u64;
        let mut seen = 0u64;
        for (b, &c) in self.bins.iter().enumerate() {
            seen += c;
            if seen > rank {
                let v = if b == 0 { self.min } else { Self::middle(b) };
                return v.clamp(self.min, self.max);
            }
        }
        self.max
    }

    fn stat(&self) -> Stat {
        if self.n == 0 {
            return Stat::default();
        }
        Stat {
            mean: self.sum / self.n as f64,
            p50: self.quantile(0.5),
            p95: self.quantile(0.95),
            max: self.max,
        }
    }
}

impl Stat {
    pub(super) fn p50(&self) -> f64 {
        self.p50
    }
    pub(super) fn p95(&self) -> f64 {
        self.p95
    }
    pub(super) fn max(&self) -> f64 {
        self.max
    }
}

#[derive(Debug, Clone, Default, Serialize)]
pub(super) struct FacesPerFrame {
    mean: f64,
    max: usize,
    /// histogram[k] = number of frames with k faces.
    histogram: Vec<u64>,
}

impl FacesPerFrame {
    pub(super) fn mean(&self) -> f64 {
        self.mean
    }
    pub(super) fn histogram(&self) -> &[u64] {
        &self.histogram
    }
}

/// The latency columns of frames.csv summarised in summary.json.
const STAGES: [&str; 7] = [
    "decode",
    "detect",
    "align",
    "classify",
    "track",
    "pipeline",
    "processing",
];

/// Frame and face records of a run, written or summarised as they come.
pub(super) struct Rows {
    frames_csv: csv::Writer<File>,
    frames_path: PathBuf,
    tracks: TrackSorter,
    frames: u64,
    faces_total: u64,
    /// faces_hist[k] = frames with k faces (bounded by the detector's max faces).
    faces_hist: Vec<u64>,
    timings: [StatAcc; 7],
}

impl Rows {
    /// Records for an output directory `dir`: frames.csv is created now, the
    /// track runs go to a hidden spill directory removed by [`Rows::finish`].
    pub(super) fn create(dir: &Path) -> Result<Self> {
        Self::with_run_rows(dir, RUN_ROWS)
    }

    fn with_run_rows(dir: &Path, run_rows: usize) -> Result<Self> {
        let frames_path = dir.join("frames.csv");
        let mut frames_csv = csv_writer(&frames_path)?;
        frames_csv
            .write_record(FRAMES_HEADER)
            .with_context(|| format!("cannot write {}", frames_path.display()))?;
        Ok(Self {
            frames_csv,
            frames_path,
            tracks: TrackSorter::new(dir.join(".tracks.spill"), run_rows),
            frames: 0,
            faces_total: 0,
            faces_hist: Vec::new(),
            timings: Default::default(),
        })
    }

    /// Record one processed frame: message `index` of the topic, logged at `log_time_ns`.
    pub(super) fn push(
        &mut self,
        index: u64,
        log_time_ns: u64,
        out: &StepOutput<'_>,
    ) -> Result<()> {
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
            })?;
        }
        let row = FrameRow {
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
        };
        self.add_frame(&row)
    }

    fn add_frame(&mut self, row: &FrameRow) -> Result<()> {
        self.frames_csv
            .serialize(row)
            .with_context(|| format!("cannot write {}", self.frames_path.display()))?;
        self.frames += 1;
        self.faces_total += row.faces as u64;
        if self.faces_hist.len() <= row.faces {
            self.faces_hist.resize(row.faces + 1, 0);
        }
        self.faces_hist[row.faces] += 1;
        let t = &row.timings;
        let values = [
            row.decode_ms,
            t.detect_ms,
            t.align_ms,
            t.classify_ms,
            t.track_ms,
            t.total_ms,
            row.processing_ms,
        ];
        for (acc, v) in self.timings.iter_mut().zip(values) {
            acc.add(v);
        }
        Ok(())
    }

    pub(super) fn frames(&self) -> u64 {
        self.frames
    }

    pub(super) fn faces_total(&self) -> u64 {
        self.faces_total
    }

    pub(super) fn faces_per_frame(&self) -> FacesPerFrame {
        let histogram = if self.faces_hist.is_empty() {
            vec![0]
        } else {
            self.faces_hist.clone()
        };
        FacesPerFrame {
            mean: self.faces_total as f64 / self.frames.max(1) as f64,
            max: histogram.len() - 1,
            histogram,
        }
    }

    /// Per-stage latency statistics in ms.
    pub(super) fn timings_ms(&self) -> BTreeMap<&'static str, Stat> {
        STAGES
            .iter()
            .zip(&self.timings)
            .map(|(name, acc)| (*name, acc.stat()))
            .collect()
    }

    /// Flush frames.csv and get ready to merge the track rows: the returned
    /// [`Tracks`] is serialized into summary.json, writing `dir`/tracks.csv
    /// as it goes; then call [`Tracks::finish`].
    pub(super) fn finish(mut self, dir: &Path) -> Result<Tracks> {
        self.frames_csv
            .flush()
            .with_context(|| format!("cannot write {}", self.frames_path.display()))?;
        let merge = self.tracks.merge()?;
        let path = dir.join("tracks.csv");
        let mut csv = csv_writer(&path)?;
        csv.write_record(TRACKS_HEADER)
            .with_context(|| format!("cannot write {}", path.display()))?;
        Ok(Tracks(RefCell::new(TrackStream {
            merge,
            csv,
            path,
            peeked: None,
            done: false,
        })))
    }
}

/// The key and the fields of a spilled tracks.csv row the summaries need.
#[derive(Debug, Clone)]
struct Parsed {
    track_id: u64,
    frame: u64,
    stamp_ns: i64,
    classified: bool,
    /// Index in [`EMOTIONS`] when classified.
    label: Option<usize>,
    face_size_px: f64,
}

/// A spilled row as read back (the fields the summaries do not need are
/// copied to tracks.csv as they are).
#[derive(Deserialize)]
struct Spilled<'a> {
    track_id: u64,
    frame: u64,
    stamp_ns: i64,
    state: &'a str,
    top_label: &'a str,
    _top_confidence: &'a str,
    _x: &'a str,
    _y: &'a str,
    _width: &'a str,
    _height: &'a str,
    face_size_px: f64,
}

fn parse_record(r: &csv::StringRecord) -> Result<Parsed> {
    let row: Spilled = r
        .deserialize(None)
        .with_context(|| format!("spilled track row {:?}", r.iter().collect::<Vec<_>>()))?;
    Ok(Parsed {
        track_id: row.track_id,
        frame: row.frame,
        stamp_ns: row.stamp_ns,
        classified: row.state == FaceState::Classified.name(),
        label: EMOTIONS.iter().position(|e| *e == row.top_label),
        face_size_px: row.face_size_px,
    })
}

/// External sort of the track rows by (track id, frame).
struct TrackSorter {
    dir: PathBuf,
    run_rows: usize,
    buf: Vec<TrackRow>,
    runs: Vec<PathBuf>,
    next_run: usize,
}

impl TrackSorter {
    fn new(dir: PathBuf, run_rows: usize) -> Self {
        Self {
            dir,
            run_rows: run_rows.max(1),
            buf: Vec::new(),
            runs: Vec::new(),
            next_run: 0,
        }
    }

    fn push(&mut self, row: TrackRow) -> Result<()> {
        self.buf.push(row);
        if self.buf.len() >= self.run_rows {
            self.spill()?;
        }
        Ok(())
    }

    fn new_run_path(&mut self) -> Result<PathBuf> {
        if self.next_run == 0 {
            std::fs::create_dir_all(&self.dir)
                .with_context(|| format!("cannot create {}", self.dir.display()))?;
        }
        let p = self.dir.join(format!("run{}.csv", self.next_run));
        self.next_run += 1;
        Ok(p)
    }

    /// Sort the buffered rows into a new run file.
    fn spill(&mut self) -> Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        // Stable: rows arrive in frame order, so equal keys keep it.
        self.buf.sort_by_key(|r| (r.track_id, r.frame));
        let path = self.new_run_path()?;
        let mut w = csv_writer(&path)?;
        for r in self.buf.drain(..) {
            w.serialize(&r)
                .with_context(|| format!("cannot write {}", path.display()))?;
        }
        w.flush()
            .with_context(|| format!("cannot write {}", path.display()))?;
        self.runs.push(path);
        if self.runs.len() >= MAX_RUNS {
            // Too many files to keep open: fold them into one run.
            let merged = self.new_run_path()?;
            let mut m = Merge::open(std::mem::take(&mut self.runs), None)?;
            let mut w = csv_writer(&merged)?;
            while let Some((record, _)) = m.next()? {
                w.write_record(&record)
                    .with_context(|| format!("cannot write {}", merged.display()))?;
            }
            w.flush()
                .with_context(|| format!("cannot write {}", merged.display()))?;
            m.remove_files();
            self.runs.push(merged);
        }
        Ok(())
    }

    /// All rows in (track id, frame) order.
    fn merge(mut self) -> Result<Merge> {
        self.spill()?;
        Merge::open(std::mem::take(&mut self.runs), Some(self.dir.clone()))
    }
}

/// k-way merge of sorted run files (k <= [`MAX_RUNS`]).
struct Merge {
    readers: Vec<(csv::Reader<File>, PathBuf)>,
    /// The next row of each reader, with its parsed key.
    heads: Vec<Option<(csv::StringRecord, Parsed)>>,
    /// Removed (with the runs) once the merge is done.
    dir: Option<PathBuf>,
}

impl Merge {
    fn open(runs: Vec<PathBuf>, dir: Option<PathBuf>) -> Result<Self> {
        let mut m = Self {
            readers: Vec::new(),
            heads: Vec::new(),
            dir,
        };
        for p in runs {
            let f = File::open(&p).with_context(|| format!("cannot open {}", p.display()))?;
            let reader = csv::ReaderBuilder::new().has_headers(false).from_reader(f);
            m.readers.push((reader, p));
        }
        for i in 0..m.readers.len() {
            let h = m.read(i)?;
            m.heads.push(h);
        }
        Ok(m)
    }

    fn read(&mut self, i: usize) -> Result<Option<(csv::StringRecord, Parsed)>> {
        let (r, p) = &mut self.readers[i];
        let mut record = csv::StringRecord::new();
        let more = r
            .read_record(&mut record)
            .with_context(|| format!("cannot read {}", p.display()))?;
        if !more {
            return Ok(None);
        }
        let parsed = parse_record(&record)?;
        Ok(Some((record, parsed)))
    }

    /// The smallest next row; ties go to the earlier run (keeps the order stable).
    fn next(&mut self) -> Result<Option<(csv::StringRecord, Parsed)>> {
        let best = self
            .heads
            .iter()
            .enumerate()
            .filter_map(|(i, h)| h.as_ref().map(|(_, p)| ((p.track_id, p.frame), i)))
            .min();
        let Some((_, i)) = best else { return Ok(None) };
        let next = self.read(i)?;
        Ok(std::mem::replace(&mut self.heads[i], next))
    }

    fn remove_files(&mut self) {
        for (_, p) in self.readers.drain(..) {
            let _ = std::fs::remove_file(p);
        }
        if let Some(d) = self.dir.take() {
            let _ = std::fs::remove_dir_all(d);
        }
    }
}

/// The merge in progress: every row pulled from it is also written to tracks.csv.
struct TrackStream {
    merge: Merge,
    csv: csv::Writer<File>,
    path: PathBuf,
    peeked: Option<Parsed>,
    done: bool,
}

impl TrackStream {
    fn pull(&mut self) -> Result<Option<Parsed>> {
        if self.done {
            return Ok(None);
        }
        match self.merge.next()? {
            Some((record, p)) => {
                self.csv
                    .write_record(&record)
                    .with_context(|| format!("cannot write {}", self.path.display()))?;
                Ok(Some(p))
            }
            None => {
                self.done = true;
                Ok(None)
            }
        }
    }

    fn peek(&mut self) -> Result<Option<&Parsed>> {
        if self.peeked.is_none() {
            self.peeked = self.pull()?;
        }
        Ok(self.peeked.as_ref())
    }

    /// The next row if it belongs to track `id`.
    fn next_of(&mut self, id: u64) -> Result<Option<Parsed>> {
        if self.peek()?.is_some_and(|p| p.track_id == id) {
            return Ok(self.peeked.take());
        }
        Ok(None)
    }

    /// The first row of the next tracked face (untracked rows, id 0, have no summary).
    fn next_track(&mut self) -> Result<Option<Parsed>> {
        loop {
            match self.peek()? {
                None => return Ok(None),
                Some(p) if p.track_id == 0 => self.peeked = None,
                Some(_) => return Ok(self.peeked.take()),
            }
        }
    }
}

/// summary.json's `tracks`: one object per track id, made while the sorted
/// rows stream by (and are written to tracks.csv). Each track has
/// `track_id`, `first_stamp_ns`, `last_stamp_ns`, `frames`,
/// `classified_frames`, `dominant_label` (most frequent top label over the
/// classified frames, "" if none; ties to the lower class index),
/// `mean_face_size_px` and `timeline`: runs of consecutive frames with the
/// same label ("unclassified" when the face was seen but not classified),
/// each {label, start_stamp_ns, end_stamp_ns, frames}. The timeline comes
/// before the totals it feeds, so it is never held whole.
pub(super) struct Tracks(RefCell<TrackStream>);

impl Tracks {
    /// After serialization: write the rows not consumed (there are none unless
    /// serialization failed), close tracks.csv, remove the spilled runs.
    pub(super) fn finish(self) -> Result<()> {
        let mut s = self.0.into_inner();
        while s.pull()?.is_some() {}
        s.csv
            .flush()
            .with_context(|| format!("cannot write {}", s.path.display()))?;
        s.merge.remove_files();
        Ok(())
    }
}

fn ser_err<E: serde::ser::Error>(e: anyhow::Error) -> E {
    E::custom(format!("{e:#}"))
}

impl Serialize for Tracks {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(None)?;
        loop {
            let first = self.0.borrow_mut().next_track().map_err(ser_err)?;
            let Some(first) = first else { break };
            seq.serialize_element(&OneTrack {
                stream: &self.0,
                first,
            })?;
        }
        seq.end()
    }
}

struct OneTrack<'a> {
    stream: &'a RefCell<TrackStream>,
    first: Parsed,
}

/// Totals of one track, filled while its timeline is serialized.
#[derive(Default)]
struct TrackAcc {
    last_stamp_ns: i64,
    frames: u64,
    classified_frames: u64,
    size_sum: f64,
    counts: [u64; EMOTIONS.len()],
}

fn label_of(p: &Parsed) -> &'static str {
    match (p.classified, p.label) {
        (true, Some(i)) => EMOTIONS[i],
        _ => "unclassified",
    }
}

#[derive(Serialize)]
struct Segment {
    label: &'static str,
    start_stamp_ns: i64,
    end_stamp_ns: i64,
    frames: u64,
}

struct Timeline<'a> {
    stream: &'a RefCell<TrackStream>,
    first: Parsed,
    acc: RefCell<TrackAcc>,
}

impl Serialize for Timeline<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(None)?;
        let mut acc = self.acc.borrow_mut();
        let id = self.first.track_id;
        let mut row = Some(self.first.clone());
        let mut seg: Option<Segment> = None;
        while let Some(r) = row {
            acc.last_stamp_ns = r.stamp_ns;
            acc.frames += 1;
            acc.size_sum += r.face_size_px;
            if r.classified {
                acc.classified_frames += 1;
                if let Some(i) = r.label {
                    acc.counts[i] += 1;
                }
            }
            let label = label_of(&r);
            match seg.as_mut() {
                Some(g) if g.label == label => {
                    g.end_stamp_ns = r.stamp_ns;
                    g.frames += 1;
                }
                _ => {
                    if let Some(done) = seg.take() {
                        seq.serialize_element(&done)?;
                    }
                    seg = Some(Segment {
                        label,
                        start_stamp_ns: r.stamp_ns,
                        end_stamp_ns: r.stamp_ns,
                        frames: 1,
                    });
                }
            }
            row = self.stream.borrow_mut().next_of(id).map_err(ser_err)?;
        }
        if let Some(done) = seg {
            seq.serialize_element(&done)?;
        }
        seq.end()
    }
}

impl Serialize for OneTrack<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut st = s.serialize_struct("TrackSummary", 8)?;
        st.serialize_field("track_id", &self.first.track_id)?;
        st.serialize_field("first_stamp_ns", &self.first.stamp_ns)?;
        let timeline = Timeline {
            stream: self.stream,
            first: self.first.clone(),
            acc: RefCell::default(),
        };
        st.serialize_field("timeline", &timeline)?;
        let acc = timeline.acc.into_inner();
        st.serialize_field("last_stamp_ns", &acc.last_stamp_ns)?;
        st.serialize_field("frames", &acc.frames)?;
        st.serialize_field("classified_frames", &acc.classified_frames)?;
        // Ties go to the lower class index: deterministic.
        let best = (0..acc.counts.len())
            .max_by_key(|&i| (acc.counts[i], std::cmp::Reverse(i)))
            .filter(|&i| acc.counts[i] > 0);
        st.serialize_field("dominant_label", best.map_or("", |i| EMOTIONS[i]))?;
        st.serialize_field(
            "mean_face_size_px",
            &(acc.size_sum / acc.frames.max(1) as f64),
        )?;
        st.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `row` as the csv writer writes it, with the header serde derives.
    fn csv_text<T: Serialize>(row: &T) -> String {
        let mut w = csv::WriterBuilder::new().from_writer(Vec::new());
        w.serialize(row).expect("serialize");
        String::from_utf8(w.into_inner().expect("flush")).expect("utf8")
    }

    #[test]
    fn csv_rows_keep_the_serde_json_spelling_and_the_header_order() {
        // Written by the serde_json-based writer this crate had before csv.
        let t = TrackRow {
            track_id: 3,
            frame: 7,
            stamp_ns: -5,
            state: "classified",
            top_label: "happiness",
            top_confidence: 0.1,
            x: f32::NAN,
            y: 1e-7,
            width: 1e20,
            height: 123456.79,
            face_size_px: 16.0,
        };
        let t2 = TrackRow {
            track_id: 0,
            frame: 1,
            stamp_ns: 2,
            state: "too_small",
            top_label: "",
            top_confidence: 0.0,
            x: -0.0,
            y: f32::INFINITY,
            width: 3.3,
            height: 1.0 / 3.0,
            face_size_px: 7.5,
        };
        let f = FrameRow {
            index: 1,
            log_time_ns: 2,
            stamp_ns: -3,
            width: 4,
            height: 5,
            faces: 6,
            classified: 7,
            decode_ms: 0.1,
            timings: StageTimings {
                detect_ms: 1e-9,
                align_ms: f64::NAN,
                classify_ms: 1e17,
                track_ms: 2.0 / 3.0,
                total_ms: 0.0,
            },
            processing_ms: 12345.678,
        };
        let tracks = TRACKS_HEADER.join(",");
        assert_eq!(
            csv_text(&t),
            format!("{tracks}\n3,7,-5,classified,happiness,0.10000000149011612,null,1.0000000116860974e-7,1.0000000200408773e+20,123456.7890625,16.0\n")
        );
        assert_eq!(
            csv_text(&t2),
            format!("{tracks}\n0,1,2,too_small,,0.0,-0.0,null,3.299999952316284,0.3333333432674408,7.5\n")
        );
        assert_eq!(
            csv_text(&f),
            format!(
                "{}\n1,2,-3,4,5,6,7,0.1,1e-9,null,1e+17,0.6666666666666666,0.0,12345.678\n",
                FRAMES_HEADER.join(",")
            )
        );
        // A spilled row reads back.
        let text = csv_text(&t);
        let mut r = csv::ReaderBuilder::new().from_reader(text.as_bytes());
        let rec = r.records().next().expect("row").expect("record");
        let p = parse_record(&rec).expect("parsed");
        assert_eq!((p.track_id, p.frame, p.stamp_ns), (3, 7, -5));
        assert!(p.classified && p.label == EMOTIONS.iter().position(|e| *e == "happiness"));
        assert_eq!(p.face_size_px, 16.0);
    }

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

    fn frame_row(faces: usize, ms: f64) -> FrameRow {
        FrameRow {
            index: 0,
            log_time_ns: 0,
            stamp_ns: 0,
            width: 1,
            height: 1,
            faces,
            classified: 0,
            decode_ms: 1.0,
            timings: StageTimings::default(),
            processing_ms: ms,
        }
    }

    /// Rows through runs of `run_rows`, merged: (summary tracks JSON, tracks.csv).
    fn merged(rows: &[TrackRow], run_rows: usize) -> (serde_json::Value, String) {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut r = Rows::with_run_rows(dir.path(), run_rows).expect("rows");
        for t in rows {
            r.tracks.push(t.clone()).expect("push");
        }
        let tracks = r.finish(dir.path()).expect("finish");
        let json = serde_json::to_value(&tracks).expect("serialize");
        tracks.finish().expect("finish tracks");
        assert!(
            !dir.path().join(".tracks.spill").exists(),
            "spill left behind"
        );
        let csv = std::fs::read_to_string(dir.path().join("tracks.csv")).expect("tracks.csv");
        (json, csv)
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
        // One run, several runs, one row per run: the same result.
        let (json, csv) = merged(&rows, 100);
        for run_rows in [1, 2, 4] {
            assert_eq!(merged(&rows, run_rows), (json.clone(), csv.clone()));
        }
        let t = json.as_array().expect("array");
        let ids: Vec<u64> = t
            .iter()
            .map(|t| t["track_id"].as_u64().unwrap_or(99))
            .collect();
        assert_eq!(ids, [1, 2]);
        let two = &t[1];
        assert_eq!(
            (two["frames"].as_u64(), two["classified_frames"].as_u64()),
            (Some(4), Some(3))
        );
        assert_eq!(two["dominant_label"], "happiness");
        let labels: Vec<(String, u64)> = two["timeline"]
            .as_array()
            .expect("timeline")
            .iter()
            .map(|s| {
                (
                    s["label"].as_str().unwrap_or("").to_string(),
                    s["frames"].as_u64().unwrap_or(0),
                )
            })
            .collect();
        assert_eq!(
            labels,
            [
                ("happiness".into(), 2),
                ("unclassified".into(), 1),
                ("neutral".into(), 1)
            ]
        );
        assert_eq!(
            (
                two["first_stamp_ns"].as_i64(),
                two["last_stamp_ns"].as_i64()
            ),
            (Some(0), Some(30))
        );
        assert!((two["mean_face_size_px"].as_f64().unwrap_or(0.0) - 11.5).abs() < 1e-9);
        // tracks.csv: by track, then frame; untracked rows first.
        let keys: Vec<(String, String)> = csv
            .lines()
            .skip(1)
            .map(|l| {
                let c: Vec<&str> = l.split(',').collect();
                (c[0].to_string(), c[1].to_string())
            })
            .collect();
        let want = [
            ("0", "3"),
            ("1", "0"),
            ("2", "0"),
            ("2", "1"),
            ("2", "2"),
            ("2", "3"),
        ];
        assert_eq!(keys, want.map(|(a, b)| (a.to_string(), b.to_string())));
        assert_eq!(csv.lines().next(), Some(TRACKS_HEADER.join(",").as_str()));
    }

    #[test]
    fn many_runs_fold_into_one_and_stay_sorted() {
        // More than MAX_RUNS runs: they are folded, the output is still sorted.
        let rows: Vec<TrackRow> = (0..500u64)
            .map(|f| row(1 + f % 7, f, "classified", "neutral"))
            .collect();
        let (json, csv) = merged(&rows, 3);
        let keys: Vec<(u64, u64)> = csv
            .lines()
            .skip(1)
            .map(|l| {
                let c: Vec<u64> = l
                    .split(',')
                    .take(2)
                    .map(|v| v.parse().unwrap_or(0))
                    .collect();
                (c[0], c[1])
            })
            .collect();
        assert_eq!(keys.len(), 500);
        assert!(keys.windows(2).all(|w| w[0] < w[1]));
        let t = json.as_array().expect("array");
        assert_eq!(t.len(), 7);
        assert_eq!(
            t.iter()
                .map(|t| t["frames"].as_u64().unwrap_or(0))
                .sum::<u64>(),
            500
        );
    }

    #[test]
    fn stat_percentiles_within_half_a_percent_and_empty() {
        let mut acc = StatAcc::default();
        for v in 1..=100 {
            acc.add(f64::from(v));
        }
        let s = acc.stat();
        // The exact values (rank round((n-1) p) of the sorted samples): 51, 95.
        assert!((s.p50 / 51.0 - 1.0).abs() < 0.005, "{}", s.p50);
        assert!((s.p95 / 95.0 - 1.0).abs() < 0.005, "{}", s.p95);
        assert_eq!(s.max, 100.0);
        assert!((s.mean - 50.5).abs() < 1e-9);
        let e = StatAcc::default().stat();
        assert_eq!((e.mean, e.max), (0.0, 0.0));
        // --deterministic: all zero stays exactly zero.
        let mut z = StatAcc::default();
        for _ in 0..10 {
            z.add(0.0);
        }
        let zs = z.stat();
        assert_eq!((zs.p50, zs.p95, zs.max), (0.0, 0.0, 0.0));
        // Tiny and huge values are clamped into the first/last bin, never out of range.
        let mut w = StatAcc::default();
        for v in [1e-9, 5e9, 3.0] {
            w.add(v);
        }
        let ws = w.stat();
        assert!(ws.p50 >= 1e-9 && ws.p95 <= 5e9);
    }

    #[test]
    fn faces_per_frame_histogram_and_csv_streamed() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut r = Rows::create(dir.path()).expect("rows");
        assert_eq!(r.faces_per_frame().histogram, vec![0]);
        for faces in [0, 2, 2, 1] {
            r.add_frame(&frame_row(faces, 2.0)).expect("frame");
        }
        let f = r.faces_per_frame();
        assert_eq!((f.max, f.histogram.clone()), (2, vec![1, 1, 2]));
        assert!((f.mean - 1.25).abs() < 1e-9);
        assert_eq!(r.faces_total(), 5);
        assert_eq!(r.timings_ms()["processing"].max, 2.0);
        let tracks = r.finish(dir.path()).expect("finish");
        tracks.finish().expect("tracks");
        let csv = std::fs::read_to_string(dir.path().join("frames.csv")).expect("frames.csv");
        assert_eq!(csv.lines().count(), 5);
        assert_eq!(csv.lines().next(), Some(FRAMES_HEADER.join(",").as_str()));
    }
}
