//! MediaPipe's weighted non-maximum suppression: the best remaining detection and
//! every detection overlapping it by more than the IoU threshold form a cluster,
//! reported as the score-weighted mean of its boxes and keypoints with the best
//! score. Averaging (instead of keeping the top box) steadies boxes between frames
//! and merges the same face seen in the full frame and in tiles.

use crate::face::{BBox, Detection};

/// After clustering, a detection whose box lies at least this much (fraction
/// of the smaller box's area) inside a better-scored one is dropped. Tiles and
/// pyramid levels see the same face at different scales, and their boxes can
/// differ in size and offset enough to stay under the clustering IoU (a 30 px box
/// inside a 45 px one has IoU 0.44 at best, less when shifted); on the
/// multi-scale benchmark most false positives of the all-regions mode were such
/// duplicates (docs/detection.md). Two real faces rarely overlap this much.
pub const CONTAINED_FRACTION: f32 = 0.6;

/// Fraction of the smaller box's area covered by the intersection.
fn overlap_of_smaller(a: &BBox, b: &BBox) -> f32 {
    let x0 = a.x.max(b.x);
    let y0 = a.y.max(b.y);
    let x1 = (a.x + a.w).min(b.x + b.w);
    let y1 = (a.y + a.h).min(b.y + b.h);
    let inter = (x1 - x0).max(0.0) * (y1 - y0).max(0.0);
    let small = a.area().min(b.area());
    if small <= 0.0 {
        0.0
    } else {
        inter / small
    }
}

/// Reusable buffers, so that NMS does not allocate per frame once warmed up.
#[derive(Debug, Default)]
pub struct WeightedNms {
    order: Vec<usize>,
    taken: Vec<bool>,
}

impl WeightedNms {
    /// Merge `candidates` into `out` (cleared first), best first.
    pub fn run(&mut self, candidates: &[Detection], iou: f32, out: &mut Vec<Detection>) {
        out.clear();
        self.order.clear();
        self.order.extend(0..candidates.len());
        self.order.sort_unstable_by(|&a, &b| {
            candidates[b]
                .score
                .partial_cmp(&candidates[a].score)
                .unwrap_or(std::cmp::Ordering::Equal)
        });
        self.taken.clear();
        self.taken.resize(candidates.len(), false);
        for oi in 0..self.order.len() {
            let top_idx = self.order[oi];
            if self.taken[top_idx] {
                continue;
            }
            let top = candidates[top_idx];
            let mut wsum = 0.0f32;
            let mut acc = [0.0f32; 4];
            let mut kps = [[0.0f32; 2]; 6];
            let mut age = top.age;
            for &j in &self.order[oi..] {
                if self.taken[j] {
                    continue;
                }
                let c = &candidates[j];
                if j != top_idx && top.bbox.iou(&c.bbox) <= iou {
                    continue;
                }
                self.taken[j] = true;
                // The merged box is as fresh as its freshest member.
                age = age.min(c.age);
                let w = c.score;
                wsum += w;
                acc[0] += w * c.bbox.x;
                acc[1] += w * c.bbox.y;
                acc[2] += w * (c.bbox.x + c.bbox.w);
                acc[3] += w * (c.bbox.y + c.bbox.h);
                for (k, kp) in kps.iter_mut().enumerate() {
                    kp[0] += w * c.keypoints[k][0];
                    kp[1] += w * c.keypoints[k][1];
                }
            }
            if wsum <= 0.0 {
                out.push(top);
                continue;
            }
            let inv = 1.0 / wsum;
            for kp in kps.iter_mut() {
                kp[0] *= inv;
                kp[1] *= inv;
            }
            out.push(Detection {
                bbox: BBox {
                    x: acc[0] * inv,
                    y: acc[1] * inv,
                    w: (acc[2] - acc[0]) * inv,
                    h: (acc[3] - acc[1]) * inv,
                },
                score: top.score,
                keypoints: kps,
                age,
            });
        }
        // `out` is best first: keep a detection only if no better one holds it.
        let mut kept = 0;
        for i in 0..out.len() {
            let d = out[i];
            if out[..kept]
                .iter()
                .all(|k| overlap_of_smaller(&k.bbox, &d.bbox) < CONTAINED_FRACTION)
            {
                out[kept] = d;
                kept += 1;
            }
        }
        out.truncate(kept);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn det(x: f32, y: f32, side: f32, score: f32) -> Detection {
        Detection {
            bbox: BBox {
                x,
                y,
                w: side,
                h: side,
            },
            score,
            keypoints: [[x, y]; 6],
            age: 0,
        }
    }

    #[test]
    fn overlapping_boxes_are_averaged_by_score_and_disjoint_ones_kept() {
        let cands = [
            det(0.0, 0.0, 10.0, 0.6),
            det(2.0, 0.0, 10.0, 0.9),
            det(50.0, 50.0, 10.0, 0.7),
            det(0.0, 0.0, 10.0, 0.3),
        ];
        let mut nms = WeightedNms::default();
        let mut out = Vec::new();
        nms.run(&cands, 0.3, &mut out);
        assert_eq!(out.len(), 2);
        // Cluster {0.9 @ x=2, 0.6 @ x=0, 0.3 @ x=0}: x = 1.8 / 1.8 = 1.0.
        assert_eq!(out[0].score, 0.9);
        assert!((out[0].bbox.x - 1.0).abs() < 1e-5, "{:?}", out[0]);
        assert!((out[0].bbox.w - 10.0).abs() < 1e-5);
        assert!((out[0].keypoints[0][0] - 1.0).abs() < 1e-5);
        assert_eq!(out[1], cands[2]);
    }

    #[test]
    fn boxes_just_below_the_iou_threshold_stay_separate() {
        // IoU of two 10x10 boxes shifted by 6: 40 / 160 = 0.25.
        let cands = [det(0.0, 0.0, 10.0, 0.9), det(6.0, 0.0, 10.0, 0.8)];
        let mut out = Vec::new();
        WeightedNms::default().run(&cands, 0.3, &mut out);
        assert_eq!(out.len(), 2);
        WeightedNms::default().run(&cands, 0.2, &mut out);
        assert_eq!(out.len(), 1);
    }

    #[test]
    fn a_box_inside_a_better_one_is_the_same_face() {
        // A 24 px box inside a 48 px one: IoU 576 / 2304 = 0.25, under the
        // clustering threshold, but the same face at two scales.
        let cands = [det(0.0, 0.0, 48.0, 0.9), det(20.0, 20.0, 24.0, 0.8)];
        assert!(cands[0].bbox.iou(&cands[1].bbox) < 0.3);
        let mut out = Vec::new();
        WeightedNms::default().run(&cands, 0.3, &mut out);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].score, 0.9);
        // Half inside (two neighbouring faces in a crowd) is kept.
        let cands = [det(0.0, 0.0, 40.0, 0.9), det(24.0, 0.0, 40.0, 0.8)];
        WeightedNms::default().run(&cands, 0.3, &mut out);
        assert_eq!(out.len(), 2);
    }
}
