//! Conversion of ROS image payloads (sensor_msgs/Image encodings, JPEG/PNG
//! sensor_msgs/CompressedImage) into an [`RgbImage`], reusing the caller's buffer.
//!
//! Kept ROS-free (plain slices and strings) so it is unit-tested with `cargo test`
//! and shared by the node and offline tools. Every rejection is a typed
//! [`ImageError`] whose [`ImageError::cause`] is a stable key the node uses for
//! rate-limited logging and per-cause diagnostics counters.

use std::io::Cursor;

use image::{ImageFormat, ImageReader, RgbImage};

/// Largest accepted side in pixels. Bounds the buffer a (possibly malicious or
/// corrupt) header can make us allocate; 16k covers every real camera.
pub const MAX_SIDE: u32 = 16_384;

/// Raw encodings the node accepts (names as in sensor_msgs/image_encodings.hpp).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    Rgb8,
    Bgr8,
    Rgba8,
    Bgra8,
    Mono8,
    Mono16,
    /// `yuv422` / `uyvy`: U0 Y0 V0 Y1 (ROS' `yuv422` is UYVY byte order).
    Uyvy,
    /// `yuyv` / `yuv422_yuy2`: Y0 U0 Y1 V0.
    Yuyv,
}

impl Encoding {
    /// Parse a sensor_msgs/Image `encoding` string (case-sensitive like ROS).
    pub fn parse(s: &str) -> Result<Self, ImageError> {
        Ok(match s {
            "rgb8" => Self::Rgb8,
            "bgr8" => Self::Bgr8,
            "rgba8" => Self::Rgba8,
            "bgra8" => Self::Bgra8,
            "mono8" | "8UC1" => Self::Mono8,
            "mono16" | "16UC1" => Self::Mono16,
            "yuv422" | "uyvy" => Self::Uyvy,
            "yuyv" | "yuv422_yuy2" => Self::Yuyv,
            other => return Err(ImageError::UnsupportedEncoding(other.to_string())),
        })
    }

    /// Bytes per pixel (YUV 4:2:2 averages 2 bytes per pixel).
    pub fn bytes_per_pixel(self) -> u32 {
        match self {
            Self::Rgb8 | Self::Bgr8 => 3,
            Self::Rgba8 | Self::Bgra8 => 4,
            Self::Mono8 => 1,
            Self::Mono16 | Self::Uyvy | Self::Yuyv => 2,
        }
    }
}

/// Why an input image was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ImageError {
    #[error("unsupported encoding '{0}' (supported: rgb8, bgr8, rgba8, bgra8, mono8, mono16, yuv422/uyvy, yuyv)")]
    UnsupportedEncoding(String),
    #[error("image size {width}x{height} is invalid (each side must be in [1, {MAX_SIDE}])")]
    BadSize { width: u32, height: u32 },
    #[error("4:2:2 encoding '{encoding}' needs an even width, got {width}")]
    OddWidth { encoding: String, width: u32 },
    #[error("step {step} is smaller than width*bytes_per_pixel = {min}")]
    StepTooSmall { step: u32, min: u64 },
    #[error("data length {got} does not match step*height = {expected}")]
    DataLength { expected: u64, got: usize },
    #[error("unsupported compressed format '{0}' (supported: jpeg, png)")]
    UnsupportedFormat(String),
    #[error("cannot decode compressed image: {0}")]
    Decode(String),
}

impl ImageError {
    /// Stable short key per cause, for log rate limiting and diagnostics counters.
    pub fn cause(&self) -> &'static str {
        match self {
            Self::UnsupportedEncoding(_) => "unsupported_encoding",
            Self::BadSize { .. } => "bad_size",
            Self::OddWidth { .. } => "odd_width",
            Self::StepTooSmall { .. } => "step_too_small",
            Self::DataLength { .. } => "data_length_mismatch",
            Self::UnsupportedFormat(_) => "unsupported_compressed_format",
            Self::Decode(_) => "decode_failed",
        }
    }
}

/// Every value [`ImageError::cause`] can return (diagnostics report all of them,
/// zeros included, so monitors see a stable key set).
pub const ERROR_CAUSES: [&str; 7] = [
    "unsupported_encoding",
    "bad_size",
    "odd_width",
    "step_too_small",
    "data_length_mismatch",
    "unsupported_compressed_format",
    "decode_failed",
];

fn check_size(width: u32, height: u32) -> Result<(), ImageError> {
    if width == 0 || height == 0 || width > MAX_SIDE || height > MAX_SIDE {
        return Err(ImageError::BadSize { width, height });
    }
    Ok(())
}

/// Resize `out` to `width`x`height` only when needed, so steady-state frames of a
/// fixed-size camera stream never allocate.
fn ensure_size(out: &mut RgbImage, width: u32, height: u32) {
    if out.width() != width || out.height() != height {
        *out = RgbImage::new(width, height);
    }
}

#[inline]
fn clamp_u8(v: i32) -> u8 {
    v.clamp(0, 255) as u8
}

/// BT.601 limited-range YUV -> RGB in integer arithmetic (what UVC cameras send).
#[inline]
fn yuv_to_rgb(y: u8, u: u8, v: u8) -> [u8; 3] {
    let c = y as i32 - 16;
    let d = u as i32 - 128;
    let e = v as i32 - 128;
    [
        clamp_u8((298 * c + 409 * e + 128) >> 8),
        clamp_u8((298 * c - 100 * d - 208 * e + 128) >> 8),
        clamp_u8((298 * c + 516 * d + 128) >> 8),
    ]
}

/// Convert a raw sensor_msgs/Image payload into `out` (resized only if needed).
///
/// `is_bigendian` only matters for `mono16`. The payload must be exactly
/// `step * height` bytes: anything else means a truncated or mis-described
/// message and is rejected rather than guessed at.
pub fn raw_to_rgb(
    width: u32,
    height: u32,
    encoding: &str,
    is_bigendian: bool,
    step: u32,
    data: &[u8],
    out: &mut RgbImage,
) -> Result<(), ImageError> {
    let enc = Encoding::parse(encoding)?;
    check_size(width, height)?;
    if matches!(enc, Encoding::Uyvy | Encoding::Yuyv) && !width.is_multiple_of(2) {
        return Err(ImageError::OddWidth {
            encoding: encoding.to_string(),
            width,
        });
    }
    let row_bytes = width as u64 * enc.bytes_per_pixel() as u64;
    if (step as u64) < row_bytes {
        return Err(ImageError::StepTooSmall {
            step,
            min: row_bytes,
        });
    }
    let expected = step as u64 * height as u64;
    if data.len() as u64 != expected {
        return Err(ImageError::DataLength {
            expected,
            got: data.len(),
        });
    }
    ensure_size(out, width, height);
    let row_bytes = row_bytes as usize;
    let out_row = width as usize * 3;
    let dst_all: &mut [u8] = out;
    for (src_row, dst) in data
        .chunks_exact(step as usize)
        .zip(dst_all.chunks_exact_mut(out_row))
    {
        let src = &src_row[..row_bytes];
        match enc {
            Encoding::Rgb8 => dst.copy_from_slice(src),
            Encoding::Bgr8 => {
                for (d, s) in dst.chunks_exact_mut(3).zip(src.chunks_exact(3)) {
                    d.copy_from_slice(&[s[2], s[1], s[0]]);
                }
            }
            Encoding::Rgba8 => {
                for (d, s) in dst.chunks_exact_mut(3).zip(src.chunks_exact(4)) {
                    d.copy_from_slice(&s[..3]);
                }
            }
            Encoding::Bgra8 => {
                for (d, s) in dst.chunks_exact_mut(3).zip(src.chunks_exact(4)) {
                    d.copy_from_slice(&[s[2], s[1], s[0]]);
                }
            }
            Encoding::Mono8 => {
                for (d, &s) in dst.chunks_exact_mut(3).zip(src) {
                    d.copy_from_slice(&[s, s, s]);
                }
            }
            Encoding::Mono16 => {
                // Keep the high byte: a linear 16 -> 8 bit mapping.
                for (d, s) in dst.chunks_exact_mut(3).zip(src.chunks_exact(2)) {
                    let hi = if is_bigendian { s[0] } else { s[1] };
                    d.copy_from_slice(&[hi, hi, hi]);
                }
            }
            Encoding::Uyvy | Encoding::Yuyv => {
                for (d, s) in dst.chunks_exact_mut(6).zip(src.chunks_exact(4)) {
                    let (y0, u, y1, v) = if enc == Encoding::Uyvy {
                        (s[1], s[0], s[3], s[2])
                    } else {
                        (s[0], s[1], s[2], s[3])
                    };
                    d[..3].copy_from_slice(&yuv_to_rgb(y0, u, v));
                    d[3..].copy_from_slice(&yuv_to_rgb(y1, u, v));
                }
            }
        }
    }
    Ok(())
}

/// Decode a sensor_msgs/CompressedImage payload (JPEG or PNG) into `out`.
///
/// `format` is the message's free-form format string (e.g. "jpeg",
/// "rgb8; jpeg compressed bgr8", "png"); the payload's magic bytes decide, the
/// string is only used to reject formats that are declared and unsupported.
pub fn compressed_to_rgb(format: &str, data: &[u8], out: &mut RgbImage) -> Result<(), ImageError> {
    let declared = format.to_ascii_lowercase();
    let fmt = if data.starts_with(&[0xFF, 0xD8, 0xFF]) {
        ImageFormat::Jpeg
    } else if data.starts_with(b"\x89PNG\r\n\x1a\n") {
        ImageFormat::Png
    } else if declared.contains("jpeg") || declared.contains("jpg") || declared.contains("png") {
        return Err(ImageError::Decode(format!(
            "payload of {} bytes is not a {declared} stream (bad magic bytes)",
            data.len()
        )));
    } else {
        return Err(ImageError::UnsupportedFormat(format.to_string()));
    };
    let mut reader = ImageReader::with_format(Cursor::new(data), fmt);
    let mut limits = image::Limits::default();
    limits.max_image_width = Some(MAX_SIDE);
    limits.max_image_height = Some(MAX_SIDE);
    reader.limits(limits);
    let decoded = reader
        .decode()
        .map_err(|e| ImageError::Decode(e.to_string()))?;
    check_size(decoded.width(), decoded.height())?;
    match decoded {
        image::DynamicImage::ImageRgb8(img) => *out = img,
        other => {
            ensure_size(out, other.width(), other.height());
            let rgb = other.to_rgb8();
            out.copy_from_slice(&rgb);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn px(img: &RgbImage, x: u32, y: u32) -> [u8; 3] {
        img.get_pixel(x, y).0
    }

    #[test]
    fn rgb8_with_row_padding() {
        // 2x2, step 8 (2 bytes of padding per row).
        let data = [
            1, 2, 3, 4, 5, 6, 0, 0, //
            7, 8, 9, 10, 11, 12, 0, 0,
        ];
        let mut out = RgbImage::new(1, 1);
        raw_to_rgb(2, 2, "rgb8", false, 8, &data, &mut out).unwrap();
        assert_eq!(out.dimensions(), (2, 2));
        assert_eq!(px(&out, 0, 0), [1, 2, 3]);
        assert_eq!(px(&out, 1, 0), [4, 5, 6]);
        assert_eq!(px(&out, 0, 1), [7, 8, 9]);
        assert_eq!(px(&out, 1, 1), [10, 11, 12]);
    }

    #[test]
    fn bgr8_swaps_channels() {
        let data = [10, 20, 30, 40, 50, 60];
        let mut out = RgbImage::new(0, 0);
        raw_to_rgb(2, 1, "bgr8", false, 6, &data, &mut out).unwrap();
        assert_eq!(px(&out, 0, 0), [30, 20, 10]);
        assert_eq!(px(&out, 1, 0), [60, 50, 40]);
    }

    #[test]
    fn rgba8_and_bgra8_drop_alpha() {
        let data = [10, 20, 30, 255, 40, 50, 60, 0];
        let mut out = RgbImage::new(0, 0);
        raw_to_rgb(2, 1, "rgba8", false, 8, &data, &mut out).unwrap();
        assert_eq!(px(&out, 0, 0), [10, 20, 30]);
        assert_eq!(px(&out, 1, 0), [40, 50, 60]);
        raw_to_rgb(2, 1, "bgra8", false, 8, &data, &mut out).unwrap();
        assert_eq!(px(&out, 0, 0), [30, 20, 10]);
        assert_eq!(px(&out, 1, 0), [60, 50, 40]);
    }

    #[test]
    fn mono8_replicates_gray() {
        let data = [0, 128, 255];
        let mut out = RgbImage::new(0, 0);
        raw_to_rgb(3, 1, "mono8", false, 3, &data, &mut out).unwrap();
        assert_eq!(px(&out, 1, 0), [128, 128, 128]);
        assert_eq!(px(&out, 2, 0), [255, 255, 255]);
    }

    #[test]
    fn mono16_keeps_high_byte_in_both_endiannesses() {
        // 0x1234 and 0xFF00.
        let le = [0x34, 0x12, 0x00, 0xFF];
        let be = [0x12, 0x34, 0xFF, 0x00];
        let mut out = RgbImage::new(0, 0);
        raw_to_rgb(2, 1, "mono16", false, 4, &le, &mut out).unwrap();
        assert_eq!(px(&out, 0, 0), [0x12; 3]);
        assert_eq!(px(&out, 1, 0), [0xFF; 3]);
        raw_to_rgb(2, 1, "mono16", true, 4, &be, &mut out).unwrap();
        assert_eq!(px(&out, 0, 0), [0x12; 3]);
        assert_eq!(px(&out, 1, 0), [0xFF; 3]);
    }

    #[test]
    fn uyvy_and_yuyv_hand_checked() {
        // Y=16 -> black, Y=235 -> white (U=V=128, BT.601 limited range).
        // Pure red in BT.601 limited range is Y=81, U=90, V=240 (c=65, d=-38, e=112):
        // R=(298*65+409*112+128)>>8=255, G=(19370+3800-23296+128)>>8=0,
        // B=(19370-19608+128)>>8=-1 -> clamped to 0.
        let uyvy = [128, 16, 128, 235, 90, 81, 240, 81];
        let mut out = RgbImage::new(0, 0);
        raw_to_rgb(4, 1, "yuv422", false, 8, &uyvy, &mut out).unwrap();
        assert_eq!(px(&out, 0, 0), [0, 0, 0]);
        assert_eq!(px(&out, 1, 0), [255, 255, 255]);
        assert_eq!(px(&out, 2, 0), [255, 0, 0]);
        assert_eq!(px(&out, 3, 0), [255, 0, 0]);
        let yuyv = [16, 128, 235, 128, 81, 90, 81, 240];
        raw_to_rgb(4, 1, "yuyv", false, 8, &yuyv, &mut out).unwrap();
        assert_eq!(px(&out, 0, 0), [0, 0, 0]);
        assert_eq!(px(&out, 1, 0), [255, 255, 255]);
        assert_eq!(px(&out, 2, 0), [255, 0, 0]);
        // Mid grey: Y=126 -> (298*110+128)>>8 = 128.
        raw_to_rgb(2, 1, "uyvy", false, 4, &[128, 126, 128, 126], &mut out).unwrap();
        assert_eq!(px(&out, 0, 0), [128, 128, 128]);
    }

    #[test]
    fn rejections_have_stable_causes() {
        let mut out = RgbImage::new(0, 0);
        let e = raw_to_rgb(2, 1, "bayer_rggb8", false, 2, &[0, 0], &mut out).unwrap_err();
        assert_eq!(e.cause(), "unsupported_encoding");
        let e = raw_to_rgb(0, 0, "rgb8", false, 0, &[], &mut out).unwrap_err();
        assert_eq!(e.cause(), "bad_size");
        let e = raw_to_rgb(2, 2, "rgb8", false, 6, &[0; 11], &mut out).unwrap_err();
        assert_eq!(e.cause(), "data_length_mismatch");
        let e = raw_to_rgb(2, 2, "rgb8", false, 5, &[0; 10], &mut out).unwrap_err();
        assert_eq!(e.cause(), "step_too_small");
        let e = raw_to_rgb(3, 1, "yuyv", false, 6, &[0; 6], &mut out).unwrap_err();
        assert_eq!(e.cause(), "odd_width");
        let e = compressed_to_rgb("tiff", b"II*\0", &mut out).unwrap_err();
        assert_eq!(e.cause(), "unsupported_compressed_format");
        let e = compressed_to_rgb("jpeg", b"garbage", &mut out).unwrap_err();
        assert_eq!(e.cause(), "decode_failed");
        for e in [
            "unsupported_encoding",
            "bad_size",
            "odd_width",
            "step_too_small",
            "data_length_mismatch",
            "unsupported_compressed_format",
            "decode_failed",
        ] {
            assert!(ERROR_CAUSES.contains(&e));
        }
    }

    fn encode(img: &RgbImage, fmt: ImageFormat) -> Vec<u8> {
        let mut buf = Cursor::new(Vec::new());
        img.write_to(&mut buf, fmt).unwrap();
        buf.into_inner()
    }

    #[test]
    fn png_roundtrip_is_exact_and_jpeg_is_close() {
        let mut img = RgbImage::new(16, 8);
        for (x, y, p) in img.enumerate_pixels_mut() {
            *p = image::Rgb([(x * 16) as u8, (y * 32) as u8, 200]);
        }
        let mut out = RgbImage::new(0, 0);
        compressed_to_rgb("png", &encode(&img, ImageFormat::Png), &mut out).unwrap();
        assert_eq!(out, img);
        compressed_to_rgb(
            "rgb8; jpeg compressed bgr8",
            &encode(&img, ImageFormat::Jpeg),
            &mut out,
        )
        .unwrap();
        assert_eq!(out.dimensions(), (16, 8));
        let err: i64 = out
            .as_raw()
            .iter()
            .zip(img.as_raw())
            .map(|(&a, &b)| (a as i64 - b as i64).abs())
            .max()
            .unwrap();
        assert!(err < 40, "jpeg error {err}");
    }

    #[test]
    fn truncated_jpeg_is_a_decode_error() {
        let img = RgbImage::from_pixel(64, 64, image::Rgb([10, 200, 30]));
        let jpg = encode(&img, ImageFormat::Jpeg);
        let mut out = RgbImage::new(0, 0);
        let e = compressed_to_rgb("jpeg", &jpg[..jpg.len() / 3], &mut out).unwrap_err();
        assert_eq!(e.cause(), "decode_failed");
    }

    #[test]
    fn buffer_is_reused_for_same_size() {
        let mut out = RgbImage::new(2, 1);
        let before = out.as_raw().as_ptr();
        raw_to_rgb(2, 1, "rgb8", false, 6, &[1, 2, 3, 4, 5, 6], &mut out).unwrap();
        assert_eq!(out.as_raw().as_ptr(), before);
    }
}
