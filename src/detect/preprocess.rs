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
}

/// Resampler of a source region (any origin and scale, e.g. the letterboxed
/// frame) into a model input; its taps are rebuilt only when the geometry changes.
#[derive(Debug, Default)]
pub struct Resampler {
    key: Option<(u32, u32, usize, usize, [u32; 3])>,
    cols: Taps,
    rows: Taps,
    /// Horizontally resampled frame rows: `height * out_w * 3`.
    tmp: Vec<f32>,
}

impl Resampler {
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
        if self.key != Some(key) {
            self.cols.build(w as usize, out_w, map.origin_x, map.scale);
            self.rows.build(h as usize, out_h, map.origin_y, map.scale);
            self.key = Some(key);
        }
        let (w, h) = (w as usize, h as usize);
        let src = frame.as_raw();
        let row_len = out_w * 3;
        // Only the frame rows some output row reads.
        let (y_lo, y_hi) = match (self.rows.start.first(), self.rows.start.last()) {
            (Some(&a), Some(&b)) => (a, (b + self.rows.len[out_h - 1]).min(h)),
            _ => (0, 0),
        };
        self.tmp.resize(h * row_len, 0.0);
        // Horizontal pass.
        for y in y_lo..y_hi {
            let srow = &src[y * w * 3..(y + 1) * w * 3];
            let trow = &mut self.tmp[y * row_len..(y + 1) * row_len];
            for u in 0..out_w {
                let (s, n, o) = (self.cols.start[u], self.cols.len[u], self.cols.offset[u]);
                let mut acc = [0.0f32; 3];
                for (k, &wt) in self.cols.weights[o..o + n].iter().enumerate() {
                    let p = &srow[(s + k) * 3..(s + k) * 3 + 3];
                    acc[0] += wt * p[0] as f32;
                    acc[1] += wt * p[1] as f32;
                    acc[2] += wt * p[2] as f32;
                }
                trow[u * 3..u * 3 + 3].copy_from_slice(&acc);
            }
        }
        // Vertical pass.
        for v in 0..out_h {
            let out = &mut out[v * row_len..(v + 1) * row_len];
            out.fill(0.0);
            let (s, n, o) = (self.rows.start[v], self.rows.len[v], self.rows.offset[v]);
            for (k, &wt) in self.rows.weights[o..o + n].iter().enumerate() {
                let trow = &self.tmp[(s + k) * row_len..(s + k + 1) * row_len];
                for (a, &b) in out.iter_mut().zip(trow) {
                    *a += wt * b;
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
}
