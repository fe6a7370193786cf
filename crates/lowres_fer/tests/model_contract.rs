//! Start-up checks of the models directory (issue 11): a model whose outputs do
//! not fit the node must stop the start-up (it used to start "ready" and fail
//! on every frame with faces), and a missing or invalid manifest is reported
//! as such (it used to say "detector models missing: run scripts/fetch_models.sh").
//! Needs the fetched detector and ONNX Runtime (tests run through scripts/env.sh).

use std::path::{Path, PathBuf};

use lowres_fer::models::sha256_hex;
use lowres_fer::pipeline::Pipeline;
use lowres_fer::settings::config::PipelineConfig;

fn repo(p: &str) -> PathBuf {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../..")).join(p)
}

/// The defaults with routing off: these models dirs hold one classifier and no experts.
fn classifier_only() -> PipelineConfig {
    let mut cfg = PipelineConfig::default();
    cfg.classifier.routing = lowres_fer::settings::config::Routing::Off;
    cfg
}

fn start(models_dir: &Path) -> String {
    let cfg = PipelineConfig {
        models_dir: models_dir.to_path_buf(),
        ..classifier_only()
    };
    match Pipeline::new(&cfg) {
        Ok(_) => panic!(
            "the pipeline started with models from {}",
            models_dir.display()
        ),
        Err(e) => format!("{e:#}"),
    }
}

/// A models directory with the real detector and `classifier` as the one
/// model of role "classifier".
fn models_with_classifier(dir: &Path, classifier: &[u8]) {
    let real: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(repo("models/manifest.json")).unwrap())
            .unwrap();
    let mut models = serde_json::Map::new();
    for det in [
        "retinaface_mnet025.onnx",
        "blazeface_back_256.onnx",
        "blazeface_front_128.onnx",
    ] {
        std::fs::copy(repo("models").join(det), dir.join(det))
            .expect("detector model (run scripts/setup.sh)");
        models.insert(det.into(), real["models"][det].clone());
    }
    std::fs::write(dir.join("wrong.onnx"), classifier).unwrap();
    models.insert(
        "wrong.onnx".into(),
        serde_json::json!({"sha256": sha256_hex(classifier), "input_size": 32, "role": "classifier"}),
    );
    let manifest = serde_json::json!({ "models": models });
    std::fs::write(dir.join("manifest.json"), manifest.to_string()).unwrap();
}

#[test]
fn classifier_with_wrong_output_shape_stops_start_up() {
    let t = tempfile::tempdir().expect("temp dir");
    // Valid ONNX, right input, 7 logits instead of 8 (tests/data/make_bad_classifiers.py).
    let bad = std::fs::read(repo("tests/data/classifier_7_classes.onnx")).unwrap();
    models_with_classifier(t.path(), &bad);
    let err = start(t.path());
    assert!(
        err.contains("wrong.onnx") && err.contains("start-up check") && err.contains("[2, 7]"),
        "{err}"
    );
    // A fixed batch of one used to pass and then fail on every frame with two
    // classified faces; the start-up check feeds two.
    let batch1 = std::fs::read(repo("tests/data/classifier_batch_1.onnx")).unwrap();
    models_with_classifier(t.path(), &batch1);
    let err = start(t.path());
    assert!(
        err.contains("wrong.onnx") && err.contains("start-up check"),
        "{err}"
    );
    // The same directory with the real classifier starts.
    let good = std::fs::read(repo("models/efc_all_s32.onnx")).unwrap();
    models_with_classifier(t.path(), &good);
    let cfg = PipelineConfig {
        models_dir: t.path().to_path_buf(),
        ..classifier_only()
    };
    Pipeline::new(&cfg).expect("a fitting classifier starts");
}

#[test]
fn missing_or_invalid_manifest_is_reported_as_such() {
    let t = tempfile::tempdir().expect("temp dir");
    let err = start(t.path());
    assert!(err.contains("manifest.json is missing"), "{err}");
    assert!(!err.contains("fetch_models"), "{err}");
    std::fs::write(t.path().join("manifest.json"), "{\"models\": [oops").unwrap();
    let err = start(t.path());
    assert!(err.contains("manifest.json is invalid"), "{err}");
    assert!(!err.contains("fetch_models"), "{err}");
}

/// A classifier that fails at run time (here: batch fixed at 2, which the
/// start-up check accepts, on a frame with many faces) used to fail the whole
/// frame: no emotions message at all. The detections are now kept, the faces
/// it should have classified marked ClassifierFailed, and the error reported.
#[test]
fn classifier_failing_at_run_time_keeps_the_detections() {
    use lowres_fer::FaceState;
    let t = tempfile::tempdir().expect("temp dir");
    let batch2 = std::fs::read(repo("tests/data/classifier_batch_2.onnx")).unwrap();
    models_with_classifier(t.path(), &batch2);
    let cfg = PipelineConfig {
        models_dir: t.path().to_path_buf(),
        ..classifier_only()
    };
    let mut p = Pipeline::new(&cfg).expect("batch 2 passes the start-up check");
    let shared = std::env::var_os("LOWRES_FER_SHARED")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo("../shared"));
    let photo = image::open(shared.join("data/scenes/pexels_group7.jpg"))
        .expect("shared scene (LOWRES_FER_SHARED)")
        .to_rgb8();
    let out = p.process(&photo).expect("the frame still has a result");
    let states: Vec<FaceState> = out.faces.iter().map(|f| f.state).collect();
    let err = out
        .classify_error
        .as_deref()
        .unwrap_or_else(|| panic!("the failure is not reported; face states {states:?}"));
    assert!(err.contains("classifier"), "{err}");
    let failed = out
        .faces
        .iter()
        .filter(|f| f.state == FaceState::ClassifierFailed)
        .count();
    assert!(failed > 2, "{failed} faces marked ClassifierFailed");
    assert!(out
        .faces
        .iter()
        .all(|f| f.state != FaceState::Classified && f.probs == [0.0; 8]));
    assert_eq!(
        out.faces
            .iter()
            .find(|f| f.state == FaceState::ClassifierFailed)
            .map(|f| f.published().top_label),
        Some("")
    );
}
