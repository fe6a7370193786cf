//! Rust and Python degrade faces identically: tests/data/degrade_vector.json was
//! written by training/make_test_vector.py with Pillow.

use image::GrayImage;
use lowres_fer::classify::degrade;
use lowres_fer::imaging::resample::Resizer;

#[test]
fn rust_degradation_matches_pillow_byte_for_byte() {
    let path = concat!(
        concat!(env!("CARGO_MANIFEST_DIR"), "/../.."),
        "/tests/data/degrade_vector.json"
    );
    let text = std::fs::read_to_string(path).expect("test vector present");
    let v: serde_json::Value = serde_json::from_str(&text).expect("valid JSON");
    let src: Vec<u8> = v["source"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_u64().unwrap() as u8)
        .collect();
    let face = GrayImage::from_raw(48, 48, src).unwrap();
    let mut resizer = Resizer::new();
    let cases = v["cases"].as_array().unwrap();
    assert_eq!(cases.len(), 14);
    for case in cases {
        let r = case["resolution"].as_u64().unwrap() as u32;
        let s = case["input_size"].as_u64().unwrap() as u32;
        let want: Vec<u8> = case["pixels"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p.as_u64().unwrap() as u8)
            .collect();
        let got = degrade(&face, r, s, &mut resizer);
        let diffs = got
            .as_raw()
            .iter()
            .zip(&want)
            .filter(|(a, b)| a != b)
            .count();
        assert_eq!(
            diffs,
            0,
            "R={r} S={s}: {diffs} of {} pixels differ from Pillow",
            want.len()
        );
    }
}

/// The camera degradations of the robustness table (crates/lowres_fer_lab/src/degrade.rs) agree with
/// training/lowres_fer_training/degrade.py at the native resolution: kernels exactly, the float paths
/// (blur, gamma, contrast) up to an off-by-one of a rare exact .5 rounding.
#[test]
fn camera_degradations_match_python() {
    let path = concat!(
        concat!(env!("CARGO_MANIFEST_DIR"), "/../.."),
        "/tests/data/degrade_vector.json"
    );
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).expect("test vector present"))
            .expect("valid JSON");
    let bytes = |a: &serde_json::Value| -> Vec<u8> {
        a.as_array()
            .unwrap()
            .iter()
            .map(|p| p.as_u64().unwrap() as u8)
            .collect()
    };
    let face = GrayImage::from_raw(48, 48, bytes(&v["source"])).unwrap();
    let cases = v["camera"].as_array().unwrap();
    assert!(cases.len() >= 30, "{} camera cases", cases.len());
    let mut d = lowres_fer_lab::degrade::Degrader::new(0);
    for case in cases {
        let name = case["name"].as_str().unwrap();
        let r = case["resolution"].as_u64().unwrap() as u32;
        let spec = lowres_fer_lab::degrade::NAMED
            .iter()
            .find(|(n, _)| *n == name)
            .unwrap_or_else(|| panic!("{name} not in degrade::NAMED"))
            .1;
        let want = bytes(&case["pixels"]);
        let got = d.native(&face, r, &spec);
        let worst = got
            .as_raw()
            .iter()
            .zip(&want)
            .map(|(a, b)| a.abs_diff(*b))
            .max()
            .unwrap();
        let diffs = got
            .as_raw()
            .iter()
            .zip(&want)
            .filter(|(a, b)| a != b)
            .count();
        let exact = matches!(name, "clean" | "nearest" | "area" | "bicubic");
        assert!(
            worst <= 1 && (!exact || diffs == 0) && diffs * 50 <= want.len().max(50),
            "{name} R={r}: {diffs} of {} pixels differ (max {worst})",
            want.len()
        );
    }
}
