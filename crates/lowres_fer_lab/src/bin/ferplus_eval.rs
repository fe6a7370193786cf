//! FER+ evaluator on the node's own inference path (ort + the Pillow-exact protocol).
//!
//!     ferplus_eval [--model FILE.onnx] [--models-dir models]
//!                  [--data ../shared/data/ferplus.tar.gz] [--resolutions 48,32,20,15,10,8,5]
//!                  [--threads 1] [--json out.json] [--robustness 20,10,5] [--no-mirror]
//!
//! Prints, per resolution and label rule (majority: 3,137 test images; plurality:
//! 3,545), overall accuracy, mean class accuracy, per-class recall and the count, and
//! the expected calibration error of the top-class confidence (majority rule).
//! `--robustness` adds a table: majority accuracy at each listed resolution under each
//! camera degradation of crates/lowres_fer_lab/src/degrade.rs, next to the clean protocol. Without --model it
//! evaluates the manifest's classifier (role "classifier", the node's default).

use std::path::PathBuf;

use anyhow::{bail, Context};
use clap::Parser;
use lowres_fer::classify::EmotionClassifier;
use lowres_fer::models::runtime;
use lowres_fer::models::ModelStore;
use lowres_fer::settings::config::ClassifierConfig;
use lowres_fer_lab::cli;
use lowres_fer_lab::degrade::{self, Degrader};
use lowres_fer_lab::ferplus::{self, LabelRule};

/// FER+ evaluator on the node's own inference path.
#[derive(Parser, Debug)]
#[command(name = "ferplus_eval", args_override_self = true)]
struct Args {
    #[command(flatten)]
    model: cli::ClassifierModel,
    #[command(flatten)]
    models: cli::ModelsDir,
    #[command(flatten)]
    data: cli::FerplusData,
    /// Resolutions to evaluate (comma-separated, 1..=48)
    #[arg(long, value_name = "LIST", value_parser = resolution_list,
          default_value = "48,32,20,15,10,8,5")]
    resolutions: ::std::vec::Vec<u32>,
    #[command(flatten)]
    threads: cli::Threads,
    /// Write the scores as JSON to OUT
    #[arg(long, value_name = "OUT")]
    json: Option<PathBuf>,
    /// Also the robustness table at these resolutions (comma-separated, 1..=48)
    #[arg(long, value_name = "LIST", value_parser = resolution_list)]
    robustness: Option<::std::vec::Vec<u32>>,
    /// Each face alone, without its mirror image (the node's classifier.mirror_average false)
    #[arg(long)]
    no_mirror: bool,
}

fn resolution_list(text: &str) -> anyhow::Result<Vec<u32>> {
    let list = text
        .split(',')
        .map(|s| {
            s.trim()
                .parse::<u32>()
                .with_context(|| format!("bad resolution {s:?}"))
        })
        .collect::<anyhow::Result<Vec<u32>>>()?;
    if list.iter().any(|&r| r == 0 || r > 48) {
        bail!("resolutions must be in 1..=48");
    }
    Ok(list)
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let threads = args.threads.threads;
    let robustness_at = args.robustness.clone().unwrap_or_default();
    let env = runtime::environment(None)?;
    let store = ModelStore::open(&env, &args.models.models_dir)?;
    let model = args.model.resolve(&store)?;
    let cfg = ClassifierConfig {
        threads,
        mirror_average: !args.no_mirror,
        ..Default::default()
    };
    let mut classifier = EmotionClassifier::new(&store, &model, &cfg)?;
    let root = ferplus::dataset_root(&args.data.data, &ferplus::default_cache())?;
    let samples = ferplus::load_split(&root, ferplus::TEST_DIR)?;
    println!(
        "FER+ Test: {} images, model {} (input {}x{}), {} thread(s)",
        samples.len(),
        model,
        classifier.input_size(),
        classifier.input_size(),
        threads
    );
    let majority: Vec<Option<usize>> = samples
        .iter()
        .map(|s| LabelRule::Majority.label(&s.votes))
        .collect();
    let mut degrader = Degrader::new(0);
    let mut all = Vec::new();
    let mut calibration = Vec::new();
    for &r in &args.resolutions {
        let probs = ferplus::predict_probs(
            &mut classifier,
            &samples,
            r,
            &degrade::CLEAN,
            &mut degrader,
            256,
        )?;
        let preds: Vec<usize> = probs.iter().map(ferplus::argmax).collect();
        for rule in [LabelRule::Majority, LabelRule::Plurality] {
            let labels: Vec<Option<usize>> = samples.iter().map(|s| rule.label(&s.votes)).collect();
            let scores = ferplus::score(r, rule, &labels, &preds);
            println!("{}", ferplus::format_scores(&scores));
            all.push(scores);
        }
        let ece = ferplus::expected_calibration_error(&majority, &probs, 15);
        println!(
            "R={r:>2} expected calibration error (majority, 15 bins): {:.2}%",
            ece * 100.0
        );
        calibration.push(serde_json::json!({ "resolution": r, "ece": ece }));
    }
    let mut robustness = Vec::new();
    if !robustness_at.is_empty() {
        println!("\nRobustness (majority rule, accuracy %): degradation x resolution");
        println!(
            "{:<14}{}",
            "degradation",
            robustness_at
                .iter()
                .map(|r| format!("{:>8}", format!("{r} px")))
                .collect::<String>()
        );
    }
    for (name, spec) in degrade::NAMED.iter().filter(|_| !robustness_at.is_empty()) {
        let mut row = format!("{name:<14}");
        for &r in &robustness_at {
            // One noise stream per cell: a cell's figure does not depend on the others.
            degrader.noise = degrade::Noise::new(u64::from(r) * 1000 + 1);
            let probs =
                ferplus::predict_probs(&mut classifier, &samples, r, spec, &mut degrader, 256)?;
            let preds: Vec<usize> = probs.iter().map(ferplus::argmax).collect();
            let s = ferplus::score(r, LabelRule::Majority, &majority, &preds);
            row += &format!("{:>8.2}", s.accuracy * 100.0);
            robustness.push(serde_json::json!({
                "degradation": name, "resolution": r, "accuracy": s.accuracy,
                "mean_class_accuracy": s.mean_class_accuracy,
            }));
        }
        println!("{row}");
    }
    if let Some(path) = args.json {
        let doc = serde_json::json!({
            "model": model, "mirror_average": cfg.mirror_average, "scores": all,
            "calibration": calibration, "robustness": robustness,
        });
        std::fs::write(&path, serde_json::to_string_pretty(&doc)? + "\n")
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn command_line_is_consistent() {
        <super::Args as clap::CommandFactory>::command().debug_assert();
    }

    #[test]
    fn default_resolutions_are_the_protocol() {
        let a = <super::Args as clap::Parser>::parse_from(["ferplus_eval"]);
        assert_eq!(a.resolutions, lowres_fer_lab::ferplus::RESOLUTIONS);
    }
}
