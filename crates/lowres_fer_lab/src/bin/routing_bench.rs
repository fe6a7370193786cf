//! Mixed-resolution benchmark for resolution routing (seed paper 001) on FER+ Test.
//!
//! Each test face is degraded to a resolution drawn with a fixed seed from
//! {48, 32, 20, 15, 10, 8, 5}. Two variants:
//!   native: the classifier gets the RxR crop (the box size tells the resolution);
//!   lying:  the RxR face is upscaled back to 48x48 (the box size says nothing).
//! Strategies: a single model trained at one resolution (48), the single model
//! trained on all resolutions, routing by face size, learned routing (RRN), and
//! oracle routing (the true resolution's expert). Also the RRN's bin confusion
//! and the latency it adds per face (batch 1, 1 thread).
//!
//!     routing_bench [--models-dir models] [--data ../shared/data/ferplus.tar.gz] [--seed 7]

use std::time::Instant;

use clap::Parser;
use image::GrayImage;
use lowres_fer::classify::route::{route_by_size, Crop, Policy, Router};
use lowres_fer::classify::{degrade, EmotionClassifier};
use lowres_fer::imaging::resample::Resizer;
use lowres_fer::models::runtime;
use lowres_fer::models::ModelStore;
use lowres_fer::settings::config::{ClassifierConfig, Routing};
use lowres_fer_lab::cli;
use lowres_fer_lab::ferplus::{self, LabelRule, Sample};

const RES: [u32; 7] = [48, 32, 20, 15, 10, 8, 5];
const SINGLE_RES_MODEL: &str = "efc_r48_s32.onnx";

/// splitmix64: a fixed, dependency-free stream for the resolution draw.
fn splitmix(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

struct Tally {
    correct: [usize; RES.len()],
    total: [usize; RES.len()],
}

impl Tally {
    fn new() -> Self {
        Self {
            correct: [0; RES.len()],
            total: [0; RES.len()],
        }
    }
    fn add(&mut self, ri: usize, ok: bool) {
        self.total[ri] += 1;
        self.correct[ri] += ok as usize;
    }
    fn row(&self, name: &str) -> String {
        let mut s = format!("{name:<22}");
        for ri in 0..RES.len() {
            s += &format!(
                " {:>6.2}",
                100.0 * self.correct[ri] as f64 / self.total[ri].max(1) as f64
            );
        }
        let (c, t): (usize, usize) = (self.correct.iter().sum(), self.total.iter().sum());
        s + &format!(" | {:>6.2}", 100.0 * c as f64 / t.max(1) as f64)
    }
}

/// Mixed-resolution benchmark for resolution routing on FER+ Test.
#[derive(Parser, Debug)]
#[command(name = "routing_bench", args_override_self = true)]
struct Args {
    #[command(flatten)]
    models: cli::ModelsDir,
    #[command(flatten)]
    data: cli::FerplusData,
    /// Seed of the per-image resolution draw
    #[arg(long, value_name = "N", default_value_t = 7)]
    seed: u64,
}

/// The strategies' classifiers, all on one thread.
struct Strategies {
    /// The single model trained at 48 px.
    single_res: EmotionClassifier,
    /// Routing by face size; its routes also give the all-resolution single
    /// model (route 0) and the oracle (the true resolution's expert).
    by_size: Router,
    /// Learned routing (RRN).
    learned: Router,
    /// The face-size bins of `by_size`'s experts.
    bins: Vec<[f32; 2]>,
    /// The size bins the resolution recogniser tells apart.
    recognised: Vec<[f32; 2]>,
}

const STRATEGY_NAMES: [&str; 5] = [
    "single model, 48 px",
    "single model, all res",
    "routing: face size",
    "routing: learned",
    "routing: oracle",
];

fn load_strategies(store: &ModelStore) -> anyhow::Result<Strategies> {
    let base = ClassifierConfig {
        threads: 1,
        ..Default::default()
    };
    let single_res = EmotionClassifier::new(store, SINGLE_RES_MODEL, &base)?;
    let by_size = Router::new(
        store,
        &ClassifierConfig {
            routing: Routing::FaceSize,
            ..base.clone()
        },
    )?;
    let learned = Router::new(
        store,
        &ClassifierConfig {
            routing: Routing::Learned,
            ..base.clone()
        },
    )?;
    let Policy::FaceSize { bins } = by_size.policy().clone() else {
        anyhow::bail!("face_size routing built another policy");
    };
    let Policy::Learned { recognised, .. } = learned.policy().clone() else {
        anyhow::bail!("learned routing built another policy");
    };
    Ok(Strategies {
        single_res,
        by_size,
        learned,
        bins,
        recognised,
    })
}

/// FER+ Test with a majority label: (sample index, label), and the drawn
/// resolution index of each.
struct TestSet {
    samples: Vec<Sample>,
    kept: Vec<(usize, usize)>,
    draws: Vec<usize>,
}

fn load_test_set(args: &Args) -> anyhow::Result<TestSet> {
    let root = ferplus::dataset_root(&args.data.data, &ferplus::default_cache())?;
    let samples = ferplus::load_split(&root, ferplus::TEST_DIR)?;
    let kept: Vec<(usize, usize)> = samples
        .iter()
        .enumerate()
        .filter_map(|(i, s)| LabelRule::Majority.label(&s.votes).map(|l| (i, l)))
        .collect();
    let mut state = args.seed;
    let draws: Vec<usize> = kept
        .iter()
        .map(|_| (splitmix(&mut state) % RES.len() as u64) as usize)
        .collect();
    Ok(TestSet {
        samples,
        kept,
        draws,
    })
}

/// One chunk of test faces at their drawn resolutions.
struct Chunk {
    crops: Vec<Crop>,
    labels: Vec<usize>,
    ris: Vec<usize>,
}

impl Chunk {
    /// Chunk `chunk_i` of `kept`: each face degraded to its drawn resolution,
    /// then (`lying`) upscaled back to 48x48.
    fn build(
        test: &TestSet,
        chunk_i: usize,
        chunk: &[(usize, usize)],
        lying: bool,
        resizer: &mut Resizer,
    ) -> Chunk {
        let mut c = Chunk {
            crops: Vec::with_capacity(chunk.len()),
            labels: Vec::with_capacity(chunk.len()),
            ris: Vec::with_capacity(chunk.len()),
        };
        for (j, &(si, label)) in chunk.iter().enumerate() {
            let ri = test.draws[chunk_i * 256 + j];
            let r = RES[ri];
            let low = degrade(&test.samples[si].image, r, r, resizer);
            let crop = if lying {
                degrade(&low, r, 48, resizer)
            } else {
                low
            };
            c.crops.push(Crop {
                face: j,
                size_px: crop.width() as f32,
                image: crop,
            });
            c.labels.push(label);
            c.ris.push(ri);
        }
        c
    }

    fn record(&self, t: &mut Tally, probs: &mut dyn Iterator<Item = &[f32; 8]>) {
        for ((p, &l), &ri) in probs.zip(&self.labels).zip(&self.ris) {
            t.add(ri, ferplus::argmax(p) == l);
        }
    }
}

/// Every strategy on one variant ("native" or "lying"): the accuracy table and
/// the RRN's bin confusion.
fn run_variant(
    variant: &str,
    s: &mut Strategies,
    test: &TestSet,
    resizer: &mut Resizer,
) -> anyhow::Result<()> {
    let k = s.recognised.len();
    let mut tallies: Vec<Tally> = STRATEGY_NAMES.iter().map(|_| Tally::new()).collect();
    let mut confusion = vec![vec![0usize; k]; k];
    let (mut probs, mut classified, mut recognised) = (Vec::new(), Vec::new(), Vec::new());
    for (chunk_i, chunk) in test.kept.chunks(256).enumerate() {
        let c = Chunk::build(test, chunk_i, chunk, variant != "native", resizer);
        let refs: Vec<&GrayImage> = c.crops.iter().map(|c| &c.image).collect();
        let oracle: Vec<usize> = c
            .ris
            .iter()
            .map(|&ri| route_by_size(&s.bins, RES[ri] as f32))
            .collect();
        s.single_res.classify(&refs, &mut probs)?;
        c.record(&mut tallies[0], &mut probs.iter());
        s.by_size
            .run_routes(&c.crops, &vec![0; c.crops.len()], &mut classified)?;
        c.record(&mut tallies[1], &mut classified.iter().map(|c| &c.probs));
        s.by_size.classify(&c.crops, &mut classified)?;
        c.record(&mut tallies[2], &mut classified.iter().map(|c| &c.probs));
        s.learned.classify(&c.crops, &mut classified)?;
        c.record(&mut tallies[3], &mut classified.iter().map(|c| &c.probs));
        s.learned.recognised_bins(&c.crops, &mut recognised)?;
        for (&ri, &predicted) in c.ris.iter().zip(&recognised) {
            // The recogniser's bins start at 0 px: route_by_size gives 1 + the bin holding R.
            let truth = route_by_size(&s.recognised, RES[ri] as f32).max(1) - 1;
            confusion[truth][predicted] += 1;
        }
        s.by_size.run_routes(&c.crops, &oracle, &mut classified)?;
        c.record(&mut tallies[4], &mut classified.iter().map(|c| &c.probs));
    }
    print_variant(variant, &tallies, &confusion);
    Ok(())
}

fn print_variant(variant: &str, tallies: &[Tally], confusion: &[Vec<usize>]) {
    println!("\nvariant: {variant} — accuracy (%) per drawn resolution, then overall");
    let header: Vec<String> = RES.iter().map(|r| format!("{r:>5}px")).collect();
    println!("{:<22} {} | overall", "strategy", header.join(""));
    println!(
        "{:<22} {}",
        "images",
        tallies[0]
            .total
            .iter()
            .map(|n| format!(" {n:>6}"))
            .collect::<String>()
    );
    for (t, n) in tallies.iter().zip(STRATEGY_NAMES) {
        println!("{}", t.row(n));
    }
    let diag: usize = (0..confusion.len()).map(|i| confusion[i][i]).sum();
    let total: usize = confusion.iter().flatten().sum();
    println!(
        "RRN size-bin accuracy {:.2}% (rows: true bin, columns: recognised): {confusion:?}",
        100.0 * diag as f64 / total.max(1) as f64
    );
}

/// Latency the RRN adds per face: learned routing's assign step, batch 1.
fn rrn_latency(learned: &mut Router, sample: &Sample, resizer: &mut Resizer) -> anyhow::Result<()> {
    let face = degrade(&sample.image, 10, 10, resizer);
    let one = [Crop {
        face: 0,
        size_px: 10.0,
        image: face,
    }];
    let mut routes = Vec::new();
    for _ in 0..50 {
        learned.assign(&one, &mut routes)?;
    }
    let n = 2000;
    let t = Instant::now();
    for _ in 0..n {
        learned.assign(&one, &mut routes)?;
    }
    println!(
        "\nRRN latency per face (batch 1, 1 thread): {:.3} ms",
        t.elapsed().as_secs_f64() * 1e3 / n as f64
    );
    Ok(())
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let env = runtime::environment(None)?;
    let store = ModelStore::open(&env, &args.models.models_dir)?;
    let mut s = load_strategies(&store)?;
    let test = load_test_set(&args)?;
    println!(
        "FER+ Test, majority rule: {} images, resolution drawn per image with seed {} from {RES:?}",
        test.kept.len(),
        args.seed
    );
    let experts: Vec<String> = (1..s.by_size.routes())
        .map(|r| s.by_size.route_name(r).to_string())
        .collect();
    println!(
        "experts (ascending face size): {experts:?}, bins {:?}; other sizes: {}; \
         recogniser's size bins {:?}",
        s.bins,
        s.by_size.route_name(0),
        s.recognised
    );

    let mut resizer = Resizer::new();
    for variant in ["native", "lying"] {
        run_variant(variant, &mut s, &test, &mut resizer)?;
    }
    rrn_latency(&mut s.learned, &test.samples[0], &mut resizer)
}

#[cfg(test)]
mod tests {
    #[test]
    fn command_line_is_consistent() {
        <super::Args as clap::CommandFactory>::command().debug_assert();
    }
}
