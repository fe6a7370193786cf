//! Counters and latency accumulators behind /diagnostics, and the per-cause log
//! rate limiter. Plain Rust (no r2r types) so the logic is easy to follow.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use lowres_fer::pipeline::StageTimings;

/// Monotonic totals since start plus sums over the current diagnostics window.
#[derive(Debug, Default, Clone)]
pub struct Stats {
    pub received: u64,
    pub processed: u64,
    /// Frames replaced in the keep-latest slot before the worker took them.
    pub dropped: u64,
    /// Rejected inputs, by [`lowres_fer::imaging::io::ImageError::cause`].
    pub input_errors: BTreeMap<&'static str, u64>,
    /// Frames the pipeline itself failed on.
    pub pipeline_errors: u64,
    pub publish_errors: u64,
    pub last_faces: usize,
    pub last_error: String,
    /// Frames that never reached the node, estimated from gaps in the input
    /// stamps (see [`StampGaps`]): lost in transport, not dropped here.
    pub gaps: StampGaps,
    /// The execution provider each stage really runs on, `(stage, provider)`,
    /// set when the models are loaded: "cpu" after a GPU provider fell back.
    pub providers: Vec<(&'static str, &'static str)>,
    window: Window,
}

#[derive(Debug, Default, Clone)]
struct Window {
    received: u64,
    processed: u64,
    dropped: u64,
    errors: u64,
    decode_ms: f64,
    e2e_ms: f64,
    stages: StageTimings,
    max_e2e_ms: f64,
}

/// One diagnostics window, summarised.
#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    pub input_hz: f64,
    pub processed_hz: f64,
    pub dropped_in_window: u64,
    pub errors_in_window: u64,
    pub mean_decode_ms: f64,
    pub mean_e2e_ms: f64,
    pub max_e2e_ms: f64,
    pub mean_stages: StageTimings,
}

impl Stats {
    /// A frame arrived, with its header stamp (ns) when it comes from one
    /// camera stream (drop-in mode's per-face crops interleave faces: no stamp).
    pub fn on_received(&mut self, stamp_ns: Option<i64>) {
        self.received += 1;
        self.window.received += 1;
        if let Some(stamp) = stamp_ns {
            self.gaps.on_stamp(stamp);
        }
    }

    pub fn on_dropped(&mut self) {
        self.dropped += 1;
        self.window.dropped += 1;
    }

    pub fn on_input_error(&mut self, cause: &'static str, msg: String) {
        *self.input_errors.entry(cause).or_default() += 1;
        self.window.errors += 1;
        self.set_last_error(msg);
    }

    pub fn on_pipeline_error(&mut self, msg: String) {
        self.pipeline_errors += 1;
        self.window.errors += 1;
        self.set_last_error(msg);
    }

    /// `last_error` goes out in every diagnostics message: escaped as one line
    /// whatever library wrote the text.
    fn set_last_error(&mut self, msg: String) {
        self.last_error = match lowres_fer::sanitize::line(&msg) {
            std::borrow::Cow::Borrowed(_) => msg,
            std::borrow::Cow::Owned(escaped) => escaped,
        };
    }

    pub fn on_processed(&mut self, decode_ms: f64, t: &StageTimings, e2e_ms: f64, faces: usize) {
        self.processed += 1;
        self.last_faces = faces;
        let w = &mut self.window;
        w.processed += 1;
        w.decode_ms += decode_ms;
        w.e2e_ms += e2e_ms;
        w.max_e2e_ms = w.max_e2e_ms.max(e2e_ms);
        w.stages.detect_ms += t.detect_ms;
        w.stages.align_ms += t.align_ms;
        w.stages.classify_ms += t.classify_ms;
        w.stages.track_ms += t.track_ms;
        w.stages.total_ms += t.total_ms;
    }

    pub fn total_input_errors(&self) -> u64 {
        self.input_errors.values().sum()
    }

    /// Summarise the window that lasted `elapsed` and start a new one.
    pub fn take_window(&mut self, elapsed: Duration) -> Summary {
        let w = std::mem::take(&mut self.window);
        let secs = elapsed.as_secs_f64().max(1e-6);
        let n = w.processed.max(1) as f64;
        Summary {
            input_hz: w.received as f64 / secs,
            processed_hz: w.processed as f64 / secs,
            dropped_in_window: w.dropped,
            errors_in_window: w.errors,
            mean_decode_ms: w.decode_ms / n,
            mean_e2e_ms: w.e2e_ms / n,
            max_e2e_ms: w.max_e2e_ms,
            mean_stages: StageTimings {
                detect_ms: w.stages.detect_ms / n,
                align_ms: w.stages.align_ms / n,
                classify_ms: w.stages.classify_ms / n,
                track_ms: w.stages.track_ms / n,
                total_ms: w.stages.total_ms / n,
            },
        }
    }
}

/// At most one log line per cause per period; reports how many were suppressed.
#[derive(Debug)]
pub struct LogLimiter {
    period: Duration,
    last: BTreeMap<&'static str, (Instant, u64)>,
}

impl LogLimiter {
    pub fn new(period: Duration) -> Self {
        Self {
            period,
            last: BTreeMap::new(),
        }
    }

    /// `Some(suppressed_since_last_line)` when a line for `cause` may be logged now.
    pub fn allow(&mut self, cause: &'static str, now: Instant) -> Option<u64> {
        match self.last.get_mut(cause) {
            Some((t, suppressed)) if now.duration_since(*t) < self.period => {
                *suppressed += 1;
                None
            }
            Some((t, suppressed)) => {
                let n = *suppressed;
                *t = now;
                *suppressed = 0;
                Some(n)
            }
            None => {
                self.last.insert(cause, (now, 0));
                Some(0)
            }
        }
    }
}

/// Estimates frames lost before the node from the input stamps: with a camera
/// at a steady rate, a gap of k periods means k - 1 frames did not arrive
/// (best-effort transport loss, a driver that skipped), and a gap of about
/// zero periods is a late frame catching up, which pays one back. So jitter and
/// a late publisher's bursts cancel out, and real loss accumulates. The period
/// is the median of the last [`StampGaps::HISTORY`] gaps, so a lossy stream
/// does not inflate it. Gaps longer than [`StampGaps::PAUSE_NS`] (bag paused,
/// camera restarted) and stamps going backwards count nothing.
#[derive(Debug, Default, Clone)]
pub struct StampGaps {
    last: Option<i64>,
    recent: [i64; Self::HISTORY],
    gaps: usize,
    balance: i64,
}

impl StampGaps {
    const HISTORY: usize = 16;
    const PAUSE_NS: i64 = 2_000_000_000;

    pub fn on_stamp(&mut self, stamp: i64) {
        let Some(gap) = self.last.replace(stamp).map(|l| stamp - l) else {
            return;
        };
        if !(0..=Self::PAUSE_NS).contains(&gap) {
            return;
        }
        if let Some(period) = self.period() {
            let periods = (gap as f64 / period as f64).round() as i64;
            self.balance = (self.balance + periods - 1).max(0);
        }
        if gap > 0 {
            self.recent[self.gaps % Self::HISTORY] = gap;
            self.gaps += 1;
        }
    }

    /// Estimated frames missing upstream, since start.
    pub fn missing(&self) -> u64 {
        self.balance.max(0) as u64
    }

    /// None until a few gaps are seen.
    fn period(&self) -> Option<i64> {
        let n = self.gaps.min(Self::HISTORY);
        if n < 4 {
            return None;
        }
        let mut v = self.recent;
        let v = &mut v[..n];
        v.sort_unstable();
        Some(v[n / 2].max(1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stamp_gaps_count_missing_frames_not_jitter_bursts_or_pauses() {
        let mut g = StampGaps::default();
        let p = 33_333_333i64;
        let mut t = 1_000_000_000i64;
        for i in 0..10 {
            t += p + if i % 2 == 0 { 3_000_000 } else { -3_000_000 }; // jitter
            g.on_stamp(t);
        }
        assert_eq!(g.missing(), 0);
        // A late publisher: one gap of 3 periods, then two frames at once.
        t += 3 * p;
        g.on_stamp(t);
        g.on_stamp(t + 1_000);
        g.on_stamp(t + 2_000);
        t += 2_000;
        assert_eq!(g.missing(), 0);
        t += 3 * p; // two frames lost
        g.on_stamp(t);
        assert_eq!(g.missing(), 2);
        // Every other frame lost for a while: the median period stays one frame.
        for _ in 0..6 {
            t += 2 * p;
            g.on_stamp(t);
        }
        assert_eq!(g.missing(), 8);
        t += 5_000_000_000; // a pause
        g.on_stamp(t);
        assert_eq!(g.missing(), 8);
        for i in 0..6 {
            g.on_stamp(t - 10 * p + i * p); // bag restarted
        }
        assert_eq!(g.missing(), 8);
    }

    /// Issue 29: the JPEG decoder's text reached `last_error` with its raw
    /// newline; ONNX Runtime's text goes the same way.
    #[test]
    fn last_error_is_one_escaped_line() {
        let mut st = Stats::default();
        st.on_input_error(
            "decode_failed",
            "decode_failed: I/O errors Not enough bytes\n".into(),
        );
        assert_eq!(
            st.last_error,
            "decode_failed: I/O errors Not enough bytes\\n"
        );
        st.on_pipeline_error(format!("pipeline: {}\r\0", "x".repeat(5000)));
        assert!(
            !st.last_error.chars().any(char::is_control) && st.last_error.len() < 1100,
            "{}",
            st.last_error
        );
        st.on_pipeline_error("pipeline: plain".into());
        assert_eq!(st.last_error, "pipeline: plain");
    }

    #[test]
    fn limiter_allows_one_line_per_cause_per_period() {
        let mut l = LogLimiter::new(Duration::from_secs(5));
        let t0 = Instant::now();
        assert_eq!(l.allow("a", t0), Some(0));
        assert_eq!(l.allow("a", t0 + Duration::from_secs(1)), None);
        assert_eq!(l.allow("b", t0 + Duration::from_secs(1)), Some(0));
        assert_eq!(l.allow("a", t0 + Duration::from_secs(2)), None);
        assert_eq!(l.allow("a", t0 + Duration::from_secs(6)), Some(2));
    }

    #[test]
    fn window_rates_and_means() {
        let mut s = Stats::default();
        for i in 0..10 {
            s.on_received(Some(i * 100_000_000));
        }
        s.on_dropped();
        let t = StageTimings {
            detect_ms: 4.0,
            total_ms: 6.0,
            ..Default::default()
        };
        s.on_processed(1.0, &t, 10.0, 2);
        s.on_processed(3.0, &t, 20.0, 3);
        let w = s.take_window(Duration::from_secs(2));
        assert_eq!(w.input_hz, 5.0);
        assert_eq!(w.processed_hz, 1.0);
        assert_eq!(w.mean_decode_ms, 2.0);
        assert_eq!(w.max_e2e_ms, 20.0);
        assert_eq!(w.mean_stages.detect_ms, 4.0);
        assert_eq!(s.take_window(Duration::from_secs(1)).processed_hz, 0.0);
        assert_eq!(s.processed, 2);
        assert_eq!(s.last_faces, 3);
    }
}
