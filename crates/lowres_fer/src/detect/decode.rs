//! Turning raw BlazeFace outputs into detections in source-image pixels.
//!
//! Each anchor has a score logit and 16 regressors: dx, dy, w, h, then 6 keypoints
//! (x, y), all in model-input pixels relative to the anchor centre (verified by
//! drawing on real faces, see shared/notes/environment-facts.md).

use crate::face::{BBox, Detection};

/// Where a model input came from: model pixel `(u, v)` is source pixel
/// `(origin_x + u * scale, origin_y + v * scale)`. The letterboxed full frame has a
/// negative origin on the padded axis; a native-resolution tile has `scale == 1`.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct InputMapping {
    pub origin_x: f32,
    pub origin_y: f32,
    pub scale: f32,
}

impl InputMapping {
    /// Letterbox a `width` x `height` frame into a centred square of model side
    /// `side` (keep the aspect ratio, pad the short axis equally on both sides).
    pub fn letterbox(width: u32, height: u32, side: usize) -> Self {
        let long = width.max(height) as f32;
        Self {
            origin_x: (width as f32 - long) * 0.5,
            origin_y: (height as f32 - long) * 0.5,
            scale: long / side as f32,
        }
    }

    /// A native-resolution tile whose top-left corner is at `(x, y)` in the source.
    pub fn tile(x: i32, y: i32) -> Self {
        Self {
            origin_x: x as f32,
            origin_y: y as f32,
            scale: 1.0,
        }
    }

    /// Side of the covered source square for a model input of side `side`.
    pub fn source_side(&self, side: usize) -> f32 {
        side as f32 * self.scale
    }

    /// `Some((x, y))` when this is an integer-aligned native-resolution tile,
    /// which is copied instead of resampled.
    pub fn as_native_tile(&self) -> Option<(i32, i32)> {
        let int = |v: f32| (v.fract() == 0.0 && v.abs() < 1e9).then_some(v as i32);
        if self.scale == 1.0 {
            Some((int(self.origin_x)?, int(self.origin_y)?))
        } else {
            None
        }
    }

    #[inline]
    pub fn to_source(&self, u: f32, v: f32) -> [f32; 2] {
        [
            self.origin_x + u * self.scale,
            self.origin_y + v * self.scale,
        ]
    }

    /// A box given by its centre and size in model px, in source px.
    pub fn box_to_source(&self, cx: f32, cy: f32, w: f32, h: f32) -> BBox {
        let [x, y] = self.to_source(cx - w * 0.5, cy - h * 0.5);
        BBox {
            x,
            y,
            w: w * self.scale,
            h: h * self.scale,
        }
    }
}

/// Logits are clipped like MediaPipe does, so the sigmoid never overflows.
#[inline]
pub fn sigmoid(logit: f32) -> f32 {
    1.0 / (1.0 + (-logit.clamp(-100.0, 100.0)).exp())
}

/// Which decoded anchors to keep.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Keep {
    /// Minimum score (after the sigmoid).
    pub min_score: f32,
    /// Minimum box side in model-input pixels.
    pub min_side: f32,
}

/// Append every anchor passing `keep` to `out`.
///
/// `scores` holds one logit per anchor, `regs` 16 values per anchor (both in the
/// anchor order of [`super::anchors::generate`]); `side` is the model input side.
pub fn decode(
    scores: &[f32],
    regs: &[f32],
    anchors: &[[f32; 2]],
    side: usize,
    keep: Keep,
    map: &InputMapping,
    out: &mut Vec<Detection>,
) {
    let s = side as f32;
    for (i, (&logit, anchor)) in scores.iter().zip(anchors).enumerate() {
        let score = sigmoid(logit);
        if score < keep.min_score || !score.is_finite() {
            continue;
        }
        let Some(r) = regs.get(i * 16..i * 16 + 16) else {
            break;
        };
        let (ax, ay) = (anchor[0] * s, anchor[1] * s);
        let (cx, cy, w, h) = (ax + r[0], ay + r[1], r[2], r[3]);
        if !(w > 0.0 && h > 0.0 && w.max(h) >= keep.min_side && cx.is_finite() && cy.is_finite()) {
            continue;
        }
        let mut keypoints = [[0.0f32; 2]; 6];
        for (k, kp) in keypoints.iter_mut().enumerate() {
            *kp = map.to_source(ax + r[4 + 2 * k], ay + r[5 + 2 * k]);
        }
        out.push(Detection {
            bbox: map.box_to_source(cx, cy, w, h),
            score,
            keypoints,
            age: 0,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::super::anchors;
    use super::*;

    fn k(min_score: f32, min_side: f32) -> Keep {
        Keep {
            min_score,
            min_side,
        }
    }

    #[test]
    fn letterbox_mapping_of_a_landscape_frame() {
        // 640x480 into 256: scale 2.5, 80 px of padding above and below.
        let m = InputMapping::letterbox(640, 480, 256);
        assert_eq!(m.scale, 2.5);
        assert_eq!(m.origin_x, 0.0);
        assert_eq!(m.origin_y, -80.0);
        // Model centre is the frame centre; the model's top edge is 80 px above it.
        assert_eq!(m.to_source(128.0, 128.0), [320.0, 240.0]);
        assert_eq!(m.to_source(0.0, 32.0), [0.0, 0.0]);
        assert_eq!(m.to_source(256.0, 224.0), [640.0, 480.0]);
        // Portrait frames pad left and right.
        let p = InputMapping::letterbox(300, 600, 128);
        assert_eq!(p.origin_x, -150.0);
        assert_eq!(p.origin_y, 0.0);
        assert_eq!(p.to_source(64.0, 64.0), [150.0, 300.0]);
    }

    #[test]
    fn decodes_a_hand_built_anchor_into_source_pixels() {
        let anchors = anchors::generate();
        let mut scores = vec![-10.0f32; anchors::NUM_ANCHORS];
        let mut regs = vec![0.0f32; anchors::NUM_ANCHORS * 16];
        // Anchor 2 * (16 * 5 + 7) is cell (x=7, y=5) of the 16-grid: centre
        // (7.5/16, 5.5/16) * 256 = (120, 88) model px on back-256.
        let i = 2 * (16 * 5 + 7);
        scores[i] = 2.0;
        let r = &mut regs[i * 16..i * 16 + 16];
        r[..4].copy_from_slice(&[4.0, -2.0, 20.0, 20.0]);
        r[4..6].copy_from_slice(&[-5.0, -4.0]); // image-left eye
        r[6..8].copy_from_slice(&[5.0, -4.0]); // image-right eye
        let map = InputMapping::letterbox(640, 480, 256);
        let mut out = Vec::new();
        decode(&scores, &regs, &anchors, 256, k(0.5, 0.0), &map, &mut out);
        assert_eq!(out.len(), 1);
        let d = out[0];
        assert!((d.score - sigmoid(2.0)).abs() < 1e-6);
        // Box centre (124, 86) model px -> (310, 135) source; side 20 * 2.5 = 50.
        assert_eq!(d.bbox.w, 50.0);
        assert_eq!(d.bbox.h, 50.0);
        assert!((d.bbox.x - 285.0).abs() < 1e-4, "{:?}", d.bbox);
        assert!((d.bbox.y - 110.0).abs() < 1e-4, "{:?}", d.bbox);
        // Eyes at (115, 84) and (125, 84) model px.
        assert_eq!(d.keypoints[0], [287.5, 130.0]);
        assert_eq!(d.keypoints[1], [312.5, 130.0]);
        // Keypoints not set sit on the anchor centre (120, 88) -> (300, 140).
        assert_eq!(d.keypoints[3], [300.0, 140.0]);
        // The same box is too small for a 21 model-px minimum.
        out.clear();
        decode(&scores, &regs, &anchors, 256, k(0.5, 21.0), &map, &mut out);
        assert!(out.is_empty());
    }

    #[test]
    fn below_threshold_and_degenerate_boxes_are_dropped() {
        let anchors = anchors::generate();
        let mut scores = vec![0.0f32; anchors::NUM_ANCHORS]; // all 0.5
        let regs = vec![0.0f32; anchors::NUM_ANCHORS * 16]; // zero-sized boxes
        let map = InputMapping::tile(0, 0);
        let mut out = Vec::new();
        decode(&scores, &regs, &anchors, 256, k(0.6, 0.0), &map, &mut out);
        assert!(out.is_empty());
        decode(&scores, &regs, &anchors, 256, k(0.5, 0.0), &map, &mut out);
        assert!(out.is_empty(), "zero-sized boxes must not be reported");
        scores[0] = f32::NAN;
        decode(&scores, &regs, &anchors, 256, k(0.0, 0.0), &map, &mut out);
        assert!(out.is_empty());
    }

    #[test]
    fn tile_mapping_is_a_translation() {
        let m = InputMapping::tile(100, -20);
        assert_eq!(m.to_source(10.0, 30.0), [110.0, 10.0]);
    }
}
