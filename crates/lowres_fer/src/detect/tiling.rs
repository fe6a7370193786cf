//! Which native-resolution 256x256 tiles to run besides the full frame.
//!
//! The full-range model needs a face to be >= ~15-20 model pixels; on a letterboxed
//! 720p frame (scale 5) that is a 75-100 px face. Native tiles (scale 1) find faces
//! down to ~10 px, but each costs as much as the full-frame pass, so
//! [`TilingMode::Rotating`] spends a fixed per-frame budget: a rotating sweep over
//! an overlapping grid of native tiles (new small faces are found within one
//! sweep) and "hint regions" around tracked faces too small for the full frame.
//! A hint region is scaled so its faces are ~[`HINT_TARGET_MODEL_PX`] model px:
//! native for 12-20 px faces, coarser for 40-60 px faces, so one region keeps
//! several nearby faces (e.g. a row of people) instead of one tile per face.

use super::decode::InputMapping;
use crate::face::BBox;
use crate::settings::config::TilingMode;

/// Tile side: the full-range model's input, used at scale 1.
pub const TILE: u32 = 256;
/// Overlap of neighbouring grid tiles. Any face up to this size lies entirely in
/// some tile, so detections touching an interior tile edge can be dropped.
pub const TILE_OVERLAP: u32 = 64;
/// Tiles are skipped when the full frame is shrunk less than this: the full pass
/// already sees faces at (nearly) native resolution.
pub const MIN_SCALE_FOR_TILES: f32 = 1.25;
/// A tracked face smaller than this many model pixels in the full-frame pass gets
/// a tile of its own (the full pass loses faces below ~16 model px; see
/// docs/detection.md).
pub const HINT_MAX_MODEL_PX: f32 = 24.0;
/// Detections closer than this (model px) to an interior tile edge are cut faces.
pub const EDGE_MARGIN: f32 = 2.0;
/// Face size (model px) hint regions are scaled for: well above the ~16 px where
/// the model gets unreliable, small enough that one region holds a group of faces.
pub const HINT_TARGET_MODEL_PX: f32 = 22.0;
/// A face already inside a hint region is served by it if its size there is in
/// this range (model px).
const HINT_SHARE_MODEL_PX: (f32, f32) = (12.0, 64.0);

/// Evenly spread tile positions along an axis of `len` pixels.
fn axis_positions(len: u32, out: &mut Vec<i32>) {
    out.clear();
    if len <= TILE {
        // One tile; centring it keeps the padding symmetric.
        out.push(-(((TILE - len) / 2) as i32));
        return;
    }
    let stride = TILE - TILE_OVERLAP;
    let n = (len - TILE).div_ceil(stride) + 1;
    let span = (len - TILE) as f32;
    for i in 0..n {
        out.push((span * i as f32 / (n - 1) as f32).round() as i32);
    }
}

/// True when `b` touches an edge of region `t` (a model input of side
/// `input_side`, e.g. [`TILE`]) that lies inside the frame: the face is
/// probably cut by the tile and another tile holds it whole.
pub fn touches_interior_edge(
    b: &BBox,
    t: &InputMapping,
    input_side: usize,
    width: u32,
    height: u32,
) -> bool {
    let (x0, y0) = (t.origin_x, t.origin_y);
    let side = t.source_side(input_side);
    let (x1, y1) = (x0 + side, y0 + side);
    let m = EDGE_MARGIN * t.scale;
    (x0 > 0.0 && b.x < x0 + m)
        || (y0 > 0.0 && b.y < y0 + m)
        || (x1 < width as f32 && b.x + b.w > x1 - m)
        || (y1 < height as f32 && b.y + b.h > y1 - m)
}

/// Origin of a region of `side` source px centred on `c` along an axis of `len`,
/// kept inside the frame (or centred on it when the frame is smaller).
pub(super) fn place(c: f32, side: f32, len: u32) -> f32 {
    let len = len as f32;
    if len <= side {
        ((len - side) * 0.5).round()
    } else {
        (c - side * 0.5).round().clamp(0.0, len - side)
    }
}

/// Plans the tiles of each frame; keeps the rotation state between frames.
#[derive(Debug, Default)]
pub struct TilePlanner {
    grid_key: Option<(u32, u32)>,
    grid: Vec<InputMapping>,
    xs: Vec<i32>,
    ys: Vec<i32>,
    hint_tiles: Vec<InputMapping>,
    hint_order: Vec<usize>,
    cursor: usize,
    /// Position (x, y) of the last hint region served: regions are rebuilt from
    /// the hints every frame, so the round-robin continues by position, not index.
    last_hint: Option<(f32, f32)>,
    frame: u64,
}

impl TilePlanner {
    /// All grid tiles of a `width` x `height` frame.
    pub fn grid(&mut self, width: u32, height: u32) -> &[InputMapping] {
        if self.grid_key != Some((width, height)) {
            axis_positions(width, &mut self.xs);
            axis_positions(height, &mut self.ys);
            self.grid.clear();
            for &y in &self.ys {
                for &x in &self.xs {
                    self.grid.push(InputMapping::tile(x, y));
                }
            }
            self.grid_key = Some((width, height));
            self.cursor = 0;
        }
        &self.grid
    }

    /// Tiles to run on this frame, written to `out`.
    ///
    /// `frame` is (width, height); `full_scale` is source pixels per model pixel
    /// of the full-frame pass.
    /// In `Rotating` mode `budget` tiles are shared: when tracked small faces need
    /// tiles, they get half the budget (rounded up; with a budget of 1 they
    /// alternate frames with the sweep) so the sweep never stalls and the average
    /// cost stays full frame + `budget` tiles.
    pub fn plan(
        &mut self,
        mode: TilingMode,
        frame: (u32, u32),
        full_scale: f32,
        hints: &[BBox],
        budget: usize,
        out: &mut Vec<InputMapping>,
    ) {
        out.clear();
        let (width, height) = frame;
        self.frame = self.frame.wrapping_add(1);
        if mode == TilingMode::Off || full_scale < MIN_SCALE_FOR_TILES {
            return;
        }
        self.grid(width, height);
        if mode == TilingMode::All {
            out.extend_from_slice(&self.grid);
            return;
        }
        if budget == 0 || self.grid.is_empty() {
            return;
        }
        self.plan_hint_tiles(width, height, full_scale, hints);
        let hint_slots = if self.hint_tiles.is_empty() {
            0
        } else if budget == 1 {
            (self.frame % 2) as usize
        } else {
            budget.div_ceil(2)
        };
        let n_hint = hint_slots.min(self.hint_tiles.len());
        if n_hint > 0 {
            let key = |t: &InputMapping| (t.origin_x, t.origin_y);
            self.hint_tiles.sort_unstable_by(|a, b| {
                key(a)
                    .partial_cmp(&key(b))
                    .unwrap_or(std::cmp::Ordering::Equal)
            });
            // First region after the last one served, wrapping around.
            let start = self
                .last_hint
                .and_then(|last| self.hint_tiles.iter().position(|t| key(t) > last))
                .unwrap_or(0);
            for k in 0..n_hint {
                let t = self.hint_tiles[(start + k) % self.hint_tiles.len()];
                out.push(t);
                self.last_hint = Some(key(&t));
            }
        }
        let n_grid = (budget - n_hint).min(self.grid.len());
        for _ in 0..n_grid {
            self.cursor %= self.grid.len();
            out.push(self.grid[self.cursor]);
            self.cursor += 1;
        }
    }

    /// One region per group of nearby small tracked faces, smallest faces first.
    fn plan_hint_tiles(&mut self, width: u32, height: u32, full_scale: f32, hints: &[BBox]) {
        self.hint_tiles.clear();
        self.hint_order.clear();
        let needs_help = |b: &BBox| {
            let side = b.w.max(b.h);
            side.is_finite() && side > 0.0 && side / full_scale < HINT_MAX_MODEL_PX
        };
        self.hint_order
            .extend((0..hints.len()).filter(|&i| needs_help(&hints[i])));
        self.hint_order
            .sort_unstable_by(|&a, &b| hints[a].area().total_cmp(&hints[b].area()));
        for &i in &self.hint_order {
            let b = &hints[i];
            let side = b.w.max(b.h);
            let served = |t: &InputMapping| {
                let m = 4.0 * EDGE_MARGIN * t.scale;
                let s = t.source_side(TILE as usize);
                let model_px = side / t.scale;
                b.x >= t.origin_x + m
                    && b.y >= t.origin_y + m
                    && b.x + b.w <= t.origin_x + s - m
                    && b.y + b.h <= t.origin_y + s - m
                    && (HINT_SHARE_MODEL_PX.0..=HINT_SHARE_MODEL_PX.1).contains(&model_px)
            };
            if self.hint_tiles.iter().any(served) {
                continue;
            }
            // Scale 1 is the native tile; never coarser than the full frame.
            let scale = (side / HINT_TARGET_MODEL_PX).clamp(1.0, full_scale.max(1.0));
            let region_side = TILE as f32 * scale;
            let (cx, cy) = b.center();
            self.hint_tiles.push(InputMapping {
                origin_x: place(cx, region_side, width),
                origin_y: place(cy, region_side, height),
                scale,
            });
        }
    }
}

/// Largest ratio between the scales of neighbouring pyramid levels (the full
/// frame is the coarsest level). With 2, a face too small for one level is at
/// least [`MIN_RELIABLE_MODEL_PX`] / 2 model px at the next finer one.
pub const LEVEL_RATIO: f32 = 2.0;
/// Faces below this many model px are missed or badly placed often enough
/// that the next finer level must see them (full frame: docs/detection.md).
pub const MIN_RELIABLE_MODEL_PX: f32 = 16.0;
/// Smallest detection (model px) a coarser-than-native pyramid region reports.
pub const MIN_REGION_MODEL_PX: f32 = 12.0;
/// Regions of one level overlap by the largest face that level is responsible
/// for (the smallest reliable face of the next coarser level) times this, so
/// every such face lies whole in some region.
pub const OVERLAP_SAFETY: f32 = 1.25;
/// A region holding a tracked face that only tiles see is revisited at least
/// every this many frames (the tracker drops a face after `max_missed` = 10
/// frames without a detection), as long as such regions take at most half of
/// the budget.
pub const HINT_PERIOD: f32 = 4.0;

/// A region that holds tracked faces refreshed by another region is due after
/// this fraction of a sweep.
pub const NEAR_PERIOD_FRACTION: f32 = 0.5;

/// Scales (source px per model px) of the pyramid levels below the full frame:
/// 1 (native), then geometric steps of at most [`LEVEL_RATIO`] up to, but not
/// including, `full_scale`. VGA (2.5): 1, 1.58. 720p (5): 1, 1.71, 2.92.
pub fn pyramid_levels(full_scale: f32, out: &mut Vec<f32>) {
    out.clear();
    // NaN (a degenerate frame) gets no levels either.
    if full_scale.is_nan() || full_scale < MIN_SCALE_FOR_TILES {
        return;
    }
    let steps = (full_scale.ln() / LEVEL_RATIO.ln()).ceil().max(1.0) as i32;
    let ratio = full_scale.powf(1.0 / steps as f32);
    out.extend((0..steps).map(|i| ratio.powi(i)));
}

/// Origins of regions of `side` px overlapping by at least `overlap` px along
/// an axis of `len` px, evenly spread (one centred region when it covers all).
fn level_positions(len: f32, side: f32, overlap: f32, out: &mut Vec<f32>) {
    out.clear();
    if len <= side {
        out.push(((len - side) * 0.5).round());
        return;
    }
    let stride = (side - overlap).max(1.0);
    let n = ((len - side) / stride).ceil() as usize + 1;
    let span = len - side;
    for i in 0..n {
        out.push((span * i as f32 / (n - 1) as f32).round());
    }
}

#[derive(Debug, Clone, Copy)]
struct Region {
    map: InputMapping,
    /// Faces this region's level is responsible for, source px (inclusive).
    faces: (f32, f32),
    /// Frames since the region was last run.
    stale: f32,
}

/// Plans the regions of [`TilingMode::Pyramid`]: every level of the pyramid is
/// tiled with regions overlapping by the largest face the level is responsible
/// for, and `budget` regions are run per frame, the most overdue first. A
/// region is due after one sweep (all regions) or, when it holds a tracked face
/// the full frame is too coarse for, after [`HINT_PERIOD`] frames. So a still
/// camera has every face of every size looked at within one sweep, and tracked
/// faces are refreshed before the tracker drops them.
#[derive(Debug, Default)]
pub struct PyramidPlanner {
    key: Option<(u32, u32, u32)>,
    regions: Vec<Region>,
    levels: Vec<f32>,
    xs: Vec<f32>,
    ys: Vec<f32>,
    /// Scratch: (urgency, region index) of this frame.
    order: Vec<(f32, usize)>,
    holds: Vec<bool>,
    /// Scratch: tracked faces each region could keep.
    counts: Vec<usize>,
}

impl PyramidPlanner {
    /// Number of regions of the current frame geometry (one sweep, in frames,
    /// at a budget of one).
    pub fn len(&self) -> usize {
        self.regions.len()
    }

    pub fn is_empty(&self) -> bool {
        self.regions.is_empty()
    }

    fn build(&mut self, width: u32, height: u32, full_scale: f32) {
        let key = (width, height, full_scale.to_bits());
        if self.key == Some(key) {
            return;
        }
        self.key = Some(key);
        self.regions.clear();
        pyramid_levels(full_scale, &mut self.levels);
        // Coarse levels first: they cover the most area per run.
        for k in (0..self.levels.len()).rev() {
            let s = self.levels[k];
            let next = self.levels.get(k + 1).copied().unwrap_or(full_scale);
            let side = TILE as f32 * s;
            let max_face = (MIN_RELIABLE_MODEL_PX * next * OVERLAP_SAFETY).min(side * 0.5);
            let min_face = if k == 0 {
                0.0
            } else {
                HINT_SHARE_MODEL_PX.0 * s
            };
            level_positions(width as f32, side, max_face, &mut self.xs);
            level_positions(height as f32, side, max_face, &mut self.ys);
            for &y in &self.ys {
                for &x in &self.xs {
                    self.regions.push(Region {
                        map: InputMapping {
                            origin_x: x,
                            origin_y: y,
                            scale: s,
                        },
                        faces: (min_face, max_face),
                        stale: 0.0,
                    });
                }
            }
        }
        // Start the sweep at the first region, then in order.
        let n = self.regions.len();
        for (i, r) in self.regions.iter_mut().enumerate() {
            r.stale = (n - i) as f32;
        }
    }

    /// Regions to run on this frame (`frame` = (width, height); `full_scale`
    /// as in [`TilePlanner::plan`]); `budget` of them, or all when `budget`
    /// covers them.
    pub fn plan(
        &mut self,
        frame: (u32, u32),
        full_scale: f32,
        hints: &[BBox],
        budget: usize,
        out: &mut Vec<InputMapping>,
    ) {
        out.clear();
        self.build(frame.0, frame.1, full_scale);
        let n = self.regions.len();
        if n == 0 || budget == 0 {
            return;
        }
        if budget >= n {
            out.extend(self.regions.iter().map(|r| r.map));
            return;
        }
        // Regions to keep the tracked faces that only tiles can see: each face
        // is given to one region (the one holding the most such faces), so
        // overlapping regions do not all count as holding it, and the fewest
        // regions share the revisits.
        self.holds.clear();
        self.holds.resize(n, false);
        self.counts.clear();
        let serves = |r: &Region, b: &BBox| {
            let side = b.w.max(b.h);
            let m = 4.0 * EDGE_MARGIN * r.map.scale;
            let s = r.map.source_side(TILE as usize);
            side.is_finite()
                && side / full_scale < HINT_MAX_MODEL_PX
                && side >= r.faces.0
                && side <= r.faces.1
                && b.x >= r.map.origin_x + m
                && b.y >= r.map.origin_y + m
                && b.x + b.w <= r.map.origin_x + s - m
                && b.y + b.h <= r.map.origin_y + s - m
        };
        for r in &self.regions {
            self.counts
                .push(hints.iter().filter(|b| serves(r, b)).count());
        }
        let mut n_holding = 0usize;
        for b in hints {
            let mut best: Option<usize> = None;
            let mut served = false;
            for (i, r) in self.regions.iter().enumerate() {
                if !serves(r, b) {
                    continue;
                }
                if self.holds[i] {
                    served = true;
                    break;
                }
                if best.is_none_or(|k| self.counts[i] > self.counts[k]) {
                    best = Some(i);
                }
            }
            if let (false, Some(i)) = (served, best) {
                self.holds[i] = true;
                n_holding += 1;
            }
        }
        // Holding regions take at most half the budget: beyond that their
        // period stretches, so the sweep (new faces) never stalls.
        let hint_period = HINT_PERIOD.max(2.0 * n_holding as f32 / budget as f32);
        self.order.clear();
        for (i, r) in self.regions.iter_mut().enumerate() {
            r.stale += 1.0;
            let period = if self.holds[i] {
                hint_period
            } else if self.counts[i] > 0 {
                // Holds tracked faces another region refreshes: faces come in
                // groups, so new ones are likelier here than in an empty region.
                (n as f32 * NEAR_PERIOD_FRACTION).max(hint_period)
            } else {
                n as f32
            };
            self.order.push((r.stale / period, i));
        }
        // Most overdue first; among equals the longest unvisited, then index.
        let regions = &self.regions;
        self.order.sort_unstable_by(|a, b| {
            b.0.total_cmp(&a.0)
                .then(regions[b.1].stale.total_cmp(&regions[a.1].stale))
                .then(a.1.cmp(&b.1))
        });
        for &(_, i) in self.order.iter().take(budget) {
            out.push(self.regions[i].map);
            self.regions[i].stale = 0.0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HD: (u32, u32) = (1280, 720);

    #[test]
    fn grid_covers_the_frame_with_at_least_the_overlap() {
        let mut p = TilePlanner::default();
        let g = p.grid(1280, 720).to_vec();
        // 1280: ceil(1024 / 192) + 1 = 7 columns; 720: ceil(464 / 192) + 1 = 4 rows.
        assert_eq!(g.len(), 28);
        assert_eq!(g[0], InputMapping::tile(0, 0));
        assert_eq!(g[6], InputMapping::tile(1024, 0));
        assert_eq!(g[27], InputMapping::tile(1024, 464));
        for w in g[..7].windows(2) {
            assert!(w[1].origin_x - w[0].origin_x <= (TILE - TILE_OVERLAP) as f32);
        }
        // A frame narrower than a tile gets one centred column.
        assert_eq!(p.grid(200, 600)[0].origin_x, -28.0);
    }

    #[test]
    fn rotation_visits_every_tile_within_one_sweep() {
        let mut p = TilePlanner::default();
        let mut out = Vec::new();
        let mut seen = Vec::new();
        for _ in 0..28 {
            p.plan(TilingMode::Rotating, HD, 5.0, &[], 1, &mut out);
            assert_eq!(out.len(), 1);
            if !seen.contains(&out[0]) {
                seen.push(out[0]);
            }
        }
        assert_eq!(seen.len(), 28);
        p.plan(TilingMode::All, HD, 5.0, &[], 1, &mut out);
        assert_eq!(out.len(), 28);
        p.plan(TilingMode::Off, HD, 5.0, &[], 1, &mut out);
        assert!(out.is_empty());
        // VGA-sized input into 256 is shrunk 2.5x: tiles still help; a 300 px
        // frame is not.
        p.plan(
            TilingMode::Rotating,
            (300, 200),
            300.0 / 256.0,
            &[],
            1,
            &mut out,
        );
        assert!(out.is_empty());
    }

    #[test]
    fn small_tracked_faces_share_the_budget_with_the_sweep() {
        let mut p = TilePlanner::default();
        let mut out = Vec::new();
        let small = BBox {
            x: 600.0,
            y: 300.0,
            w: 16.0,
            h: 16.0,
        };
        let near = BBox { x: 640.0, ..small };
        let big = BBox {
            w: 200.0,
            h: 200.0,
            ..small
        };
        let hints = [small, near, big];
        let mut hint_frames = 0;
        for _ in 0..10 {
            p.plan(TilingMode::Rotating, HD, 5.0, &hints, 1, &mut out);
            assert_eq!(out.len(), 1, "budget of 1 is never exceeded");
            if out[0] == InputMapping::tile(480, 180) {
                hint_frames += 1;
            }
        }
        // Every other frame serves the one tile centred on both small faces.
        assert_eq!(hint_frames, 5);
        p.plan(TilingMode::Rotating, HD, 5.0, &hints, 3, &mut out);
        assert_eq!(out.len(), 3);
        assert_eq!(out[0], InputMapping::tile(480, 180));
        // Tiles near the frame border are clamped inside the frame.
        let corner = BBox {
            x: 2.0,
            y: 700.0,
            w: 12.0,
            h: 12.0,
        };
        p.plan(TilingMode::Rotating, HD, 5.0, &[corner], 2, &mut out);
        assert_eq!(out[0], InputMapping::tile(0, 464));
        // A row of 50 px faces on a 2048 px wide frame (scale 8) shares coarser
        // regions: 50 / 22 = 2.27 source px per model px, 582 px wide.
        let row: Vec<BBox> = (0..8)
            .map(|i| BBox {
                x: 100.0 + 60.0 * i as f32,
                y: 400.0,
                w: 50.0,
                h: 50.0,
            })
            .collect();
        let mut p = TilePlanner::default();
        p.plan(TilingMode::Rotating, (2048, 922), 8.0, &row, 2, &mut out);
        let r = out[0];
        assert!(
            (r.scale - 50.0 / HINT_TARGET_MODEL_PX).abs() < 1e-4,
            "{r:?}"
        );
        assert_eq!(r.origin_x, 0.0);
        let served = row
            .iter()
            .filter(|b| b.x + b.w <= r.origin_x + r.source_side(256))
            .count();
        assert!(served >= 6, "{served} faces in the first region");
        p.plan_hint_tiles(2048, 922, 8.0, &row);
        assert_eq!(p.hint_tiles.len(), 2, "{:?}", p.hint_tiles);
    }

    #[test]
    fn pyramid_levels_step_by_at_most_two() {
        let mut l = Vec::new();
        pyramid_levels(2.5, &mut l);
        assert_eq!(l.len(), 2);
        assert!((l[1] - 2.5f32.sqrt()).abs() < 1e-4, "{l:?}");
        pyramid_levels(5.0, &mut l);
        assert_eq!(l.len(), 3);
        pyramid_levels(8.0, &mut l);
        assert!((l[2] - 4.0).abs() < 1e-3, "{l:?}");
        pyramid_levels(1.2, &mut l);
        assert!(l.is_empty());
        pyramid_levels(f32::NAN, &mut l);
        assert!(l.is_empty());
    }

    #[test]
    fn pyramid_sweep_covers_every_region_once_per_sweep() {
        let mut p = PyramidPlanner::default();
        let mut out = Vec::new();
        p.plan((640, 480), 2.5, &[], 1, &mut out);
        let n = p.len();
        // VGA: 6 native tiles (2 rows) + 4 regions at 1.58.
        assert_eq!(n, 10);
        let mut seen = vec![out[0]];
        for _ in 1..n {
            p.plan((640, 480), 2.5, &[], 1, &mut out);
            assert_eq!(out.len(), 1);
            assert!(!seen.contains(&out[0]), "{:?} twice", out[0]);
            seen.push(out[0]);
        }
        // Native tiles are integer-aligned (copied, not resampled).
        assert!(seen.iter().filter(|m| m.as_native_tile().is_some()).count() >= 6);
        // Every pixel of the frame is in a native tile.
        for y in (0..480).step_by(7) {
            for x in (0..640).step_by(7) {
                assert!(seen.iter().any(|m| m.scale == 1.0
                    && (x as f32) >= m.origin_x
                    && (x as f32) < m.origin_x + 256.0
                    && (y as f32) >= m.origin_y
                    && (y as f32) < m.origin_y + 256.0));
            }
        }
        // A budget that covers them all runs them all.
        p.plan((640, 480), 2.5, &[], 64, &mut out);
        assert_eq!(out.len(), n);
    }

    #[test]
    fn pyramid_revisits_regions_with_tracked_small_faces() {
        let mut p = PyramidPlanner::default();
        let mut out = Vec::new();
        let face = BBox {
            x: 300.0,
            y: 200.0,
            w: 20.0,
            h: 20.0,
        };
        let mut visits = 0;
        let mut all = Vec::new();
        for _ in 0..40 {
            p.plan(HD, 5.0, &[face], 1, &mut out);
            assert_eq!(out.len(), 1);
            let m = out[0];
            if m.scale == 1.0
                && face.x >= m.origin_x
                && face.x + face.w <= m.origin_x + 256.0
                && face.y >= m.origin_y
                && face.y + face.h <= m.origin_y + 256.0
            {
                visits += 1;
            }
            if !all.contains(&m) {
                all.push(m);
            }
        }
        // Every 4 frames at least (the tiles holding it), and the sweep went on.
        assert!(visits >= 8, "{visits}");
        assert!(all.len() >= 25, "{}", all.len());
        // A face the full frame sees well (>= 24 model px) needs no tile.
        let big = BBox {
            w: 150.0,
            h: 150.0,
            ..face
        };
        let mut p = PyramidPlanner::default();
        let mut seen = Vec::new();
        for _ in 0..p.len().max(34) {
            p.plan(HD, 5.0, &[big], 1, &mut out);
            if !seen.contains(&out[0]) {
                seen.push(out[0]);
            }
        }
        assert_eq!(seen.len(), p.len());
    }

    #[test]
    fn pyramid_visits_regions_near_tracked_faces_more_often() {
        let mut p = PyramidPlanner::default();
        let mut out = Vec::new();
        let face = BBox {
            x: 300.0,
            y: 200.0,
            w: 20.0,
            h: 20.0,
        };
        p.plan(HD, 5.0, &[face], 1, &mut out);
        let n = p.len();
        let mut visits: Vec<(InputMapping, usize)> = Vec::new();
        for _ in 0..2 * n {
            p.plan(HD, 5.0, &[face], 1, &mut out);
            match visits.iter_mut().find(|v| v.0 == out[0]) {
                Some(v) => v.1 += 1,
                None => visits.push((out[0], 1)),
            }
        }
        // The sweep did not stall: every region ran within two sweeps.
        assert_eq!(visits.len(), n);
        let contains = |m: &InputMapping| {
            m.scale == 1.0
                && face.x >= m.origin_x + 8.0
                && face.x + face.w <= m.origin_x + 248.0
                && face.y >= m.origin_y + 8.0
                && face.y + face.h <= m.origin_y + 248.0
        };
        let near: Vec<usize> = visits
            .iter()
            .filter(|v| contains(&v.0))
            .map(|v| v.1)
            .collect();
        let empty_max = visits
            .iter()
            .filter(|v| !contains(&v.0))
            .map(|v| v.1)
            .max()
            .unwrap_or(0);
        assert!(near.len() >= 2, "{near:?}");
        // The holder every 4 frames, the other tiles with the face every half
        // sweep, the rest about once per sweep.
        assert!(near.iter().all(|&k| k >= 3), "{near:?}");
        assert!(empty_max <= 3, "{empty_max}");
    }

    #[test]
    fn only_cuts_at_interior_edges_are_rejected() {
        let b = |x: f32, y: f32| BBox {
            x,
            y,
            w: 20.0,
            h: 20.0,
        };
        let t = InputMapping::tile(192, 0);
        assert!(touches_interior_edge(
            &b(191.0, 50.0),
            &t,
            TILE as usize,
            1280,
            720
        ));
        assert!(touches_interior_edge(
            &b(430.0, 50.0),
            &t,
            TILE as usize,
            1280,
            720
        ));
        assert!(!touches_interior_edge(
            &b(250.0, 0.0),
            &t,
            TILE as usize,
            1280,
            720
        ));
        // At the frame's own border the face is not cut by the tile.
        let corner = InputMapping::tile(0, 0);
        assert!(!touches_interior_edge(
            &b(0.0, 0.0),
            &corner,
            TILE as usize,
            1280,
            720
        ));
    }
}
