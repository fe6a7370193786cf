//! FER+ evaluator on the node's own inference path (ort + the Pillow-exact protocol).
//!
//!     ferplus_eval [--model efc_all_s32.onnx] [--models-dir models]
//!                  [--data ../shared/data/ferplus.tar.gz] [--resolutions 48,32,20,15,10,8,5]
//!                  [--threads 1] [--json out.json]
//!
//! Prints, per resolution and label rule (majority: 3,137 test images; plurality:
//! 3,545), overall accuracy, mean class accuracy, per-class recall and the count.

use std::path::PathBuf;

use anyhow::{bail, Context};
use lowres_fer::classify::EmotionClassifier;
use lowres_fer::config::ClassifierConfig;
use lowres_fer::ferplus::{self, LabelRule};
use lowres_fer::models::ModelStore;
use lowres_fer::runtime;

struct Args {
    model: String,
    models_dir: PathBuf,
    data: PathBuf,
    resolutions: Vec<u32>,
    threads: u32,
    json: Option<PathBuf>,
}

fn parse_args() -> anyhow::Result<Args> {
    let mut a = Args {
        model: "efc_all_s32.onnx".into(),
        models_dir: PathBuf::from("models"),
        data: PathBuf::from("../shared/data/ferplus.tar.gz"),
        resolutions: ferplus::RESOLUTIONS.to_vec(),
        threads: 1,
        json: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().with_context(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--model" => a.model = value()?,
            "--models-dir" => a.models_dir = value()?.into(),
            "--data" => a.data = value()?.into(),
            "--threads" => a.threads = value()?.parse().context("--threads")?,
            "--json" => a.json = Some(value()?.into()),
            "--resolutions" => {
                a.resolutions = value()?
                    .split(',')
                    .map(|s| {
                        s.trim()
                            .parse::<u32>()
                            .with_context(|| format!("bad resolution {s:?}"))
                    })
                    .collect::<anyhow::Result<_>>()?;
                if a.resolutions.iter().any(|&r| r == 0 || r > 48) {
                    bail!("--resolutions must be in 1..=48");
                }
            }
            "-h" | "--help" => {
                println!("usage: ferplus_eval [--model FILE] [--models-dir DIR] [--data TAR|DIR] [--resolutions LIST] [--threads N] [--json OUT]");
                std::process::exit(0);
            }
            other => bail!("unknown argument {other:?} (see --help)"),
        }
    }
    Ok(a)
}

fn main() -> anyhow::Result<()> {
    let args = parse_args()?;
    let env = runtime::environment(None)?;
    let store = ModelStore::open(&env, &args.models_dir)?;
    let cfg = ClassifierConfig {
        threads: args.threads,
        ..Default::default()
    };
    let mut classifier = EmotionClassifier::new(&store, &args.model, &cfg)?;
    let root = ferplus::dataset_root(&args.data, &ferplus::default_cache())?;
    let samples = ferplus::load_split(&root, ferplus::TEST_DIR)?;
    println!(
        "FER+ Test: {} images, model {} (input {}x{}), {} thread(s)",
        samples.len(),
        args.model,
        classifier.input_size(),
        classifier.input_size(),
        args.threads
    );
    let mut all = Vec::new();
    for &r in &args.resolutions {
        let preds = ferplus::predict(&mut classifier, &samples, r, 256)?;
        for rule in [LabelRule::Majority, LabelRule::Plurality] {
            let labels: Vec<Option<usize>> = samples.iter().map(|s| rule.label(&s.votes)).collect();
            let scores = ferplus::score(r, rule, &labels, &preds);
            println!("{}", ferplus::format_scores(&scores));
            all.push(scores);
        }
    }
    if let Some(path) = args.json {
        let doc = serde_json::json!({ "model": args.model, "scores": all });
        std::fs::write(&path, serde_json::to_string_pretty(&doc)? + "\n")
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    Ok(())
}
