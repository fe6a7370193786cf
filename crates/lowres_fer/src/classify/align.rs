//! Face crops for the emotion classifier: square, grayscale, eyes level, at the
//! face's native resolution. Routing picks the expert from the native face size,
//! so the crop is never upscaled here; the classifier resizes to its input.

use image::{GrayImage, RgbImage};
use nalgebra::{Point2, Similarity2, Vector2};

use crate::face::Detection;

/// Pillow's `convert("L")` weights (ITU-R 601-2), which the classifier's
/// training images were converted with.
#[inline]
pub(crate) fn luma(p: &[u8]) -> f32 {
    (p[0] as f32 * 299.0 + p[1] as f32 * 587.0 + p[2] as f32 * 114.0) * 0.001
}

/// In-plane rotation (radians) that makes the eyes level: the angle of the line
/// from the image-left eye to the image-right eye; 0 when the keypoints are unusable.
pub fn roll(det: &Detection) -> f32 {
    let [l, r] = [det.keypoints[0], det.keypoints[1]];
    let (dx, dy) = (r[0] - l[0], r[1] - l[1]);
    if dx.is_finite() && dy.is_finite() && dx.hypot(dy) > 1e-3 {
        dy.atan2(dx)
    } else {
        0.0
    }
}

/// Side (px) of the native-resolution crop for a detection.
pub fn crop_side(det: &Detection, margin: f32) -> u32 {
    let side = det.bbox.w.max(det.bbox.h) * (1.0 + 2.0 * margin.max(0.0));
    if side.is_finite() && side >= 1.0 {
        side.round().min(4096.0) as u32
    } else {
        1
    }
}

/// Write the square crop of `det` into `out`: side ≈ box side × (1 + 2·margin)
/// source pixels, centred on the box, rotated by [`roll`] so the eyes are level,
/// bilinear, black outside the frame, Pillow "L" grayscale. `out`'s buffer is
/// reused when its capacity suffices.
pub fn aligned_crop(frame: &RgbImage, det: &Detection, margin: f32, out: &mut GrayImage) {
    let n = crop_side(det, margin);
    if out.dimensions() != (n, n) {
        let mut buf = std::mem::take(out).into_raw();
        buf.clear();
        buf.resize((n * n) as usize, 0);
        *out = GrayImage::from_raw(n, n, buf).unwrap_or_else(|| GrayImage::new(n, n));
    }
    let (cx, cy) = det.bbox.center();
    if !(cx.is_finite() && cy.is_finite()) {
        out.fill(0);
        return;
    }
    let side = det.bbox.w.max(det.bbox.h) * (1.0 + 2.0 * margin.max(0.0));
    // Output pixel centre (relative to the crop centre) -> source position:
    // rotate by the roll, scale by the rounding of the side (≈ 1), translate.
    let scale = if side.is_finite() && side > 0.0 {
        side / n as f32
    } else {
        1.0
    };
    let tf = Similarity2::new(Vector2::new(cx, cy), roll(det), scale);
    let (w, h) = (frame.width() as i64, frame.height() as i64);
    let src = frame.as_raw();
    let px = |x: i64, y: i64| -> f32 {
        if x < 0 || y < 0 || x >= w || y >= h {
            0.0
        } else {
            let i = ((y * w + x) * 3) as usize;
            luma(&src[i..i + 3])
        }
    };
    let half = n as f32 * 0.5;
    for (u, v, p) in out.enumerate_pixels_mut() {
        let s = tf.transform_point(&Point2::new(u as f32 + 0.5 - half, v as f32 + 0.5 - half));
        // Pixel centres sit at integer + 0.5.
        let (fx, fy) = (s.x - 0.5, s.y - 0.5);
        let (x0, y0) = (fx.floor(), fy.floor());
        let (ax, ay) = (fx - x0, fy - y0);
        let (x0, y0) = (x0 as i64, y0 as i64);
        let top = px(x0, y0) * (1.0 - ax) + px(x0 + 1, y0) * ax;
        let bottom = px(x0, y0 + 1) * (1.0 - ax) + px(x0 + 1, y0 + 1) * ax;
        let val = top * (1.0 - ay) + bottom * ay;
        p.0[0] = val.round().clamp(0.0, 255.0) as u8;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::face::BBox;

    fn det_at(x: f32, y: f32, side: f32, left_eye: [f32; 2], right_eye: [f32; 2]) -> Detection {
        let mut keypoints = [[x + side * 0.5, y + side * 0.5]; 6];
        keypoints[0] = left_eye;
        keypoints[1] = right_eye;
        Detection {
            bbox: BBox {
                x,
                y,
                w: side,
                h: side,
            },
            score: 0.9,
            keypoints,
            age: 0,
        }
    }

    #[test]
    fn grayscale_matches_pillow() {
        // Pillow: Image.new("RGB", (1, 1), c).convert("L") gives 76, 150, 29, 128.
        for (rgb, want) in [
            ([255, 0, 0], 76),
            ([0, 255, 0], 150),
            ([0, 0, 255], 29),
            ([128, 128, 128], 128),
        ] {
            let frame = RgbImage::from_pixel(8, 8, image::Rgb(rgb));
            let det = det_at(2.0, 2.0, 4.0, [3.0, 3.0], [5.0, 3.0]);
            let mut out = GrayImage::new(1, 1);
            aligned_crop(&frame, &det, 0.0, &mut out);
            assert_eq!(out.dimensions(), (4, 4));
            assert!(out.pixels().all(|p| p.0[0] == want), "{rgb:?}: {:?}", out);
        }
    }

    #[test]
    fn level_crop_is_the_native_pixels_with_black_outside() {
        let mut frame = RgbImage::new(40, 30);
        for (x, y, p) in frame.enumerate_pixels_mut() {
            *p = image::Rgb([(x * 6) as u8, (y * 8) as u8, 50]);
        }
        // Box 16 px at (10, 20), margin 0.25: 24 px crop from (6, 16) to (30, 40);
        // rows 30..40 are below the frame.
        let det = det_at(10.0, 20.0, 16.0, [14.0, 25.0], [22.0, 25.0]);
        let mut out = GrayImage::new(0, 0);
        aligned_crop(&frame, &det, 0.25, &mut out);
        assert_eq!(out.dimensions(), (24, 24));
        for (u, v, p) in out.enumerate_pixels() {
            let (x, y) = (6 + u, 16 + v);
            let want = if y < 30 {
                luma(&frame.get_pixel(x, y).0).round() as u8
            } else {
                0
            };
            assert_eq!(p.0[0], want, "u={u} v={v}");
        }
    }

    #[test]
    fn rolled_face_comes_out_with_level_eyes() {
        // Two bright "eyes" 24 px apart, rolled by 30 degrees about (50, 50).
        let theta = 30f32.to_radians();
        let (c, s) = (theta.cos(), theta.sin());
        let eye = |dx: f32| [50.0 + c * dx, 50.0 + s * dx];
        let (le, re) = (eye(-12.0), eye(12.0));
        let mut frame = RgbImage::new(100, 100);
        for (x, y, p) in frame.enumerate_pixels_mut() {
            let (px, py) = (x as f32 + 0.5, y as f32 + 0.5);
            for e in [le, re] {
                if (px - e[0]).hypot(py - e[1]) < 2.5 {
                    *p = image::Rgb([255, 255, 255]);
                }
            }
        }
        let det = det_at(30.0, 30.0, 40.0, le, re);
        assert!((roll(&det) - theta).abs() < 1e-5);
        let mut out = GrayImage::new(0, 0);
        aligned_crop(&frame, &det, 0.0, &mut out);
        assert_eq!(out.dimensions(), (40, 40));
        // After alignment the eyes sit on the centre row, 12 px either side.
        let centre_of = |out: &GrayImage, u0: u32, u1: u32| {
            let (mut sx, mut sy, mut sw) = (0.0, 0.0, 0.0);
            for (u, v, p) in out.enumerate_pixels() {
                if (u0..u1).contains(&u) {
                    let w = p.0[0] as f32;
                    sx += w * (u as f32 + 0.5);
                    sy += w * (v as f32 + 0.5);
                    sw += w;
                }
            }
            (sx / sw, sy / sw)
        };
        let (lx, ly) = centre_of(&out, 0, 20);
        let (rx, ry) = centre_of(&out, 20, 40);
        assert!(
            (lx - 8.0).abs() < 0.5 && (rx - 32.0).abs() < 0.5,
            "{lx} {rx}"
        );
        assert!(
            (ly - 20.0).abs() < 0.5 && (ry - 20.0).abs() < 0.5,
            "{ly} {ry}"
        );
        // Without alignment the right eye would be 12 px lower than the left.
        let unrolled = det_at(30.0, 30.0, 40.0, [0.0, 0.0], [0.0, 0.0]);
        aligned_crop(&frame, &unrolled, 0.0, &mut out);
        let (_, ly0) = centre_of(&out, 0, 20);
        let (_, ry0) = centre_of(&out, 20, 40);
        assert!(ry0 - ly0 > 10.0, "{ly0} {ry0}");
    }

    #[test]
    fn output_buffer_is_reused_and_never_upscaled() {
        let frame = RgbImage::from_pixel(64, 64, image::Rgb([10, 20, 30]));
        let mut out = GrayImage::new(40, 40);
        let ptr = out.as_raw().as_ptr();
        // A 10 px face with margin 0.1 gives a 12 px crop, in the same buffer.
        aligned_crop(
            &frame,
            &det_at(5.0, 5.0, 10.0, [7.0, 8.0], [12.0, 8.0]),
            0.1,
            &mut out,
        );
        assert_eq!(out.dimensions(), (12, 12));
        assert_eq!(out.as_raw().as_ptr(), ptr);
        // Degenerate boxes give a 1 px black crop instead of panicking.
        let bad = det_at(f32::NAN, 5.0, f32::NAN, [0.0; 2], [0.0; 2]);
        aligned_crop(&frame, &bad, 0.1, &mut out);
        assert_eq!(out.dimensions(), (1, 1));
    }
}
