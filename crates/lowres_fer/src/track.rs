//! Face identities across frames and temporal smoothing of their emotions.
//!
//! Greedy IoU association (highest IoU first) between this frame's faces and the
//! live tracks; a track survives `max_missed` frames without a face. Each track keeps
//! an exponential moving average of its classified probabilities, so a planner sees
//! a stable emotion instead of frame-to-frame flicker.

use crate::face::{greedy_iou_match, BBox, FaceResult, FaceState, NUM_EMOTIONS};
use crate::settings::config::TrackingConfig;

#[derive(Debug, Clone)]
struct Track {
    id: u64,
    bbox: BBox,
    missed: u32,
    smoothed: Option<[f32; NUM_EMOTIONS]>,
}

pub struct Tracker {
    cfg: TrackingConfig,
    tracks: Vec<Track>,
    next_id: u64,
    // Reused per frame: candidate (iou, face, track) pairs and assignment flags.
    pairs: Vec<(f32, usize, usize)>,
    track_used: Vec<bool>,
    face_track: Vec<Option<usize>>,
}

impl Tracker {
    pub fn new(cfg: &TrackingConfig) -> Self {
        Self {
            cfg: cfg.clone(),
            tracks: Vec::new(),
            next_id: 1,
            pairs: Vec::new(),
            track_used: Vec::new(),
            face_track: Vec::new(),
        }
    }

    /// Association, survival and smoothing values from the next update on;
    /// the tracks and their smoothed probabilities stay.
    pub fn set_config(&mut self, cfg: &TrackingConfig) {
        self.cfg = cfg.clone();
    }

    /// Boxes of the live tracks (the detector looks around them for small faces).
    pub fn boxes(&self) -> impl Iterator<Item = BBox> + '_ {
        self.tracks.iter().map(|t| t.bbox)
    }

    /// Ids of the live tracks (seen within `max_missed` frames), in creation order.
    pub fn ids(&self) -> impl Iterator<Item = u64> + '_ {
        self.tracks.iter().map(|t| t.id)
    }

    pub fn reset(&mut self) {
        self.tracks.clear();
    }

    /// Assign `track_id` and `smoothed` to every face of this frame.
    pub fn update(&mut self, faces: &mut [FaceResult]) {
        let tracks = &self.tracks;
        greedy_iou_match(
            faces.len(),
            tracks.len(),
            |fi, ti| faces[fi].detection.bbox.iou(&tracks[ti].bbox),
            self.cfg.iou_threshold,
            &mut self.pairs,
            &mut self.track_used,
            &mut self.face_track,
        );
        for track in &mut self.tracks {
            track.missed += 1;
        }
        let alpha = self.cfg.smoothing_alpha;
        for (fi, face) in faces.iter_mut().enumerate() {
            let ti = match self.face_track[fi] {
                Some(ti) => ti,
                None => {
                    self.tracks.push(Track {
                        id: self.next_id,
                        bbox: face.detection.bbox,
                        missed: 1,
                        smoothed: None,
                    });
                    self.next_id += 1;
                    self.tracks.len() - 1
                }
            };
            let track = &mut self.tracks[ti];
            track.bbox = face.detection.bbox;
            track.missed = 0;
            if face.state == FaceState::Classified {
                track.smoothed = Some(match track.smoothed {
                    None => face.probs,
                    Some(prev) => {
                        let mut s = prev;
                        for (v, &p) in s.iter_mut().zip(&face.probs) {
                            *v = (1.0 - alpha) * *v + alpha * p;
                        }
                        s
                    }
                });
            }
            face.track_id = track.id;
            face.smoothed = track.smoothed;
        }
        let max_missed = self.cfg.max_missed;
        self.tracks.retain(|t| t.missed <= max_missed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::face::Detection;

    fn face(x: f32, probs: [f32; NUM_EMOTIONS]) -> FaceResult {
        FaceResult {
            detection: Detection {
                bbox: BBox {
                    x,
                    y: 10.0,
                    w: 20.0,
                    h: 20.0,
                },
                score: 0.9,
                keypoints: [[0.0; 2]; 6],
                age: 0,
            },
            size_px: 20.0,
            state: FaceState::Classified,
            route: "efc".into(),
            probs,
            track_id: 0,
            smoothed: None,
        }
    }

    fn onehot(i: usize) -> [f32; NUM_EMOTIONS] {
        let mut p = [0.0; NUM_EMOTIONS];
        p[i] = 1.0;
        p
    }

    #[test]
    fn ids_are_stable_and_probabilities_smoothed() {
        let cfg = TrackingConfig {
            smoothing_alpha: 0.5,
            ..Default::default()
        };
        let mut t = Tracker::new(&cfg);
        let mut f = vec![face(0.0, onehot(0)), face(100.0, onehot(1))];
        t.update(&mut f);
        let (a, b) = (f[0].track_id, f[1].track_id);
        assert_ne!(a, b);
        // Faces moved slightly and swapped order in the detector output.
        let mut g = vec![face(102.0, onehot(1)), face(2.0, onehot(2))];
        t.update(&mut g);
        assert_eq!(g[0].track_id, b);
        assert_eq!(g[1].track_id, a);
        let s = g[1].smoothed.unwrap();
        assert!((s[0] - 0.5).abs() < 1e-6 && (s[2] - 0.5).abs() < 1e-6);
    }

    #[test]
    fn tracks_expire_after_max_missed_frames() {
        let cfg = TrackingConfig {
            max_missed: 2,
            ..Default::default()
        };
        let mut t = Tracker::new(&cfg);
        let mut f = vec![face(0.0, onehot(0))];
        t.update(&mut f);
        let id = f[0].track_id;
        for _ in 0..2 {
            t.update(&mut []);
        }
        assert_eq!(t.boxes().count(), 1);
        assert_eq!(
            t.ids().collect::<Vec<_>>(),
            [id],
            "an unseen track is still live"
        );
        let mut g = vec![face(0.0, onehot(0))];
        t.update(&mut g);
        assert_eq!(
            g[0].track_id, id,
            "a face back within max_missed keeps its id"
        );
        for _ in 0..3 {
            t.update(&mut []);
        }
        assert_eq!(t.boxes().count(), 0);
        assert_eq!(t.ids().count(), 0);
    }
}
