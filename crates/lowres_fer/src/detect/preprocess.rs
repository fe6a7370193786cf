//! Filling model inputs without allocating per frame: BlazeFace's NHWC RGB in
//! [-1, 1], and the plain RGB resampling RetinaFace's input is made from.
//!
//! The full frame is letterboxed and shrunk with an antialiased triangle filter
//! (what Pillow's BILINEAR resize does): plain bilinear sampling at the 2.5-5x
//! reductions of VGA/720p frames aliases small faces away. Tiles are copied at
//! native resolution. Pixels outside the frame are black (-1), as the model was
//! fed letterboxed frames with black padding.

use image::RgbImage;

use super::decode::InputMapping;

/// Scale a byte to the model's [-1, 1] input range.
#[inline]
fn norm(v: f32) -> f32 {
    v * (1.0 / 127.5) - 1.0
}

/// 1-D resampling taps: for output `i`, source indices `start[i]..start[i]+len[i]`
/// with weights `weights[offset[i]..]`. Taps inside the region but outside the
/// frame (letterbox padding) read black; taps outside both are left out of the
/// normalisation, so frame borders are not darkened (as Pillow's resize does).
#[derive(Debug, Default, Clone)]
struct Taps {
    start: Vec<usize>,
    len: Vec<usize>,
    offset: Vec<usize>,
    weights: Vec<f32>,
}

impl Taps {
    /// `out_len` outputs covering source coordinates `origin .. origin + out_len * scale`
    /// of an axis of `src_len` pixels.
    fn build(&mut self, src_len: usize, out_len: usize, origin: f32, scale: f32) {
        self.start.clear();
        self.len.clear();
        self.offset.clear();
        self.weights.clear();
        let support = scale.max(1.0);
        // Taps outside the union of the frame and the region do not count.
        let lo_valid = origin.min(0.0).floor() as i64;
        let hi_valid = (origin + out_len as f32 * scale).max(src_len as f32).ceil() as i64 - 1;
        for i in 0..out_len {
            let centre = origin + (i as f32 + 0.5) * scale;
            let lo = ((centre - support).floor() as i64).max(lo_valid);
            let hi = ((centre + support).ceil() as i64).min(hi_valid);
            let mut total = 0.0f32;
            for j in lo..=hi {
                total += (1.0 - ((j as f32 + 0.5 - centre) / support).abs()).max(0.0);
            }
            let first = lo.max(0);
            let last = hi.min(src_len as i64 - 1);
            self.offset.push(self.weights.len());
            self.start.push(first.max(0) as usize);
            let mut n = 0;
            if total > 0.0 {
                for j in first..=last {
                    let w = (1.0 - ((j as f32 + 0.5 - centre) / support).abs()).max(0.0);
                    self.weights.push(w / total);
                    n += 1;
                }
            }
            self.len.push(n);
        }
    }

    fn release_excess(&mut self) {
        release_excess(&mut self.start);
        release_excess(&mut self.len);
        release_excess(&mut self.offset);
        release_excess(&mut self.weights);
    }
}

/// Resampler of a source region (any origin and scale, e.g. the letterboxed
/// frame) into a model input; its taps are rebuilt only when the geometry changes.
///
/// The horizontal pass streams through a ring of as many frame rows as one output
/// row reads (about twice the scale), so working memory follows the model side and
/// the scale, never the frame's height: a buffer of every frame row cost 50 MB for
/// a 1x16384 frame (per resampler, kept after it), the ring needs 0.4 MB.
#[derive(Debug, Default)]
pub struct Resampler {
    key: Option<(u32, u32, usize, usize, [u32; 3])>,
    cols: Taps,
    rows: Taps,
    /// Horizontally resampled frame rows, `ring_rows * out_w * 3`: frame row `y`
    /// lives in slot `y % ring_rows` while output rows still read it.
    ring: Vec<f32>,
    ring_rows: usize,
}

/// Drop the spare capacity a larger geometry left behind, so one odd frame does
/// not keep its buffers for the rest of the run (a no-op in steady state).
fn release_excess<T>(v: &mut Vec<T>) {
    if v.capacity() > 2 * v.len() + 4096 {
        v.shrink_to_fit();
    }
}

/// Horizontal pass of frame row `y` (`w` pixels) into `out` (`out_w * 3` values).
fn resample_row(src: &[u8], w: usize, y: usize, cols: &Taps, out: &mut [f32]) {
    let srow = &src[y * w * 3..(y + 1) * w * 3];
    for (u, o) in out.chunks_exact_mut(3).enumerate() {
        let (s, n, off) = (cols.start[u], cols.len[u], cols.offset[u]);
        let mut acc = [0.0f32; 3];
        for (k, &wt) in cols.weights[off..off + n].iter().enumerate() {
            let p = &srow[(s + k) * 3..(s + k) * 3 + 3];
            acc[0] += wt * p[0] as f32;
            acc[1] += wt * p[1] as f32;
            acc[2] += wt * p[2] as f32;
        }
        o.copy_from_slice(&acc);
    }
}

impl Resampler {
    /// Bytes of working memory held (taps and the row ring).
    pub fn working_bytes(&self) -> usize {
        let taps = |t: &Taps| {
            (t.start.capacity() + t.len.capacity() + t.offset.capacity()) * size_of::<usize>()
                + t.weights.capacity() * size_of::<f32>()
        };
        taps(&self.cols) + taps(&self.rows) + self.ring.capacity() * size_of::<f32>()
    }

    /// Fill `input` (`side * side * 3`, NHWC, [-1, 1]) with the square region
    /// `map` of `frame`: BlazeFace's input.
    pub fn fill(&mut self, frame: &RgbImage, map: &InputMapping, side: usize, input: &mut [f32]) {
        self.fill_rgb(frame, map, (side, side), input);
        for a in input.iter_mut() {
            *a = norm(*a);
        }
    }

    /// Fill `out` (`out_w * out_h * 3`, HWC RGB, 0..255 floats) with the region
    /// of `out_w` x `out_h` model pixels that `map` places on `frame`. Taps are
    /// triangles as wide as the reduction (antialiased shrinking) and bilinear
    /// when enlarging.
    pub fn fill_rgb(
        &mut self,
        frame: &RgbImage,
        map: &InputMapping,
        (out_w, out_h): (usize, usize),
        out: &mut [f32],
    ) {
        let (w, h) = frame.dimensions();
        let key = (
            w,
            h,
            out_w,
            out_h,
            [
                map.origin_x.to_bits(),
                map.origin_y.to_bits(),
                map.scale.to_bits(),
            ],
        );
        let row_len = out_w * 3;
        if self.key != Some(key) {
            self.cols.build(w as usize, out_w, map.origin_x, map.scale);
            self.rows.build(h as usize, out_h, map.origin_y, map.scale);
            self.cols.release_excess();
            self.rows.release_excess();
            self.ring_rows = self.rows.len.iter().copied().max().unwrap_or(0).max(1);
            self.ring.clear();
            self.ring.resize(self.ring_rows * row_len, 0.0);
            release_excess(&mut self.ring);
            self.key = Some(key);
        }
        let w = w as usize;
        let src = frame.as_raw();
        let cap = self.ring_rows;
        // Frame rows `have.0 .. have.1` are in the ring (at most `cap` of them).
        // Output rows read ascending, overlapping row ranges, so each frame row
        // is resampled horizontally once per fill.
        let mut have = (0usize, 0usize);
        for v in 0..out_h {
            let out = &mut out[v * row_len..(v + 1) * row_len];
            out.fill(0.0);
            let (s, n, o) = (self.rows.start[v], self.rows.len[v], self.rows.offset[v]);
            if n > 0 {
                let end = s + n;
                if s < have.0 || s > have.1 {
                    have = (s, s);
                }
                while have.1 < end {
                    let slot = have.1 % cap;
                    let trow = &mut self.ring[slot * row_len..(slot + 1) * row_len];
                    resample_row(src, w, have.1, &self.cols, trow);
                    have.1 += 1;
                }
                have.0 = have.0.max(end.saturating_sub(cap));
                // Vertical pass.
                for (k, &wt) in self.rows.weights[o..o + n].iter().enumerate() {
                    let slot = (s + k) % cap;
                    let trow = &self.ring[slot * row_len..(slot + 1) * row_len];
                    for (a, &b) in out.iter_mut().zip(trow) {
                        *a += wt * b;
                    }
                }
            }
        }
    }
}

/// Copy the `side` x `side` native-resolution tile at `(x0, y0)` (may stick out of
/// the frame: that part is black) into `input`.
pub fn fill_tile(frame: &RgbImage, x0: i32, y0: i32, side: usize, input: &mut [f32]) {
    let (w, h) = (frame.width() as i64, frame.height() as i64);
    let src = frame.as_raw();
    input.fill(-1.0);
    for v in 0..side {
        let y = y0 as i64 + v as i64;
        if y < 0 || y >= h {
            continue;
        }
        let xa = (x0 as i64).max(0);
        let xb = (x0 as i64 + side as i64).min(w);
        if xa >= xb {
            continue;
        }
        let srow = &src[((y * w + xa) * 3) as usize..((y * w + xb) * 3) as usize];
        let u0 = (xa - x0 as i64) as usize;
        let out = &mut input[(v * side + u0) * 3..(v * side + u0) * 3 + srow.len()];
        for (a, &b) in out.iter_mut().zip(srow) {
            *a = norm(b as f32);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn letterbox_pads_black_and_keeps_flat_colours() {
        // 8x4 grey frame into 4x4: rows 0 and 3 are padding.
        let frame = RgbImage::from_pixel(8, 4, image::Rgb([255, 127, 0]));
        let mut input = vec![0.0f32; 4 * 4 * 3];
        Resampler::default().fill(
            &frame,
            &InputMapping::letterbox(frame.width(), frame.height(), 4),
            4,
            &mut input,
        );
        let px = |u: usize, v: usize| &input[(v * 4 + u) * 3..(v * 4 + u) * 3 + 3];
        for u in 0..4 {
            // Padding rows: the 2x triangle filter (weights 3/4, 3/4, 1/4 inside
            // the letterbox square) takes 1/7 from the frame's edge row, as
            // resizing a letterboxed image does.
            for v in [0, 3] {
                let p = px(u, v);
                assert!(
                    (p[0] - (2.0 / 7.0 - 1.0)).abs() < 1e-5,
                    "u={u} v={v}: {p:?}"
                );
                assert_eq!(p[2], -1.0);
            }
            // Frame rows take 1/8 from the padding next to them, but nothing is
            // lost at the left and right frame borders: all columns are equal.
            for v in [1, 2] {
                let p = px(u, v);
                assert!((p[0] - 0.75).abs() < 1e-5, "u={u} v={v}: {p:?}");
                for (a, b) in p.iter().zip(px(1, v)) {
                    assert!((a - b).abs() < 1e-5, "u={u} v={v}: {p:?}");
                }
            }
        }
    }

    #[test]
    fn letterbox_at_scale_one_is_an_exact_copy() {
        let mut frame = RgbImage::new(4, 4);
        frame.put_pixel(2, 1, image::Rgb([255, 255, 255]));
        let mut input = vec![0.0f32; 4 * 4 * 3];
        Resampler::default().fill(
            &frame,
            &InputMapping::letterbox(frame.width(), frame.height(), 4),
            4,
            &mut input,
        );
        for (i, &v) in input.iter().enumerate() {
            let want = if i / 3 == 4 + 2 { 1.0 } else { -1.0 };
            assert!((v - want).abs() < 1e-5, "index {i}: {v}");
        }
    }

    #[test]
    fn region_at_scale_two_averages_pixel_pairs() {
        // A 4x4 region of a 8x8 checker of columns (0, 255, 0, 255, ...) at scale 2
        // covers x in [2, 10): every output mixes dark and bright columns.
        let mut frame = RgbImage::new(8, 8);
        for (x, _, p) in frame.enumerate_pixels_mut() {
            let v = if x % 2 == 1 { 255 } else { 0 };
            *p = image::Rgb([v, v, v]);
        }
        let map = InputMapping {
            origin_x: 2.0,
            origin_y: 0.0,
            scale: 2.0,
        };
        let mut input = vec![0.0f32; 4 * 4 * 3];
        Resampler::default().fill(&frame, &map, 4, &mut input);
        // Columns 3 and 4 (model u = 3) reach x = 10 > 8: partly black padding.
        for v in 0..4 {
            for u in 0..3 {
                let got = input[(v * 4 + u) * 3];
                assert!(got.abs() < 0.05, "u={u} v={v}: {got}");
            }
            assert!(input[(v * 4 + 3) * 3] < -0.2);
        }
    }

    #[test]
    fn tile_outside_the_frame_is_black() {
        let frame = RgbImage::from_pixel(3, 3, image::Rgb([255, 255, 255]));
        let mut input = vec![0.0f32; 4 * 4 * 3];
        fill_tile(&frame, -1, 1, 4, &mut input);
        let px = |u: usize, v: usize| input[(v * 4 + u) * 3];
        assert_eq!(px(0, 0), -1.0); // x = -1
        assert_eq!(px(1, 0), 1.0); // (0, 1)
        assert_eq!(px(3, 0), 1.0); // (2, 1)
        assert_eq!(px(1, 1), 1.0); // (0, 2)
        assert_eq!(px(1, 2), -1.0); // y = 3: below the frame
    }

    /// The resampler as it was before the row ring: every frame row resampled
    /// horizontally into one buffer of `height * side * 3`, then the vertical pass.
    fn fill_with_a_full_row_buffer(
        frame: &RgbImage,
        map: &InputMapping,
        side: usize,
        input: &mut [f32],
    ) {
        let (w, h) = (frame.width() as usize, frame.height() as usize);
        let (mut cols, mut rows) = (Taps::default(), Taps::default());
        cols.build(w, side, map.origin_x, map.scale);
        rows.build(h, side, map.origin_y, map.scale);
        let row_len = side * 3;
        let mut tmp = vec![0.0f32; h * row_len];
        for y in 0..h {
            resample_row(
                frame.as_raw(),
                w,
                y,
                &cols,
                &mut tmp[y * row_len..(y + 1) * row_len],
            );
        }
        for v in 0..side {
            let out = &mut input[v * row_len..(v + 1) * row_len];
            out.fill(0.0);
            let (s, n, o) = (rows.start[v], rows.len[v], rows.offset[v]);
            for (k, &wt) in rows.weights[o..o + n].iter().enumerate() {
                for (a, &b) in out
                    .iter_mut()
                    .zip(&tmp[(s + k) * row_len..(s + k + 1) * row_len])
                {
                    *a += wt * b;
                }
            }
            for a in out.iter_mut() {
                *a = norm(*a);
            }
        }
    }

    fn noise(w: u32, h: u32) -> RgbImage {
        let mut seed = 7u32;
        RgbImage::from_fn(w, h, |_, _| {
            seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12345);
            let b = (seed >> 16).to_le_bytes();
            image::Rgb([b[0], b[1], b[2]])
        })
    }

    /// The row ring gives exactly what a buffer of every frame row gave, for
    /// letterboxed frames of every shape and for regions (one resampler, so
    /// the geometry changes between fills).
    #[test]
    fn row_ring_matches_a_full_row_buffer() {
        let mut resampler = Resampler::default();
        let side = 16;
        let cases = [
            (noise(640, 480), None),
            (noise(3, 1000), None),
            (noise(1000, 3), None),
            (noise(17, 16), None),
            (noise(5, 5), None),
            (
                noise(200, 150),
                Some(InputMapping {
                    origin_x: 30.0,
                    origin_y: -7.5,
                    scale: 2.7,
                }),
            ),
            (noise(64, 64), Some(InputMapping::tile(10, 50))),
        ];
        for (frame, region) in &cases {
            let map = region
                .unwrap_or_else(|| InputMapping::letterbox(frame.width(), frame.height(), side));
            let mut got = vec![0.0f32; side * side * 3];
            let mut want = vec![0.0f32; side * side * 3];
            resampler.fill(frame, &map, side, &mut got);
            fill_with_a_full_row_buffer(frame, &map, side, &mut want);
            assert_eq!(got, want, "{:?} {map:?}", frame.dimensions());
        }
    }

    /// Issue 29: a 1x16384 frame made each resampler hold 50 MB (a buffer of
    /// every frame row) for the rest of the run. The ring holds the rows of one
    /// output row, and a later ordinary frame releases what the odd one grew.
    #[test]
    fn working_memory_follows_the_scale_not_the_frame_height() {
        let side = 256;
        let mut resampler = Resampler::default();
        let mut input = vec![0.0f32; side * side * 3];
        let vga = noise(640, 480);
        resampler.fill(
            &vga,
            &InputMapping::letterbox(640, 480, side),
            side,
            &mut input,
        );
        let steady = resampler.working_bytes();
        assert!(steady < 100_000, "VGA: {steady} bytes");
        for (w, h) in [(1, 16_384), (16_384, 1), (1, 8192)] {
            let thin = RgbImage::new(w, h);
            resampler.fill(
                &thin,
                &InputMapping::letterbox(w, h, side),
                side,
                &mut input,
            );
            let bytes = resampler.working_bytes();
            assert!(bytes < 1 << 20, "{w}x{h}: {bytes} bytes");
        }
        resampler.fill(
            &vga,
            &InputMapping::letterbox(640, 480, side),
            side,
            &mut input,
        );
        assert!(
            resampler.working_bytes() <= 2 * steady,
            "after VGA again: {} bytes, {steady} before the thin frames",
            resampler.working_bytes()
        );
    }
}
