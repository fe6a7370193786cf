//! Classifier throughput: faces/s at batch 1 and 16, 1 thread, at 32x32 and 20x20
//! input, on the committed EFC model through the same ort path the node uses.
//! Compare with the EFC paper's 290 faces/s (i7-6700T); target >= 3,000 at batch 1.
//!
//!     classify_bench [--models-dir models] [--model FILE.onnx] [--seconds 3]
//!
//! Without --model: the manifest's classifier (role "classifier", the node's default).

use std::time::{Duration, Instant};

use clap::Parser;
use lowres_fer::classify::{session_options, INPUT_NAME, OUTPUT_NAME};
use lowres_fer::models::runtime;
use lowres_fer::models::ModelStore;
use lowres_fer::settings::config::{ClassifierConfig, ExecutionProvider};
use lowres_fer_lab::cli;
use ort::value::TensorRef;

/// Classifier throughput: faces/s at batch 1 and 16, 1 thread, 32x32 and 20x20 input.
#[derive(Parser, Debug)]
#[command(name = "classify_bench", args_override_self = true)]
struct Args {
    #[command(flatten)]
    models: cli::ModelsDir,
    #[command(flatten)]
    model: cli::ClassifierModel,
    /// Seconds timed per case
    #[arg(long, value_name = "S", default_value_t = 3.0)]
    seconds: f64,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let seconds = args.seconds;
    let env = runtime::environment(None)?;
    let store = ModelStore::open(&env, &args.models.models_dir)?;
    let model = args.model.resolve(&store)?;
    let opts = session_options(&ClassifierConfig {
        threads: 1,
        execution_provider: ExecutionProvider::Cpu,
        ..Default::default()
    });
    let (mut session, _) = store.session(&model, opts)?;
    println!("model {model}, 1 intra-op thread, CPU, {seconds} s per case");
    println!(
        "{:>6} {:>6} {:>12} {:>10} {:>14}",
        "input", "batch", "faces/s", "ms/batch", "vs paper 290"
    );
    let mut rows = Vec::new();
    for size in [32usize, 20] {
        for batch in [1usize, 16] {
            let data: Vec<f32> = (0..batch * size * size)
                .map(|i| ((i * 37) % 255) as f32 / 255.0)
                .collect();
            let mut run = || -> anyhow::Result<()> {
                let t = TensorRef::from_array_view(([batch, 1, size, size], data.as_slice()))?;
                let out = session.run(ort::inputs![INPUT_NAME => t])?;
                let _ = out[OUTPUT_NAME].try_extract_tensor::<f32>()?;
                Ok(())
            };
            for _ in 0..20 {
                run()?;
            }
            let start = Instant::now();
            let mut runs = 0usize;
            while start.elapsed() < Duration::from_secs_f64(seconds) {
                run()?;
                runs += 1;
            }
            let secs = start.elapsed().as_secs_f64();
            let fps = (runs * batch) as f64 / secs;
            println!(
                "{:>4}px {:>6} {:>12.0} {:>10.3} {:>13.1}x",
                size,
                batch,
                fps,
                secs * 1e3 / runs as f64,
                fps / 290.0
            );
            rows.push((size, batch, fps));
        }
    }
    if let (Some(b1), Some(b16)) = (
        rows.iter().find(|r| r.0 == 32 && r.1 == 1),
        rows.iter().find(|r| r.0 == 32 && r.1 == 16),
    ) {
        println!(
            "batch-16 / batch-1 throughput ratio at 32px: {:.2}",
            b16.2 / b1.2
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn command_line_is_consistent() {
        <super::Args as clap::CommandFactory>::command().debug_assert();
    }
}
