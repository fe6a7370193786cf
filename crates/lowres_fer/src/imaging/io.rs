//! Conversion of ROS image payloads (sensor_msgs/Image encodings, JPEG/PNG
//! sensor_msgs/CompressedImage) into an [`RgbImage`], reusing the caller's buffer.
//!
//! Kept ROS-free (plain slices and strings) so it is unit-tested with `cargo test`
//! and shared by the node and offline tools. Every rejection is a typed
//! [`ImageError`] whose [`ImageError::cause`] is a stable key the node uses for
//! rate-limited logging and per-cause diagnostics counters.

use std::io::Cursor;

use image::codecs::jpeg::JpegEncoder;
use image::{ImageFormat, ImageReader, RgbImage};

use crate::sanitize;

/// Largest accepted side in pixels, whatever the pixel budget.
pub const MAX_SIDE: u32 = 16_384;

/// Default pixel budget per frame (`input.max_pixels`): 4096x4096 = 16.8 MP,
/// above every robot camera (4K UHD is 8.3 MP). A frame is checked against it
/// from its header (raw: width/height fields; JPEG/PNG: the stream header)
/// before anything is decoded or allocated, so a small file declaring
/// 16384x16384 pixels costs nothing. Peak memory per frame is then bounded by
/// about 10 bytes per budget pixel (decoder output, RGB copy, annotated copy).
pub const DEFAULT_MAX_PIXELS: u64 = 4096 * 4096;

/// Largest settable pixel budget: [`MAX_SIDE`] squared.
pub const MAX_PIXELS_LIMIT: u64 = MAX_SIDE as u64 * MAX_SIDE as u64;

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
            other => return Err(ImageError::UnsupportedEncoding(sanitize::wire(other))),
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

/// Why an input image was rejected. Strings taken from the message (encoding,
/// format) are stored escaped and truncated ([`sanitize::wire`]): they end up
/// in logs and `/diagnostics`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ImageError {
    #[error("unsupported encoding '{0}' (supported: rgb8, bgr8, rgba8, bgra8, mono8, mono16, yuv422/uyvy, yuyv)")]
    UnsupportedEncoding(String),
    #[error("image size {width}x{height} is invalid (each side must be in [1, {MAX_SIDE}])")]
    BadSize { width: u32, height: u32 },
    #[error("image size {width}x{height} = {} pixels exceeds the pixel budget input.max_pixels = {max_pixels}", *width as u64 * *height as u64)]
    TooManyPixels {
        width: u32,
        height: u32,
        max_pixels: u64,
    },
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
    #[error("compressed image is truncated or incomplete: {0}")]
    Truncated(String),
}

impl ImageError {
    /// Stable short key per cause, for log rate limiting and diagnostics counters.
    pub fn cause(&self) -> &'static str {
        match self {
            Self::UnsupportedEncoding(_) => "unsupported_encoding",
            Self::BadSize { .. } => "bad_size",
            Self::TooManyPixels { .. } => "too_many_pixels",
            Self::OddWidth { .. } => "odd_width",
            Self::StepTooSmall { .. } => "step_too_small",
            Self::DataLength { .. } => "data_length_mismatch",
            Self::UnsupportedFormat(_) => "unsupported_compressed_format",
            Self::Decode(_) => "decode_failed",
            Self::Truncated(_) => "truncated",
        }
    }
}

/// Every value [`ImageError::cause`] can return (diagnostics report all of them,
/// zeros included, so monitors see a stable key set).
pub const ERROR_CAUSES: [&str; 9] = [
    "unsupported_encoding",
    "bad_size",
    "too_many_pixels",
    "odd_width",
    "step_too_small",
    "data_length_mismatch",
    "unsupported_compressed_format",
    "decode_failed",
    "truncated",
];

/// The pixel budget comes before the side limit, so an image that is both too
/// wide and too large (a 20000x20000 PNG) is counted as `too_many_pixels`, what
/// it costs, like any other frame over the budget.
fn check_size(width: u32, height: u32, max_pixels: u64) -> Result<(), ImageError> {
    if width == 0 || height == 0 {
        return Err(ImageError::BadSize { width, height });
    }
    if width as u64 * height as u64 > max_pixels {
        return Err(ImageError::TooManyPixels {
            width,
            height,
            max_pixels,
        });
    }
    if width > MAX_SIDE || height > MAX_SIDE {
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
/// message and is rejected rather than guessed at. `max_pixels` is the pixel
/// budget (`input.max_pixels`, [`DEFAULT_MAX_PIXELS`]).
#[allow(clippy::too_many_arguments)]
pub fn raw_to_rgb(
    width: u32,
    height: u32,
    encoding: &str,
    is_bigendian: bool,
    step: u32,
    data: &[u8],
    max_pixels: u64,
    out: &mut RgbImage,
) -> Result<(), ImageError> {
    let enc = Encoding::parse(encoding)?;
    check_size(width, height, max_pixels)?;
    if matches!(enc, Encoding::Uyvy | Encoding::Yuyv) && !width.is_multiple_of(2) {
        return Err(ImageError::OddWidth {
            encoding: sanitize::wire(encoding),
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
///
/// The image size is read from the stream header and checked against
/// `max_pixels` before decoding. A stream that ends early is rejected
/// ([`ImageError::Truncated`]) instead of decoding to a partly grey frame:
/// JPEG must have an end-of-image marker after its last scan, PNG its IEND chunk.
pub fn compressed_to_rgb(
    format: &str,
    data: &[u8],
    max_pixels: u64,
    out: &mut RgbImage,
) -> Result<(), ImageError> {
    let declared = sanitize::wire(&format.to_ascii_lowercase());
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
        return Err(ImageError::UnsupportedFormat(sanitize::wire(format)));
    };
    // Decoder-internal buffers: at most 8 bytes per budget pixel (16-bit RGBA)
    // plus a fixed allowance for tables and row buffers. The header is read
    // without the side limits, so the declared size meets our own checks
    // (budget, then sides) instead of the decoder's "Image size exceeds limit".
    let mut header_limits = image::Limits::default();
    header_limits.max_alloc = Some(max_pixels.saturating_mul(8).saturating_add(64 << 20));
    let mut limits = header_limits.clone();
    limits.max_image_width = Some(MAX_SIDE);
    limits.max_image_height = Some(MAX_SIDE);
    let mut header = ImageReader::with_format(Cursor::new(data), fmt);
    header.limits(header_limits);
    let (width, height) = header.into_dimensions().map_err(|e| {
        let cut = match fmt {
            ImageFormat::Jpeg => jpeg_header_cut(data),
            _ => png_header_cut(data),
        };
        match cut {
            Some(why) => ImageError::Truncated(why),
            None => ImageError::Decode(decoder_text(&e)),
        }
    })?;
    check_size(width, height, max_pixels)?;
    match fmt {
        ImageFormat::Jpeg => jpeg_complete(data)?,
        _ => png_complete(data)?,
    }
    let mut reader = ImageReader::with_format(Cursor::new(data), fmt);
    reader.limits(limits);
    let decoded = reader
        .decode()
        .map_err(|e| ImageError::Decode(decoder_text(&e)))?;
    check_size(decoded.width(), decoded.height(), max_pixels)?;
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

/// Longest decoder error text kept, in characters.
const MAX_DECODER_TEXT_CHARS: usize = 200;

/// The decoder's own error text as it goes into an [`ImageError`]: escaped and
/// bounded like a wire string (zune-jpeg ends its I/O errors with a newline).
fn decoder_text(e: &image::ImageError) -> String {
    sanitize::wire_max(e.to_string().trim_end(), MAX_DECODER_TEXT_CHARS)
}

/// Why a JPEG whose header does not decode is cut short, if it is: a marker
/// segment before the first scan (tables, APPn, the frame header, the scan
/// header itself) declares more bytes than are left, or the data ends before
/// the first scan. `None` when those segments are all there: the header is
/// then malformed, not cut.
fn jpeg_header_cut(data: &[u8]) -> Option<String> {
    let n = data.len();
    let mut i = 2; // after start-of-image
    loop {
        // Any marker may be preceded by fill bytes (0xFF).
        while i + 1 < n && data[i] == 0xFF && data[i + 1] == 0xFF {
            i += 1;
        }
        if i + 2 > n {
            return Some(format!(
                "JPEG of {n} bytes ends at offset {i}, before its first scan"
            ));
        }
        if data[i] != 0xFF {
            return None;
        }
        let marker = data[i + 1];
        // Markers without a length: TEM, restart markers; end of image. Bytes
        // 0x02..=0xBF after 0xFF are no marker at all: garbage, not a cut.
        match marker {
            0x01 | 0xD0..=0xD7 => {
                i += 2;
                continue;
            }
            0xD9 | 0x02..=0xBF => return None,
            _ => {}
        }
        if i + 4 > n {
            return Some(format!(
                "JPEG of {n} bytes ends inside the length of its segment FF{marker:02X} at offset {i}"
            ));
        }
        let len = u16::from_be_bytes([data[i + 2], data[i + 3]]) as usize;
        if len < 2 {
            return None;
        }
        if i + 2 + len > n {
            return Some(format!(
                "JPEG of {n} bytes ends inside its header: segment FF{marker:02X} at offset {i} declares {len} bytes, {} are left",
                n - i - 2
            ));
        }
        if marker == 0xDA {
            return None;
        }
        i += 2 + len;
    }
}

/// Why a PNG whose header does not decode is cut short, if it is: a chunk up
/// to and including the first image data chunk declares more bytes than are
/// left, or the data ends before it. `None` when those chunks are all there.
fn png_header_cut(data: &[u8]) -> Option<String> {
    let n = data.len() as u64;
    let mut i = 8u64; // after the signature
    loop {
        if i + 8 > n {
            return Some(format!(
                "PNG of {n} bytes ends at offset {i}, before its image data"
            ));
        }
        let at = i as usize;
        let len = u32::from_be_bytes([data[at], data[at + 1], data[at + 2], data[at + 3]]) as u64;
        let kind = &data[at + 4..at + 8];
        if i + 12 + len > n {
            return Some(format!(
                "PNG of {n} bytes ends inside its header: chunk '{}' at offset {i} declares {len} bytes, {} are left",
                sanitize::wire(&String::from_utf8_lossy(kind)),
                n - i - 8
            ));
        }
        if kind == b"IDAT" {
            return None;
        }
        i += 12 + len;
    }
}

/// Last index of the two-byte marker `FF m` in `data`.
fn last_marker(data: &[u8], m: u8) -> Option<usize> {
    data.windows(2).rposition(|w| w[0] == 0xFF && w[1] == m)
}

/// A complete JPEG has an end-of-image marker (FF D9) after its last
/// start-of-scan (FF DA). Neither can occur inside entropy-coded data (0xFF is
/// stuffed there), so a stream cut anywhere before its end fails this check;
/// the decoder itself fills missing data with grey and reports success.
fn jpeg_complete(data: &[u8]) -> Result<(), ImageError> {
    let Some(sos) = last_marker(data, 0xDA) else {
        return Err(ImageError::Truncated(format!(
            "JPEG of {} bytes has no image data (no start-of-scan marker)",
            data.len()
        )));
    };
    if last_marker(&data[sos..], 0xD9).is_none() {
        return Err(ImageError::Truncated(format!(
            "JPEG of {} bytes ends without its end-of-image marker",
            data.len()
        )));
    }
    Ok(())
}

/// A complete PNG ends with its IEND chunk (type + fixed CRC); allow a little
/// trailing padding after it.
fn png_complete(data: &[u8]) -> Result<(), ImageError> {
    const IEND: &[u8] = b"IEND\xAE\x42\x60\x82";
    let tail = &data[data.len().saturating_sub(IEND.len() + 1024)..];
    if !tail.windows(IEND.len()).any(|w| w == IEND) {
        return Err(ImageError::Truncated(format!(
            "PNG of {} bytes ends without its IEND chunk",
            data.len()
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const M: u64 = DEFAULT_MAX_PIXELS;

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
        raw_to_rgb(2, 2, "rgb8", false, 8, &data, M, &mut out).unwrap();
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
        raw_to_rgb(2, 1, "bgr8", false, 6, &data, M, &mut out).unwrap();
        assert_eq!(px(&out, 0, 0), [30, 20, 10]);
        assert_eq!(px(&out, 1, 0), [60, 50, 40]);
    }

    #[test]
    fn rgba8_and_bgra8_drop_alpha() {
        let data = [10, 20, 30, 255, 40, 50, 60, 0];
        let mut out = RgbImage::new(0, 0);
        raw_to_rgb(2, 1, "rgba8", false, 8, &data, M, &mut out).unwrap();
        assert_eq!(px(&out, 0, 0), [10, 20, 30]);
        assert_eq!(px(&out, 1, 0), [40, 50, 60]);
        raw_to_rgb(2, 1, "bgra8", false, 8, &data, M, &mut out).unwrap();
        assert_eq!(px(&out, 0, 0), [30, 20, 10]);
        assert_eq!(px(&out, 1, 0), [60, 50, 40]);
    }

    #[test]
    fn mono8_replicates_gray() {
        let data = [0, 128, 255];
        let mut out = RgbImage::new(0, 0);
        raw_to_rgb(3, 1, "mono8", false, 3, &data, M, &mut out).unwrap();
        assert_eq!(px(&out, 1, 0), [128, 128, 128]);
        assert_eq!(px(&out, 2, 0), [255, 255, 255]);
    }

    #[test]
    fn mono16_keeps_high_byte_in_both_endiannesses() {
        // 0x1234 and 0xFF00.
        let le = [0x34, 0x12, 0x00, 0xFF];
        let be = [0x12, 0x34, 0xFF, 0x00];
        let mut out = RgbImage::new(0, 0);
        raw_to_rgb(2, 1, "mono16", false, 4, &le, M, &mut out).unwrap();
        assert_eq!(px(&out, 0, 0), [0x12; 3]);
        assert_eq!(px(&out, 1, 0), [0xFF; 3]);
        raw_to_rgb(2, 1, "mono16", true, 4, &be, M, &mut out).unwrap();
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
        raw_to_rgb(4, 1, "yuv422", false, 8, &uyvy, M, &mut out).unwrap();
        assert_eq!(px(&out, 0, 0), [0, 0, 0]);
        assert_eq!(px(&out, 1, 0), [255, 255, 255]);
        assert_eq!(px(&out, 2, 0), [255, 0, 0]);
        assert_eq!(px(&out, 3, 0), [255, 0, 0]);
        let yuyv = [16, 128, 235, 128, 81, 90, 81, 240];
        raw_to_rgb(4, 1, "yuyv", false, 8, &yuyv, M, &mut out).unwrap();
        assert_eq!(px(&out, 0, 0), [0, 0, 0]);
        assert_eq!(px(&out, 1, 0), [255, 255, 255]);
        assert_eq!(px(&out, 2, 0), [255, 0, 0]);
        // Mid grey: Y=126 -> (298*110+128)>>8 = 128.
        raw_to_rgb(2, 1, "uyvy", false, 4, &[128, 126, 128, 126], M, &mut out).unwrap();
        assert_eq!(px(&out, 0, 0), [128, 128, 128]);
    }

    #[test]
    fn rejections_have_stable_causes() {
        let mut out = RgbImage::new(0, 0);
        let e = raw_to_rgb(2, 1, "bayer_rggb8", false, 2, &[0, 0], M, &mut out).unwrap_err();
        assert_eq!(e.cause(), "unsupported_encoding");
        let e = raw_to_rgb(0, 0, "rgb8", false, 0, &[], M, &mut out).unwrap_err();
        assert_eq!(e.cause(), "bad_size");
        let e = raw_to_rgb(2, 2, "rgb8", false, 6, &[0; 11], M, &mut out).unwrap_err();
        assert_eq!(e.cause(), "data_length_mismatch");
        let e = raw_to_rgb(2, 2, "rgb8", false, 5, &[0; 10], M, &mut out).unwrap_err();
        assert_eq!(e.cause(), "step_too_small");
        let e = raw_to_rgb(3, 1, "yuyv", false, 6, &[0; 6], M, &mut out).unwrap_err();
        assert_eq!(e.cause(), "odd_width");
        let e = compressed_to_rgb("tiff", b"II*\0", M, &mut out).unwrap_err();
        assert_eq!(e.cause(), "unsupported_compressed_format");
        let e = compressed_to_rgb("jpeg", b"garbage", M, &mut out).unwrap_err();
        assert_eq!(e.cause(), "decode_failed");
        for e in [
            "unsupported_encoding",
            "bad_size",
            "too_many_pixels",
            "truncated",
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
        compressed_to_rgb("png", &encode(&img, ImageFormat::Png), M, &mut out).unwrap();
        assert_eq!(out, img);
        compressed_to_rgb(
            "rgb8; jpeg compressed bgr8",
            &encode(&img, ImageFormat::Jpeg),
            M,
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

    /// A textured 320x240 frame (a JPEG of realistic size, ~20-40 KB).
    fn textured() -> RgbImage {
        let mut img = RgbImage::new(320, 240);
        let mut seed = 12345u32;
        for (x, y, p) in img.enumerate_pixels_mut() {
            seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12345);
            let n = (seed >> 24) as u8 / 4;
            *p = image::Rgb([
                (x as u8).wrapping_add(n),
                (y as u8).wrapping_mul(2).wrapping_add(n),
                ((x + y) as u8) ^ n,
            ]);
        }
        img
    }

    /// Issue 11: a JPEG cut to 1 % decoded to a grey frame, cut to 20 % to a
    /// partly grey one, both "successfully". Every cut is now an error.
    #[test]
    fn truncated_jpeg_and_png_are_rejected() {
        let img = textured();
        let mut out = RgbImage::new(0, 0);
        for fmt in [ImageFormat::Jpeg, ImageFormat::Png] {
            let full = encode(&img, fmt);
            assert!(full.len() > 10_000, "{fmt:?}: {} bytes", full.len());
            compressed_to_rgb("", &full, M, &mut out).expect("complete stream decodes");
            // Issue 29: a cut inside the stream header (1 %) was counted as
            // `decode_failed`; wherever a stream is cut, it is `truncated`.
            let per_mille = [1, 10, 50, 200, 500, 900, 990];
            let lens = per_mille
                .iter()
                .map(|pm| full.len() * pm / 1000)
                .chain([9, 20, 40, 100, 300]);
            for len in lens {
                let cut = &full[..len];
                let e = compressed_to_rgb("jpeg", cut, M, &mut out)
                    .expect_err(&format!("{fmt:?} cut to {len} bytes must be rejected"));
                assert_eq!(e.cause(), "truncated", "{fmt:?} cut to {len} bytes: {e}");
            }
            let cut = &full[..full.len() - 1];
            let e = compressed_to_rgb("png", cut, M, &mut out).unwrap_err();
            assert_eq!(e.cause(), "truncated", "{fmt:?} minus one byte: {e}");
        }
        // A segment that declares more bytes than the stream has left is cut.
        let e = compressed_to_rgb("jpeg", &probe_jpeg(), M, &mut out).unwrap_err();
        assert_eq!(e.cause(), "truncated", "{e}");
        // Trailing padding after a complete stream is fine (some drivers add it).
        let mut padded = encode(&img, ImageFormat::Jpeg);
        padded.extend_from_slice(&[0; 16]);
        compressed_to_rgb("jpeg", &padded, M, &mut out).expect("padded JPEG decodes");
    }

    fn crc32(bytes: &[u8]) -> u32 {
        let mut crc = 0xFFFF_FFFFu32;
        for &b in bytes {
            crc ^= b as u32;
            for _ in 0..8 {
                crc = if crc & 1 != 0 {
                    (crc >> 1) ^ 0xEDB8_8320
                } else {
                    crc >> 1
                };
            }
        }
        !crc
    }

    /// A valid small PNG whose IHDR claims `w`x`h` (CRC fixed up).
    fn png_claiming(w: u32, h: u32) -> Vec<u8> {
        let mut png = encode(&textured(), ImageFormat::Png);
        // Signature (8), IHDR length (4), "IHDR" (4), width, height.
        png[16..20].copy_from_slice(&w.to_be_bytes());
        png[20..24].copy_from_slice(&h.to_be_bytes());
        let crc = crc32(&png[12..29]);
        png[29..33].copy_from_slice(&crc.to_be_bytes());
        png
    }

    /// A valid small JPEG whose SOF0 header claims `w`x`h`.
    fn jpeg_claiming(w: u16, h: u16) -> Vec<u8> {
        let mut jpg = encode(&textured(), ImageFormat::Jpeg);
        let sof = jpg
            .windows(2)
            .position(|w| w == [0xFF, 0xC0])
            .expect("baseline JPEG");
        jpg[sof + 5..sof + 7].copy_from_slice(&h.to_be_bytes());
        jpg[sof + 7..sof + 9].copy_from_slice(&w.to_be_bytes());
        jpg
    }

    /// Issue 11: a 260 KB PNG declaring 16384x16384 pixels took 1.9 GB and 7.7 s;
    /// a JPEG claiming 13000x13000 over a small body 626 MB. The budget is now
    /// checked from the header, before any pixel is decoded.
    #[test]
    fn pixel_budget_is_checked_before_decoding() {
        let mut out = RgbImage::new(0, 0);
        let t = std::time::Instant::now();
        let e = compressed_to_rgb("png", &png_claiming(16_384, 16_384), M, &mut out).unwrap_err();
        assert_eq!(e.cause(), "too_many_pixels", "{e}");
        assert!(e.to_string().contains("input.max_pixels"), "{e}");
        let e = compressed_to_rgb("jpeg", &jpeg_claiming(13_000, 13_000), M, &mut out).unwrap_err();
        assert_eq!(e.cause(), "too_many_pixels", "{e}");
        assert!(t.elapsed().as_secs_f64() < 1.0, "{:?}", t.elapsed());
        assert_eq!(out.dimensions(), (0, 0), "nothing was decoded");
        // Raw: width*height against the budget before the data is looked at.
        let e = raw_to_rgb(5000, 4000, "mono8", false, 5000, &[], M, &mut out).unwrap_err();
        assert_eq!(e.cause(), "too_many_pixels");
        // The budget is a parameter: the same frames pass a larger one, and a
        // small budget rejects a VGA frame.
        let e = raw_to_rgb(
            640,
            480,
            "mono8",
            false,
            640,
            &[0; 640 * 480],
            640 * 479,
            &mut out,
        )
        .unwrap_err();
        assert_eq!(e.cause(), "too_many_pixels");
        raw_to_rgb(
            640,
            480,
            "mono8",
            false,
            640,
            &[0; 640 * 480],
            640 * 480,
            &mut out,
        )
        .unwrap();
        let e =
            compressed_to_rgb("png", &png_claiming(5000, 4000), 20_000_000, &mut out).unwrap_err();
        assert_ne!(e.cause(), "too_many_pixels", "within the budget: {e}");
    }

    /// Issue 29: a 20000x20000 PNG and a JPEG header declaring 65500x65500
    /// were counted as `decode_failed` (the decoder's "Image size exceeds
    /// limit"): the declared size now meets the budget first.
    #[test]
    fn declared_size_beyond_the_side_limit_is_over_the_budget() {
        let mut out = RgbImage::new(0, 0);
        let e = compressed_to_rgb("png", &png_claiming(20_000, 20_000), M, &mut out).unwrap_err();
        assert_eq!(e.cause(), "too_many_pixels", "{e}");
        let e = compressed_to_rgb("jpeg", &jpeg_claiming(65_500, 65_500), M, &mut out).unwrap_err();
        assert_eq!(e.cause(), "too_many_pixels", "{e}");
        assert!(e.to_string().contains("65500x65500"), "{e}");
        // Within the budget but longer than a side may be: still `bad_size`.
        let e = compressed_to_rgb("png", &png_claiming(20_000, 2), M, &mut out).unwrap_err();
        assert_eq!(e.cause(), "bad_size", "{e}");
        let e =
            raw_to_rgb(20_000, 1, "mono8", false, 20_000, &[0; 20_000], M, &mut out).unwrap_err();
        assert_eq!(e.cause(), "bad_size", "{e}");
        let e = raw_to_rgb(20_000, 20_000, "mono8", false, 20_000, &[], M, &mut out).unwrap_err();
        assert_eq!(e.cause(), "too_many_pixels", "{e}");
        assert_eq!(out.dimensions(), (0, 0), "nothing was decoded");
    }

    /// The probe's 18-byte JPEG of issue 29: an APP0 segment declaring more
    /// bytes than follow.
    fn probe_jpeg() -> Vec<u8> {
        let mut probe = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00".to_vec();
        probe.extend_from_slice(&[0; 5]);
        probe.extend_from_slice(b"\xff\xd9");
        probe
    }

    /// Issue 29: the probe's JPEG gave the decoder's text with a raw newline
    /// in logs and diagnostics. Decoder text in an error is one escaped,
    /// bounded line.
    #[test]
    fn decoder_text_is_one_escaped_line() {
        let mut out = RgbImage::new(0, 0);
        let e = compressed_to_rgb("jpeg", &probe_jpeg(), M, &mut out).unwrap_err();
        assert!(!e.to_string().chars().any(char::is_control), "{e:?}");
        let io = image::ImageError::IoError(std::io::Error::other(format!(
            "Not enough bytes, expected 9 but found 7\n\u{1b}[2J{}",
            "x".repeat(10_000)
        )));
        let text = decoder_text(&io);
        assert!(!text.chars().any(char::is_control), "{text:?}");
        assert!(text.contains("found 7\\n\\u{1b}[2J"), "{text}");
        assert!(text.len() < 300, "{} bytes", text.len());
        // A header whose segments are all there but wrong is not "cut".
        let mut bad_dqt = encode(&textured(), ImageFormat::Jpeg);
        let dqt = bad_dqt
            .windows(2)
            .position(|w| w == [0xFF, 0xDB])
            .expect("a quantisation table");
        bad_dqt[dqt + 4] = 0x3F; // precision 3, table 15: invalid
        let e = compressed_to_rgb("jpeg", &bad_dqt, M, &mut out).unwrap_err();
        assert_eq!(e.cause(), "decode_failed", "{e}");
        // Nor is text after the start-of-image bytes (0xFF then no marker).
        let e = compressed_to_rgb("jpeg", b"\xff\xd8\xffnot a jpeg", M, &mut out).unwrap_err();
        assert_eq!(e.cause(), "decode_failed", "{e}");
        assert!(!e.to_string().chars().any(char::is_control), "{e:?}");
    }

    /// Issue 11: wire strings reached logs and /diagnostics raw.
    #[test]
    fn wire_strings_in_errors_are_escaped_and_bounded() {
        let mut out = RgbImage::new(0, 0);
        let enc = format!("rgb8\n[ERROR] forged{}", "x".repeat(100_000));
        let e = raw_to_rgb(2, 1, &enc, false, 6, &[0; 6], M, &mut out).unwrap_err();
        let msg = e.to_string();
        assert!(
            !msg.contains('\n') && msg.len() < 400,
            "{} bytes",
            msg.len()
        );
        assert!(msg.contains("\\n[ERROR] forged"), "{msg}");
        let e = compressed_to_rgb(&"\u{1b}[2J".repeat(50_000), b"xx", M, &mut out).unwrap_err();
        let msg = e.to_string();
        assert!(
            !msg.chars().any(|c| c.is_control()) && msg.len() < 600,
            "{msg}"
        );
        let e = compressed_to_rgb(&format!("jpeg\r{}", "y".repeat(9000)), b"xx", M, &mut out)
            .unwrap_err();
        let msg = e.to_string();
        assert!(!msg.contains('\r') && msg.len() < 400, "{msg}");
    }

    #[test]
    fn buffer_is_reused_for_same_size() {
        let mut out = RgbImage::new(2, 1);
        let before = out.as_raw().as_ptr();
        raw_to_rgb(2, 1, "rgb8", false, 6, &[1, 2, 3, 4, 5, 6], M, &mut out).unwrap();
        assert_eq!(out.as_raw().as_ptr(), before);
    }
}

/// The `format` of a JPEG `sensor_msgs/CompressedImage` made from an rgb8
/// image, as image_transport's compressed plugin writes it: its decoder turns
/// the JPEG back into `rgb8`.
pub const RGB8_JPEG_FORMAT: &str = "rgb8; jpeg compressed bgr8";

/// `img` as JPEG at `quality` (1..=100) into `out` (cleared; its allocation is
/// reused from frame to frame).
pub fn encode_jpeg(img: &RgbImage, quality: u8, out: &mut Vec<u8>) -> image::ImageResult<()> {
    out.clear();
    JpegEncoder::new_with_quality(&mut *out, quality.clamp(1, 100)).encode_image(img)
}

#[cfg(test)]
mod jpeg_tests {
    use super::*;

    #[test]
    fn encoded_jpeg_decodes_to_the_image_and_quality_matters() {
        let img = RgbImage::from_fn(64, 48, |x, y| {
            image::Rgb([(x * 4) as u8, (y * 5) as u8, 128])
        });
        let mut low = Vec::new();
        let mut high = Vec::new();
        encode_jpeg(&img, 10, &mut low).unwrap();
        encode_jpeg(&img, 95, &mut high).unwrap();
        assert!(low.len() < high.len(), "{} vs {}", low.len(), high.len());
        let back = image::load_from_memory_with_format(&high, ImageFormat::Jpeg)
            .unwrap()
            .to_rgb8();
        assert_eq!(back.dimensions(), (64, 48));
        let err: i32 = back
            .pixels()
            .zip(img.pixels())
            .map(|(a, b)| (a[0] as i32 - b[0] as i32).abs())
            .max()
            .unwrap();
        assert!(err < 12, "{err}");
        // The buffer is reused: a second encode replaces, never appends.
        let first = high.len();
        encode_jpeg(&img, 95, &mut high).unwrap();
        assert_eq!(high.len(), first);
    }
}
