//! Regression tests of the bag tool's data-safety defects (issue 11):
//! `--overwrite` must never delete the input or anything the tool did not
//! write, and a flipped bit in a CRC-protected MCAP chunk must be an error.
//! The overwrite tests run the whole tool (offline::run), so they need the
//! fetched detector (scripts/setup.sh) and ONNX Runtime ($ORT_DYLIB_PATH;
//! tests run through scripts/env.sh).

use std::ops::ControlFlow;
use std::path::{Path, PathBuf};

use lowres_fer::settings::config::PipelineConfig;
use lowres_fer_bag::msgs::{Header, Image, IMAGE_TYPE};
use lowres_fer_bag::offline::{self, Annotated, Options};
use lowres_fer_bag::reader::Bag;
use lowres_fer_bag::writer::BagWriter;

/// A 3-frame MCAP bag of 32x24 rgb8 frames filled with `fill`.
fn write_bag(dir: &Path, fill: u8) {
    let mut w = BagWriter::create(dir, "in").expect("bag created");
    let h = w.add_topic("/camera/image", IMAGE_TYPE).expect("topic");
    let pixels = vec![fill; 32 * 24 * 3];
    for i in 0..3u32 {
        let msg = Image {
            header: Header {
                sec: 100 + i as i32,
                nanosec: 0,
                frame_id: "cam".into(),
            },
            height: 24,
            width: 32,
            encoding: "rgb8".into(),
            is_bigendian: 0,
            step: 32 * 3,
            data: &pixels,
        };
        w.write(
            h,
            1_000_000_000 * (100 + i as u64),
            &msg.encode_into(Vec::new()),
        )
        .expect("message written");
    }
    w.finish().expect("bag finished");
}

fn options(input: &Path, output: &Path, overwrite: bool) -> Options {
    Options {
        input: input.to_path_buf(),
        topic: None,
        output: output.to_path_buf(),
        overwrite,
        pipeline: PipelineConfig {
            models_dir: PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../..")).join("models"),
            ..PipelineConfig::default()
        },
        namespace: "/lowres_fer".into(),
        annotated: Annotated::None,
        copy_input: false,
        ground_truth: None,
        gt_iou: 0.5,
        deterministic: true,
        skip_bad_frames: false,
        max_frames: None,
        max_pixels: lowres_fer::imaging::io::DEFAULT_MAX_PIXELS,
        progress: false,
        // The page is one more file of the result: --overwrite must handle it.
        report: true,
    }
}

fn count_frames(bag: &Path) -> usize {
    let bag = Bag::open(bag).expect("input bag still opens");
    let mut n = 0;
    bag.for_each_message("/camera/image", |_| {
        n += 1;
        Ok(ControlFlow::Continue(()))
    })
    .expect("input bag still reads");
    n
}

#[test]
fn overwrite_never_deletes_the_input_bag() {
    let t = tempfile::tempdir().expect("temp dir");
    let bag = t.path().join("rec");
    write_bag(&bag, 90);
    // OUT = the input bag itself, and OUT = the directory holding it.
    for out in [bag.clone(), t.path().to_path_buf()] {
        let err = offline::run(&options(&bag, &out, true))
            .err()
            .unwrap_or_else(|| panic!("--overwrite {} must be refused", out.display()));
        assert!(format!("{err:#}").contains("input bag"), "{err:#}");
        assert_eq!(count_frames(&bag), 3, "the input bag was damaged");
    }
    // The single .mcap file as input, OUT = its directory.
    let mcap = bag.join("in_0.mcap");
    let err = offline::run(&options(&mcap, &bag, true)).expect_err("must be refused");
    assert!(format!("{err:#}").contains("input bag"), "{err:#}");
    assert_eq!(count_frames(&bag), 3);
}

#[test]
fn overwrite_replaces_only_a_previous_result() {
    let t = tempfile::tempdir().expect("temp dir");
    let bag = t.path().join("rec");
    write_bag(&bag, 120);
    // A directory the tool did not write is kept, whatever it holds.
    let foreign = t.path().join("my_data");
    std::fs::create_dir(&foreign).expect("dir");
    std::fs::write(foreign.join("notes.txt"), "precious").expect("file");
    let err = offline::run(&options(&bag, &foreign, true)).expect_err("must be refused");
    assert!(
        format!("{err:#}").contains("not a previous result"),
        "{err:#}"
    );
    assert!(foreign.join("notes.txt").exists());

    // A previous result is replaced...
    let out = t.path().join("eval");
    offline::run(&options(&bag, &out, false)).expect("first run");
    assert!(out.join(lowres_fer_bag::output_dir::MARKER).is_file());
    offline::run(&options(&bag, &out, true)).expect("overwrite of a previous result");
    assert!(out.join("summary.json").is_file());
    // ...but not once someone added their own file to it.
    std::fs::write(out.join("analysis.ipynb"), "mine").expect("file");
    let err = offline::run(&options(&bag, &out, true)).expect_err("must be refused");
    assert!(format!("{err:#}").contains("analysis.ipynb"), "{err:#}");
    assert!(out.join("analysis.ipynb").exists());
    assert!(out.join("summary.json").exists());
}

#[test]
fn flipped_bit_in_an_mcap_chunk_is_an_error() {
    let t = tempfile::tempdir().expect("temp dir");
    let bag = t.path().join("rec");
    write_bag(&bag, 0xA7);
    let mcap = bag.join("in_0.mcap");
    let mut bytes = std::fs::read(&mcap).expect("mcap");
    // Flip one bit inside the pixel data of the second frame (inside a chunk).
    let run: Vec<usize> = bytes
        .windows(64)
        .enumerate()
        .filter(|(_, w)| w.iter().all(|&b| b == 0xA7))
        .map(|(i, _)| i)
        .collect();
    assert!(!run.is_empty(), "pixel data not found in the MCAP file");
    let at = run[run.len() / 2];
    bytes[at] ^= 0x01;
    std::fs::write(&mcap, &bytes).expect("write");
    let opened = Bag::open(&bag);
    let result =
        opened.and_then(|b| b.for_each_message("/camera/image", |_| Ok(ControlFlow::Continue(()))));
    let err = result.expect_err("a corrupt chunk must not be read as frames");
    assert!(
        format!("{err:#}").to_ascii_lowercase().contains("crc"),
        "{err:#}"
    );
}
