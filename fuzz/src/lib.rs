//! Fuzz targets: every parser of outside data, each as a function of one byte
//! string that must return (never panic, hang or allocate without bound) for
//! any input. The same functions run
//! - coverage-guided under libFuzzer (`fuzz/`, `scripts/fuzz.sh`), and
//! - as a bounded deterministic smoke (`fuzz/tests/fuzz_smoke.rs`: the seed corpora
//!   in `fuzz/seeds/` plus seeded mutations), which `cargo test` runs.
//!
//! docs/reliability.md lists what each target covers and the figures.

use std::ops::ControlFlow;

use image::RgbImage;

use lowres_fer::imaging::io::{self as image_io, compressed_to_rgb, raw_to_rgb};
use lowres_fer_bag::msgs::{CdrMessage as _, CompressedImage, FaceEmotionArray, Image};
use lowres_fer_bag::reader::{self, Bag};

/// Pixel budget inside the fuzz targets: 1 MP keeps executions fast; the
/// budget logic is the same at any value (the node's default is 16.8 MP).
pub const FUZZ_MAX_PIXELS: u64 = 1 << 20;

/// Encodings the raw target chooses from by index (the last: a string from the input).
const ENCODINGS: [&str; 8] = [
    "rgb8", "bgr8", "rgba8", "bgra8", "mono8", "mono16", "yuv422", "yuyv",
];

/// One fuzz target: never panics, whatever the bytes.
pub type Target = fn(&[u8]);

/// All targets by name (the names of `fuzz/fuzz_targets/*.rs` and `fuzz/seeds/*`).
pub const TARGETS: &[(&str, Target)] = &[
    ("raw_image", raw_image),
    ("compressed_image", compressed_image),
    ("cdr", cdr),
    ("mcap", mcap),
    ("sqlite", sqlite),
    ("manifest", manifest),
    ("params_file", params_file),
];

/// sensor_msgs/Image conversion. Input layout: width u16 LE, height u16 LE,
/// encoding index u8 (>= 8: a length byte and that many bytes of encoding
/// string follow), flags u8 (bit 0: big endian, bit 1: height from the data
/// length), step padding u8, then data.
pub fn raw_image(data: &[u8]) {
    if data.len() < 7 {
        return;
    }
    let width = u16::from_le_bytes([data[0], data[1]]) as u32;
    let height = u16::from_le_bytes([data[2], data[3]]) as u32;
    let (enc_idx, flags, pad) = (data[4], data[5], data[6]);
    let mut rest = &data[7..];
    let owned;
    let encoding: &str = match ENCODINGS.get(enc_idx as usize) {
        Some(e) => e,
        None => {
            let Some((&len, tail)) = rest.split_first() else {
                return;
            };
            let len = (len as usize).min(tail.len());
            owned = String::from_utf8_lossy(&tail[..len]).into_owned();
            rest = &tail[len..];
            &owned
        }
    };
    let bpp = image_io::Encoding::parse(encoding).map_or(3, |e| e.bytes_per_pixel());
    let step = (width * bpp).saturating_add(pad as u32);
    // Flag bit 1: derive the height from the data length, so mutated inputs
    // reach the pixel conversion instead of stopping at the length check.
    let height = if flags & 2 != 0 && step > 0 {
        let rows = (rest.len() / step as usize).min(u16::MAX as usize);
        rest = &rest[..rows * step as usize];
        rows as u32
    } else {
        height
    };
    let mut out = RgbImage::new(0, 0);
    if raw_to_rgb(
        width,
        height,
        encoding,
        flags & 1 != 0,
        step,
        rest,
        FUZZ_MAX_PIXELS,
        &mut out,
    )
    .is_ok()
    {
        assert_eq!(out.dimensions(), (width, height));
    }
}

/// sensor_msgs/CompressedImage decoding. First byte picks the declared
/// format string, the rest is the payload.
pub fn compressed_image(data: &[u8]) {
    let Some((&sel, payload)) = data.split_first() else {
        return;
    };
    let format = ["jpeg", "png", "rgb8; jpeg compressed bgr8", "", "tiff"][sel as usize % 5];
    let mut out = RgbImage::new(0, 0);
    if compressed_to_rgb(format, payload, FUZZ_MAX_PIXELS, &mut out).is_ok() {
        let (w, h) = out.dimensions();
        assert!(w as u64 * h as u64 <= FUZZ_MAX_PIXELS && w > 0 && h > 0);
        assert_eq!(out.as_raw().len(), w as usize * h as usize * 3);
    }
}

/// The CDR reader through every message type the bag tool decodes; what
/// decodes must re-encode to something that decodes to the same value.
pub fn cdr(data: &[u8]) {
    if let Ok(m) = Image::decode(data) {
        let again = m.encode_into(Vec::new());
        assert_eq!(Image::decode(&again).ok(), Some(m));
    }
    if let Ok(m) = CompressedImage::decode(data) {
        let again = m.encode_into(Vec::new());
        assert_eq!(CompressedImage::decode(&again).ok(), Some(m));
    }
    if let Ok(m) = FaceEmotionArray::decode(data) {
        let again = m.encode_into(Vec::new());
        let back = FaceEmotionArray::decode(&again).expect("re-encoded array decodes");
        assert_eq!(back.faces.len(), m.faces.len());
        assert_eq!(back.header, m.header);
    }
}

/// An MCAP file: summary, scan, every message of every topic (CRC-checked),
/// each message also through the image decoders.
pub fn mcap(data: &[u8]) {
    let _ = reader::read_mcap_bytes(data, |_, m| {
        cdr(m.data);
        decode_frame(m.data);
        Ok(ControlFlow::Continue(()))
    });
}

fn decode_frame(msg: &[u8]) {
    let mut out = RgbImage::new(0, 0);
    if let Ok(i) = Image::decode(msg) {
        let _ = raw_to_rgb(
            i.width,
            i.height,
            &i.encoding,
            i.is_bigendian != 0,
            i.step,
            i.data,
            FUZZ_MAX_PIXELS,
            &mut out,
        );
    } else if let Ok(c) = CompressedImage::decode(msg) {
        let _ = compressed_to_rgb(&c.format, c.data, FUZZ_MAX_PIXELS, &mut out);
    }
}

/// An SQLite3 rosbag2 file (written to a per-thread temporary file: SQLite
/// reads files), opened like the bag tool does and read topic by topic.
pub fn sqlite(data: &[u8]) {
    let path = std::env::temp_dir().join(format!(
        "lowres_fer_fuzz_{}_{:?}.db3",
        std::process::id(),
        std::thread::current().id()
    ));
    if std::fs::write(&path, data).is_err() {
        return;
    }
    if let Ok(bag) = Bag::open(&path) {
        for t in &bag.topics {
            let _ = bag.for_each_message(&t.name, |m| {
                decode_frame(m.data);
                Ok(ControlFlow::Continue(()))
            });
        }
    }
    let _ = std::fs::remove_file(&path);
}

/// models/manifest.json.
pub fn manifest(data: &[u8]) {
    if let Ok(m) = serde_json::from_slice::<lowres_fer::models::Manifest>(data) {
        for name in m.models.keys() {
            assert!(m.entry(name).is_ok());
        }
    }
}

/// A node parameter file as the bag tool reads it (`--params-file`): the one
/// params-file reader of [`lowres_fer::settings::params`], then the node's checks.
pub fn params_file(data: &[u8]) {
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(given) = lowres_fer_bag::params_file::params_file_values(text) {
            let _ = lowres_fer::settings::params::unknown_names(&given);
            if let Ok(settings) = lowres_fer::settings::params::Settings::read(&given) {
                let _ = settings.pipeline.validate();
            }
        }
    }
}

/// Panic hook for the libFuzzer targets (call in `init`, after libfuzzer-sys
/// installed its abort-on-any-panic hook): a panic inside the mcap crate that
/// the bag reader catches and reports as a corrupt file
/// ([`reader::mcap_panic_is_handled`]) is handled behaviour, not a crash; every
/// other panic still aborts and is a finding.
pub fn tolerate_handled_panics() {
    let abort = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if !reader::mcap_panic_is_handled() {
            abort(info);
        }
    }));
}
