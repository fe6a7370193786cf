//! The regions the any-size detectors (RetinaFace, CenterFace) sweep besides a
//! full-frame pass: for each level of a scale pyramid, the frame cut into
//! overlapping squares of [`TILE_INPUT`] / `scale` source pixels, each resized to
//! a [`TILE_INPUT`] square input. A level above 1 shows faces below the model's
//! smallest anchor (16 px) at `scale` times their size (the upscaled tiles); a
//! level at the full frame's own scale cuts that pass into pieces a frame can
//! afford. [`RegionSweep::plan`] returns every region (`all`) or the next
//! `per_frame` of a round-robin sweep over all levels, so a still camera has
//! the whole frame covered at every level within `len() / per_frame` frames.
//!
//! Each region's last detections are kept ([`RegionSweep::held`]) until the
//! sweep runs that region again: a frame's answer covers the whole frame, with
//! region boxes at most one sweep old, instead of only the regions run in it. A
//! held box whose pixels changed (the face or the camera moved) is dropped
//! ([`RegionSweep::drop_changed`]): on the panning benchmark sequence, held
//! boxes without this check were 13.8 false positives per frame.

use image::RgbImage;

use super::decode::InputMapping;
use crate::classify::align::luma;
use crate::face::{BBox, Detection};

/// Samples per axis of a held box's pixel signature.
const SIG: usize = 4;
/// Mean absolute luma change (0..255) of the signature above which a held box
/// no longer shows what was detected. Sensor noise of a still camera and JPEG
/// re-encoding stay well below it; a box shifted by a quarter face does not.
pub const MAX_SIGNATURE_CHANGE: f32 = 12.0;

/// Luma at a `SIG` x `SIG` grid inside `b` (black outside the frame).
fn signature(frame: &RgbImage, b: &BBox) -> [f32; SIG * SIG] {
    let mut out = [0.0; SIG * SIG];
    let (w, h) = (frame.width() as i64, frame.height() as i64);
    let raw = frame.as_raw();
    for j in 0..SIG {
        for i in 0..SIG {
            let x = (b.x + b.w * (i as f32 + 0.5) / SIG as f32).floor() as i64;
            let y = (b.y + b.h * (j as f32 + 0.5) / SIG as f32).floor() as i64;
            if x >= 0 && y >= 0 && x < w && y < h {
                let k = ((y * w + x) * 3) as usize;
                out[j * SIG + i] = luma(&raw[k..k + 3]);
            }
        }
    }
    out
}

/// A region's detection and what its box looked like when it was detected.
#[derive(Debug, Clone, Copy)]
struct Held {
    det: Detection,
    signature: [f32; SIG * SIG],
    /// The sweep's frame count when the region ran.
    frame: u64,
}

/// Side (model px) of a region's input.
pub const TILE_INPUT: usize = 320;
/// Overlap of neighbouring regions, as a fraction of their side: a face up to
/// this share of a region lies entirely inside one of them.
pub const OVERLAP: f32 = 0.25;

/// Evenly spread positions of `side`-long regions along an axis of `len` px.
fn axis(len: f32, side: f32, out: &mut Vec<f32>) {
    out.clear();
    if len <= side {
        out.push(((len - side) * 0.5).round());
        return;
    }
    let stride = side * (1.0 - OVERLAP);
    let n = ((len - side) / stride).ceil() as usize + 1;
    let span = len - side;
    for i in 0..n {
        out.push((span * i as f32 / (n - 1) as f32).round());
    }
}

/// A region of the sweep: its index (for [`RegionSweep::hold`]), the level of
/// the scales given to [`RegionSweep::plan`] it belongs to, and where it lies.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Region {
    pub index: usize,
    pub level: usize,
    pub map: InputMapping,
}

/// The region grid of one frame geometry and set of scales, and the sweep's
/// position.
#[derive(Debug, Default)]
pub struct RegionSweep {
    key: Option<(u32, u32, Vec<u32>)>,
    grid: Vec<Region>,
    next: usize,
    xs: Vec<f32>,
    ys: Vec<f32>,
    /// Per grid region: its detections from the last time it ran.
    held: Vec<Vec<Held>>,
    /// Frames planned so far: the clock of the held boxes' ages.
    frame: u64,
}

impl RegionSweep {
    /// Number of regions of the current grid, all levels.
    pub fn len(&self) -> usize {
        self.grid.len()
    }

    pub fn is_empty(&self) -> bool {
        self.grid.is_empty()
    }

    /// Restart the sweep and forget the held detections (a new scene).
    pub fn reset(&mut self) {
        self.next = 0;
        for h in &mut self.held {
            h.clear();
        }
    }

    /// Replace the held detections of grid region `index` (from [`Self::plan`]),
    /// found in `frame`.
    pub fn hold(&mut self, frame: &RgbImage, index: usize, dets: impl Iterator<Item = Detection>) {
        let now = self.frame;
        if let Some(h) = self.held.get_mut(index) {
            h.clear();
            h.extend(dets.map(|det| Held {
                det,
                signature: signature(frame, &det.bbox),
                frame: now,
            }));
        }
    }

    /// Forget held boxes whose pixels in `frame` differ from when they were
    /// detected by more than [`MAX_SIGNATURE_CHANGE`].
    pub fn drop_changed(&mut self, frame: &RgbImage) {
        for region in &mut self.held {
            region.retain(|h| {
                let now = signature(frame, &h.det.bbox);
                let change: f32 = now
                    .iter()
                    .zip(&h.signature)
                    .map(|(a, b)| (a - b).abs())
                    .sum::<f32>()
                    / (SIG * SIG) as f32;
                change <= MAX_SIGNATURE_CHANGE
            });
        }
    }

    /// Every region's last detections, each with its age in frames (0 for the
    /// regions run in this frame).
    pub fn held(&self) -> impl Iterator<Item = Detection> + '_ {
        self.held.iter().flatten().map(|h| Detection {
            age: u32::try_from(self.frame - h.frame).unwrap_or(u32::MAX),
            ..h.det
        })
    }

    fn build(&mut self, (w, h): (u32, u32), scales: &[f32]) {
        if let Some((kw, kh, bits)) = &self.key {
            if (*kw, *kh) == (w, h) && bits.iter().copied().eq(scales.iter().map(|s| s.to_bits())) {
                return;
            }
        }
        self.key = Some((w, h, scales.iter().map(|s| s.to_bits()).collect()));
        self.next = 0;
        self.held.clear();
        self.grid.clear();
        for (level, &scale) in scales.iter().enumerate() {
            let side = TILE_INPUT as f32 / scale;
            axis(w as f32, side, &mut self.xs);
            axis(h as f32, side, &mut self.ys);
            for &y in &self.ys {
                for &x in &self.xs {
                    self.grid.push(Region {
                        index: self.grid.len(),
                        level,
                        map: InputMapping {
                            origin_x: x,
                            origin_y: y,
                            scale: 1.0 / scale,
                        },
                    });
                }
            }
        }
        self.held.resize_with(self.grid.len(), Vec::new);
    }

    /// Regions for this frame into `out`, from a grid of one level per entry
    /// of `scales` (source px to model px; the first level's regions come
    /// first in the sweep): all of them when `per_frame` is `None`, else the
    /// next `per_frame` of the sweep.
    pub fn plan(
        &mut self,
        size: (u32, u32),
        scales: &[f32],
        per_frame: Option<usize>,
        out: &mut Vec<Region>,
    ) {
        out.clear();
        if scales.is_empty()
            || !scales.iter().all(|s| *s > 0.0 && s.is_finite())
            || size.0 == 0
            || size.1 == 0
        {
            return;
        }
        self.build(size, scales);
        self.frame += 1;
        let n = self.grid.len();
        match per_frame {
            None => out.extend(self.grid.iter().copied()),
            Some(k) => {
                for _ in 0..k.min(n) {
                    out.push(self.grid[self.next % n]);
                    self.next = (self.next + 1) % n;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A 20 px detection in the top-left tile.
    fn face_at_10_10() -> Detection {
        Detection {
            bbox: BBox {
                x: 10.0,
                y: 10.0,
                w: 20.0,
                h: 20.0,
            },
            ..Default::default()
        }
    }

    #[test]
    fn grid_covers_the_frame_with_overlap() {
        let mut t = RegionSweep::default();
        let mut out = Vec::new();
        // 640x480 at 2x: tiles of 160 source px, stride <= 120.
        t.plan((640, 480), &[2.0], None, &mut out);
        assert_eq!(t.len(), 5 * 4);
        assert_eq!(out.len(), 20);
        let out: Vec<InputMapping> = out.iter().map(|o| o.map).collect();
        assert_eq!(out[0].origin_x, 0.0);
        assert_eq!(out[0].scale, 0.5);
        let last = out[19];
        assert_eq!(last.origin_x + last.source_side(TILE_INPUT), 640.0);
        assert_eq!(last.origin_y + last.source_side(TILE_INPUT), 480.0);
        for w in out.windows(2).filter(|w| w[0].origin_y == w[1].origin_y) {
            let gap = w[1].origin_x - w[0].origin_x;
            assert!(gap > 0.0 && gap <= 120.0, "{gap}");
        }
    }

    #[test]
    fn sweep_visits_every_tile_once_per_round() {
        let mut t = RegionSweep::default();
        let mut out = Vec::new();
        let mut seen = Vec::new();
        for _ in 0..12 {
            t.plan((640, 480), &[2.0], Some(2), &mut out);
            assert_eq!(out.len(), 2);
            seen.extend(
                out.iter()
                    .map(|r| (r.map.origin_x as i32, r.map.origin_y as i32)),
            );
        }
        seen.sort();
        seen.dedup();
        assert_eq!(seen.len(), 20);
        // A frame smaller than a tile gets one centred tile.
        t.plan((100, 100), &[2.0], None, &mut out);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].map.origin_x, -30.0);
    }

    #[test]
    fn held_detections_last_until_their_tile_runs_again() {
        let mut t = RegionSweep::default();
        let mut out = Vec::new();
        t.plan((640, 480), &[2.0], Some(1), &mut out);
        let frame = RgbImage::from_pixel(640, 480, image::Rgb([90, 90, 90]));
        let d = face_at_10_10();
        t.hold(&frame, out[0].index, [d, d].into_iter());
        for _ in 0..19 {
            t.plan((640, 480), &[2.0], Some(1), &mut out);
            t.hold(&frame, out[0].index, std::iter::empty());
            t.drop_changed(&frame);
        }
        assert_eq!(t.held().count(), 2, "tile 0 has not run again yet");
        // Held for the 19 frames since tile 0 ran, and said so.
        assert!(
            t.held().all(|h| h.age == 19),
            "{:?}",
            t.held().collect::<Vec<_>>()
        );
        t.plan((640, 480), &[2.0], Some(1), &mut out);
        assert_eq!(out[0].index, 0);
        t.hold(&frame, 0, std::iter::empty());
        assert_eq!(t.held().count(), 0);
        t.hold(&frame, 1, [d].into_iter());
        t.reset();
        assert_eq!(t.held().count(), 0);
    }

    #[test]
    fn levels_share_one_sweep_the_first_level_first() {
        let mut t = RegionSweep::default();
        let mut out = Vec::new();
        // VGA at 1x (regions of 320 px: 3 x 2) and 2x (160 px: 5 x 4).
        t.plan((640, 480), &[1.0, 2.0], None, &mut out);
        assert_eq!(t.len(), 6 + 20);
        assert!(out[..6].iter().all(|r| r.level == 0 && r.map.scale == 1.0));
        assert!(out[6..].iter().all(|r| r.level == 1 && r.map.scale == 0.5));
        assert!(out.iter().enumerate().all(|(i, r)| r.index == i));
        let mut seen = Vec::new();
        for _ in 0..13 {
            t.plan((640, 480), &[1.0, 2.0], Some(2), &mut out);
            seen.extend(out.iter().map(|r| r.index));
        }
        assert_eq!(&seen[..6], &[0, 1, 2, 3, 4, 5]);
        seen.sort();
        assert_eq!(seen, (0..26).collect::<Vec<_>>());
        // Other scales are another grid: the sweep restarts on it.
        t.plan((640, 480), &[0.75, 2.0], Some(1), &mut out);
        assert_eq!(out[0].index, 0);
        assert_eq!(out[0].map.scale, 1.0 / 0.75);
    }

    #[test]
    fn a_held_box_whose_pixels_changed_is_dropped() {
        let mut t = RegionSweep::default();
        let mut out = Vec::new();
        let mut frame = RgbImage::from_pixel(640, 480, image::Rgb([90, 90, 90]));
        t.plan((640, 480), &[2.0], Some(1), &mut out);
        let d = face_at_10_10();
        t.hold(&frame, 0, [d].into_iter());
        // Noise-level change: kept.
        for p in frame.pixels_mut() {
            p.0 = [96, 96, 96];
        }
        t.drop_changed(&frame);
        assert_eq!(t.held().count(), 1);
        // The face moved away: its box now shows something else.
        for y in 10..30 {
            for x in 10..30 {
                frame.put_pixel(x, y, image::Rgb([200, 200, 200]));
            }
        }
        t.drop_changed(&frame);
        assert_eq!(t.held().count(), 0);
    }
}
