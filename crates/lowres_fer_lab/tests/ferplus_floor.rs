//! The committed classifier (the manifest's role "classifier") keeps the accuracy its
//! model card claims: FER+ Test at 20 px (majority rule, 3,137 images) re-measured on
//! the Rust inference path must stay within one point of the figure recorded by the
//! evaluator in models/<classifier>.eval.json (the model card's source). The routing
//! experts earn their place: each beats the general classifier on the faces it serves.
//!
//! Needs ../shared/data/ferplus.tar.gz (LOWRES_FER_SHARED overrides ../shared) and
//! ONNX Runtime ($ORT_DYLIB_PATH, set by scripts/env.sh). Fails, never skips.

use std::path::PathBuf;

use lowres_fer::classify::EmotionClassifier;
use lowres_fer::models::runtime;
use lowres_fer::models::ModelStore;
use lowres_fer::settings::config::ClassifierConfig;
use lowres_fer_lab::ferplus::{self, LabelRule};

/// FER+ Test accuracy at 20 px (majority rule) of a model in `models`.
fn test_accuracy_at_20px(models: &std::path::Path, model: &str) -> f64 {
    test_accuracy(models, model, 20)
}

/// FER+ Test accuracy at `resolution` px (majority rule) of a model in `models`.
fn test_accuracy(models: &std::path::Path, model: &str, resolution: u32) -> f64 {
    let env = runtime::environment(None).expect("ONNX Runtime (run via scripts/env.sh)");
    let store = ModelStore::open(&env, models).expect("manifest");
    let cfg = ClassifierConfig {
        threads: 2,
        ..Default::default()
    };
    let mut clf = EmotionClassifier::new(&store, model, &cfg).expect("model loads");
    let root = ferplus::dataset_root(
        &shared().join("data/ferplus.tar.gz"),
        &ferplus::default_cache(),
    )
    .expect("FER+ data in ../shared");
    let samples = ferplus::load_split(&root, ferplus::TEST_DIR).expect("FER+ test split");
    let preds = ferplus::predict(&mut clf, &samples, resolution, 256).expect("inference");
    let labels: Vec<Option<usize>> = samples
        .iter()
        .map(|s| LabelRule::Majority.label(&s.votes))
        .collect();
    let scores = ferplus::score(resolution, LabelRule::Majority, &labels, &preds);
    assert_eq!(scores.images, 3137);
    scores.accuracy
}

/// The manifest's classifier (the node's default) and the manifest.
fn committed_classifier(models: &std::path::Path) -> (String, lowres_fer::models::Manifest) {
    let manifest = lowres_fer::models::Manifest::load(models).expect("manifest");
    let name = manifest.classifier().expect("one classifier").to_owned();
    (name, manifest)
}

fn shared() -> PathBuf {
    std::env::var_os("LOWRES_FER_SHARED")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../..")).join("../shared")
        })
}

#[test]
fn committed_model_holds_its_model_card_accuracy_at_20px() {
    let models = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../..")).join("models");
    let (model, _) = committed_classifier(&models);
    let record = models.join(model.replace(".onnx", ".eval.json"));
    let card: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(&record)
            .unwrap_or_else(|e| panic!("evaluation record {} committed: {e}", record.display())),
    )
    .expect("valid JSON");
    let recorded = card["scores"]
        .as_array()
        .expect("scores")
        .iter()
        .find(|s| s["resolution"] == 20 && s["rule"] == "majority")
        .and_then(|s| s["accuracy"].as_f64())
        .expect("R=20 majority accuracy recorded");

    let accuracy = test_accuracy_at_20px(&models, &model);
    eprintln!("FER+ Test R=20 majority: {accuracy:.4} (model card {recorded:.4})");
    assert!(
        accuracy >= recorded - 0.01,
        "accuracy {accuracy:.4} fell more than one point under the model card's {recorded:.4}"
    );
}

/// The INT8 and FP16 variants (training/quantize.py, `classifier.precision`) are
/// of the committed model (the manifest's sha256 link) and cost at most 1.5
/// points (INT8) and 0.3 points (FP16) of its accuracy at 20 px.
#[test]
fn precision_variants_stay_close_to_the_fp32_model() {
    let models = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../..")).join("models");
    let (model, manifest) = committed_classifier(&models);
    let fp32 = test_accuracy_at_20px(&models, &model);
    for (precision, max_loss) in [("int8", 0.015), ("fp16", 0.003)] {
        let file = manifest
            .variant(&model, precision)
            .expect("variant committed and made from the committed model");
        let acc = test_accuracy_at_20px(&models, file);
        eprintln!("FER+ Test R=20 majority: {file} {acc:.4} vs fp32 {fp32:.4}");
        assert!(
            acc >= fp32 - max_loss,
            "{file}: {acc:.4} is more than {max_loss} under fp32 {fp32:.4}"
        );
    }
}

/// Every routing expert (role "expert") is better than the general classifier at the
/// FER+ Test resolutions inside its `face_px` bin (a bin without a better model has
/// no expert, training/lowres_fer_training/routing.py), and its INT8 and FP16
/// variants stay within 1.5 and 0.3 points of it there.
#[test]
fn routing_experts_beat_the_general_classifier_on_their_bins() {
    let models = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../..")).join("models");
    let (general, manifest) = committed_classifier(&models);
    let experts: Vec<(&String, [f32; 2])> = manifest
        .models
        .iter()
        .filter(|(_, e)| e.role == "expert")
        .map(|(name, e)| (name, e.face_px.expect("an expert has its face_px bin")))
        .collect();
    assert!(!experts.is_empty(), "routing has an expert");
    for (expert, [lo, hi]) in experts {
        let served: Vec<u32> = [48, 32, 20, 15, 10, 8, 5]
            .into_iter()
            .filter(|&r| lo <= r as f32 && (r as f32) < hi)
            .collect();
        assert!(!served.is_empty(), "{expert} serves no Test resolution");
        for r in served {
            let base = test_accuracy(&models, &general, r);
            let acc = test_accuracy(&models, expert, r);
            eprintln!("FER+ Test R={r} majority: {expert} {acc:.4} vs {general} {base:.4}");
            assert!(
                acc > base,
                "{expert} at {r} px: {acc:.4} <= {general}'s {base:.4}"
            );
            for (precision, max_loss) in [("int8", 0.015), ("fp16", 0.003)] {
                let file = manifest
                    .variant(expert, precision)
                    .expect("variant committed and made from the committed expert");
                let v = test_accuracy(&models, file, r);
                eprintln!("FER+ Test R={r} majority: {file} {v:.4}");
                assert!(v >= acc - max_loss, "{file} at {r} px: {v:.4} vs {acc:.4}");
            }
        }
    }
}

/// `classifier.mirror_average`: a face and its mirror image get the same answer (the
/// pair is the same two views), and the answer differs from the face's alone.
#[test]
fn mirror_averaging_answers_a_face_and_its_mirror_alike() {
    let models = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../..")).join("models");
    let env = runtime::environment(None).expect("ONNX Runtime (run via scripts/env.sh)");
    let store = ModelStore::open(&env, &models).expect("manifest");
    let (general, _) = committed_classifier(&models);
    let root = ferplus::dataset_root(
        &shared().join("data/ferplus.tar.gz"),
        &ferplus::default_cache(),
    )
    .expect("FER+ data in ../shared");
    let samples = ferplus::load_split(&root, ferplus::TEST_DIR).expect("FER+ test split");
    // 16 real faces at the model's input size (no resize: the mirror is exact).
    let faces: Vec<image::GrayImage> = samples[..16]
        .iter()
        .map(|s| image::imageops::resize(&s.image, 32, 32, image::imageops::FilterType::Triangle))
        .collect();
    let mirrored: Vec<image::GrayImage> =
        faces.iter().map(image::imageops::flip_horizontal).collect();
    let run = |mirror: bool, images: &[image::GrayImage]| {
        let cfg = ClassifierConfig {
            mirror_average: mirror,
            ..Default::default()
        };
        let mut clf = EmotionClassifier::new(&store, &general, &cfg).expect("model loads");
        let refs: Vec<&image::GrayImage> = images.iter().collect();
        let mut probs = Vec::new();
        clf.classify(&refs, &mut probs).expect("classified");
        probs
    };
    let max_diff = |a: &[[f32; 8]], b: &[[f32; 8]]| {
        a.iter()
            .zip(b)
            .flat_map(|(p, q)| p.iter().zip(q).map(|(x, y)| (x - y).abs()))
            .fold(0.0f32, f32::max)
    };
    let (on, on_mirrored) = (run(true, &faces), run(true, &mirrored));
    let (off, off_mirrored) = (run(false, &faces), run(false, &mirrored));
    assert!(
        max_diff(&on, &on_mirrored) < 1e-4,
        "mirror averaging is not symmetric"
    );
    assert!(
        max_diff(&off, &off_mirrored) > 1e-2,
        "the two views never differ: no test"
    );
    assert!(
        max_diff(&on, &off) > 1e-3,
        "mirror averaging changed nothing"
    );
}
