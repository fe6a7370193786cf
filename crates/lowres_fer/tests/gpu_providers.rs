//! The GPU provider options on a machine without a GPU (issue 25): a pipeline
//! asked for TensorRT/CUDA starts on the CPU and says so (what /diagnostics
//! reports), and the face batch split of TensorRT's shape profile gives the
//! same probabilities as one run. Needs ONNX Runtime and the models (tests run
//! through scripts/env.sh).

use std::path::{Path, PathBuf};

use image::GrayImage;
use lowres_fer::classify::EmotionClassifier;
use lowres_fer::models::{runtime, ModelStore};
use lowres_fer::pipeline::Pipeline;
use lowres_fer::settings::config::{ClassifierConfig, ExecutionProvider, PipelineConfig};

fn models() -> PathBuf {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../../models")).to_path_buf()
}

#[test]
fn a_provider_this_runtime_lacks_is_reported_as_the_cpu() {
    let mut cfg = PipelineConfig {
        models_dir: models(),
        ..PipelineConfig::default()
    };
    // The PyPI ONNX Runtime wheel has neither GPU provider: both fall back.
    for (det, cls) in [
        (ExecutionProvider::Tensorrt, ExecutionProvider::Cuda),
        (ExecutionProvider::Cuda, ExecutionProvider::Tensorrt),
    ] {
        cfg.detector.execution_provider = det;
        cfg.classifier.execution_provider = cls;
        cfg.gpu.tensorrt_fp16 = true;
        cfg.gpu.tensorrt_cache_dir = std::env::temp_dir().join("lowres_fer_trt_test");
        let pipeline = Pipeline::new(&cfg).expect("pipeline with GPU providers requested");
        assert_eq!(
            pipeline.providers(),
            [("detector", "cpu"), ("classifier", "cpu")]
        );
    }
}

#[test]
fn a_face_batch_split_gives_the_same_probabilities() {
    let env = runtime::environment(None).expect("ONNX Runtime (scripts/env.sh)");
    let store = ModelStore::open(&env, &models()).expect("models (scripts/setup.sh)");
    let file = store
        .manifest()
        .classifier()
        .expect("classifier")
        .to_string();
    let mut classifier =
        EmotionClassifier::new(&store, &file, &ClassifierConfig::default()).expect("classifier");
    // Ten different faces of different sizes (a gradient and a checker of each side).
    let crops: Vec<GrayImage> = (0..10u32)
        .map(|i| {
            let side = 8 + 4 * i;
            GrayImage::from_fn(side, side, |x, y| {
                image::Luma([((x * 7 + y * (3 + i) + ((x / 3 + y / 2) % 2) * 90) % 256) as u8])
            })
        })
        .collect();
    let refs: Vec<&GrayImage> = crops.iter().collect();
    let mut whole = Vec::new();
    classifier.classify(&refs, &mut whole).expect("one batch");
    classifier.limit_batch(3);
    let mut split = Vec::new();
    classifier
        .classify(&refs, &mut split)
        .expect("batches of 3");
    assert_eq!(split.len(), 10);
    for (a, b) in whole.iter().zip(&split) {
        for (p, q) in a.iter().zip(b) {
            assert!((p - q).abs() < 1e-5, "{a:?} vs {b:?}");
        }
    }
    // The faces differ, so a split that repeated or reordered faces would show.
    assert!(whole.windows(2).any(|w| w[0] != w[1]));
}
