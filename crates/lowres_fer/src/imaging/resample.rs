//! Pillow-exact antialiased resampling for 8-bit grayscale images.
//!
//! The FER+ low-resolution protocol (and the training pipeline) resizes with Pillow's
//! `Image.BILINEAR`, which is an antialiased triangle filter evaluated in fixed point,
//! horizontal pass first, rounding to 8 bits between passes. The `image` crate's
//! `Triangle` filter is close but rounds differently (off by one on some pixels).
//! This is a port of Pillow's `Resample.c` so Rust and Python degrade faces
//! bit-identically (checked against a test vector written by Python), and it resizes
//! into caller-owned buffers so the per-frame path does not allocate.

/// Fixed-point precision of Pillow's 8-bit resampler.
const PRECISION_BITS: u32 = 32 - 8 - 2;

/// Pillow's convolution filters (`Image.BOX`, `BILINEAR`, `BICUBIC`); the node and the
/// clean protocol use `Bilinear`, the robustness table the others (crates/lowres_fer_lab/src/degrade.rs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Filter {
    /// Area averaging (`Image.BOX`).
    Box,
    #[default]
    Bilinear,
    /// Keys cubic with a = -0.5 (`Image.BICUBIC`).
    Bicubic,
}

impl Filter {
    fn support(self) -> f64 {
        match self {
            Filter::Box => 0.5,
            Filter::Bilinear => 1.0,
            Filter::Bicubic => 2.0,
        }
    }

    fn weight(self, x: f64) -> f64 {
        match self {
            Filter::Box => {
                if x > -0.5 && x <= 0.5 {
                    1.0
                } else {
                    0.0
                }
            }
            Filter::Bilinear => (1.0 - x.abs()).max(0.0),
            Filter::Bicubic => {
                const A: f64 = -0.5;
                let x = x.abs();
                if x < 1.0 {
                    ((A + 2.0) * x - (A + 3.0)) * x * x + 1.0
                } else if x < 2.0 {
                    (((x - 5.0) * x + 8.0) * x - 4.0) * A
                } else {
                    0.0
                }
            }
        }
    }
}

/// Filter coefficients for one axis: per output pixel, first input index, count, weights.
#[derive(Debug, Clone, Default)]
struct AxisCoeffs {
    filter: Filter,
    in_size: usize,
    out_size: usize,
    ksize: usize,
    bounds: Vec<(usize, usize)>,
    weights: Vec<i32>,
}

impl AxisCoeffs {
    fn compute(&mut self, in_size: usize, out_size: usize, filter: Filter) {
        if self.in_size == in_size
            && self.out_size == out_size
            && self.filter == filter
            && !self.bounds.is_empty()
        {
            return;
        }
        let scale = in_size as f64 / out_size as f64;
        let filterscale = scale.max(1.0);
        let support = filter.support() * filterscale;
        let ksize = support.ceil() as usize * 2 + 1;
        self.filter = filter;
        self.in_size = in_size;
        self.out_size = out_size;
        self.ksize = ksize;
        self.bounds.clear();
        self.weights.clear();
        self.weights.resize(out_size * ksize, 0);
        let mut k = vec![0f64; ksize];
        for xx in 0..out_size {
            let center = (xx as f64 + 0.5) * scale;
            let ss = 1.0 / filterscale;
            // C's (int) cast truncates toward zero.
            let xmin = ((center - support + 0.5) as i64).max(0) as usize;
            let xmax = ((center + support + 0.5) as i64).min(in_size as i64) as usize;
            let count = xmax.saturating_sub(xmin);
            let mut ww = 0.0;
            for (x, kx) in k.iter_mut().enumerate().take(count) {
                let t = ((x + xmin) as f64 - center + 0.5) * ss;
                let w = filter.weight(t);
                *kx = w;
                ww += w;
            }
            for (x, &kx) in k.iter().enumerate().take(count) {
                let w = if ww != 0.0 { kx / ww } else { kx };
                let fixed = w * (1u32 << PRECISION_BITS) as f64;
                self.weights[xx * ksize + x] = if w < 0.0 {
                    (fixed - 0.5) as i32
                } else {
                    (fixed + 0.5) as i32
                };
            }
            self.bounds.push((xmin, count));
        }
    }
}

#[inline]
fn clip8(v: i32) -> u8 {
    if v >= (1 << PRECISION_BITS << 8) {
        255
    } else if v <= 0 {
        0
    } else {
        (v >> PRECISION_BITS) as u8
    }
}

/// Reusable coefficient tables and the intermediate buffer between the two passes.
#[derive(Debug, Clone, Default)]
pub struct Resizer {
    horiz: AxisCoeffs,
    vert: AxisCoeffs,
    temp: Vec<u8>,
}

impl Resizer {
    pub fn new() -> Self {
        Self::default()
    }

    /// Resize `src` (sw x sh, row-major, 1 byte per pixel) into `dst` (dw x dh).
    /// Same result as Pillow's `Image.resize((dw, dh), Image.BILINEAR)` on mode "L".
    ///
    /// Panics if the slices are shorter than the sizes say or a size is zero
    /// (a programming error: callers own both buffers).
    pub fn resize(
        &mut self,
        src: &[u8],
        sw: usize,
        sh: usize,
        dst: &mut [u8],
        dw: usize,
        dh: usize,
    ) {
        self.resize_with(Filter::Bilinear, src, sw, sh, dst, dw, dh)
    }

    /// [`Resizer::resize`] with another of Pillow's convolution filters.
    #[allow(clippy::too_many_arguments)]
    pub fn resize_with(
        &mut self,
        filter: Filter,
        src: &[u8],
        sw: usize,
        sh: usize,
        dst: &mut [u8],
        dw: usize,
        dh: usize,
    ) {
        check_sizes(src, sw, sh, dst, dw, dh);
        let need_h = sw != dw;
        let need_v = sh != dh;
        if !need_h && !need_v {
            dst[..dw * dh].copy_from_slice(&src[..sw * sh]);
            return;
        }
        self.vert.compute(sh, dh, filter);
        self.horiz.compute(sw, dw, filter);
        if need_h {
            // Only the source rows the vertical pass reads (Pillow's ybox_first/last).
            let (first, last) = if need_v {
                let (f, _) = self.vert.bounds[0];
                let (l, n) = self.vert.bounds[dh - 1];
                (f, l + n)
            } else {
                (0, sh)
            };
            let rows = last - first;
            self.temp.resize(dw * rows, 0);
            let h = &self.horiz;
            for y in 0..rows {
                let line = &src[(y + first) * sw..(y + first + 1) * sw];
                for xx in 0..dw {
                    let (xmin, count) = h.bounds[xx];
                    let k = &h.weights[xx * h.ksize..xx * h.ksize + count];
                    let mut ss: i32 = 1 << (PRECISION_BITS - 1);
                    for (x, &w) in k.iter().enumerate() {
                        ss += line[xmin + x] as i32 * w;
                    }
                    self.temp[y * dw + xx] = clip8(ss);
                }
            }
            if need_v {
                vertical(&self.vert, &self.temp, dw, first, dst, dh);
            } else {
                dst[..dw * dh].copy_from_slice(&self.temp[..dw * dh]);
            }
        } else {
            vertical(&self.vert, src, sw, 0, dst, dh);
        }
    }
}

/// Both resizers' preconditions: non-empty sizes and buffers that hold them (a
/// programming error otherwise: callers own both buffers).
fn check_sizes(src: &[u8], sw: usize, sh: usize, dst: &[u8], dw: usize, dh: usize) {
    assert!(
        sw > 0 && sh > 0 && dw > 0 && dh > 0,
        "resize of an empty image"
    );
    assert!(
        src.len() >= sw * sh && dst.len() >= dw * dh,
        "resize buffers too small"
    );
}

/// Pillow's `Image.resize(..., Image.NEAREST)` on mode "L": an affine nearest-neighbour
/// transform whose source coordinate is accumulated exactly as Pillow's C loop does
/// (start at half a step, add one step per pixel), so rounding at exact integers agrees.
pub fn resize_nearest(src: &[u8], sw: usize, sh: usize, dst: &mut [u8], dw: usize, dh: usize) {
    check_sizes(src, sw, sh, dst, dw, dh);
    let (ax, ay) = (sw as f64 / dw as f64, sh as f64 / dh as f64);
    let mut yy = ay * 0.5;
    for y in 0..dh {
        let yin = (yy.max(0.0) as usize).min(sh - 1);
        let mut xx = ax * 0.5;
        for x in 0..dw {
            let xin = (xx.max(0.0) as usize).min(sw - 1);
            dst[y * dw + x] = src[yin * sw + xin];
            xx += ax;
        }
        yy += ay;
    }
}

fn vertical(
    v: &AxisCoeffs,
    src: &[u8],
    width: usize,
    row_offset: usize,
    dst: &mut [u8],
    dh: usize,
) {
    for yy in 0..dh {
        let (ymin, count) = v.bounds[yy];
        let k = &v.weights[yy * v.ksize..yy * v.ksize + count];
        for xx in 0..width {
            let mut ss: i32 = 1 << (PRECISION_BITS - 1);
            for (y, &w) in k.iter().enumerate() {
                ss += src[(ymin - row_offset + y) * width + xx] as i32 * w;
            }
            dst[yy * width + xx] = clip8(ss);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constant_image_stays_constant() {
        let src = vec![137u8; 48 * 48];
        let mut dst = vec![0u8; 7 * 7];
        Resizer::new().resize(&src, 48, 48, &mut dst, 7, 7);
        assert!(dst.iter().all(|&v| v == 137));
        let mut up = vec![0u8; 32 * 32];
        Resizer::new().resize(&dst, 7, 7, &mut up, 32, 32);
        assert!(up.iter().all(|&v| v == 137));
    }

    #[test]
    fn halving_averages_pixel_pairs() {
        // A 2x1 -> 1x1 reduction with the antialiased triangle filter averages both pixels.
        let src = [10u8, 30];
        let mut dst = [0u8; 1];
        Resizer::new().resize(&src, 2, 1, &mut dst, 1, 1);
        assert_eq!(dst[0], 20);
    }
}
