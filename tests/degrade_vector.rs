//! Rust and Python degrade faces identically: tests/data/degrade_vector.json was
//! written by training/make_test_vector.py with Pillow.

use image::GrayImage;
use lowres_fer::classify::degrade;
use lowres_fer::resample::Resizer;

#[test]
fn rust_degradation_matches_pillow_byte_for_byte() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
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
