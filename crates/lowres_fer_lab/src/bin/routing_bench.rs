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

use std::path::PathBuf;
use std::time::Instant;

use anyhow::Context;
use image::GrayImage;
use lowres_fer::classify::route::{route_by_size, Crop, Policy, Router};
use lowres_fer::classify::{degrade, EmotionClassifier};
use lowres_fer::imaging::resample::Resizer;
use lowres_fer::models::runtime;
use lowres_fer::models::ModelStore;
use lowres_fer::settings::config::{ClassifierConfig, Routing};
use lowres_fer_lab::ferplus::{self, LabelRule};

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

fn main() -> anyhow::Result<()> {
    let mut models_dir = PathBuf::from("models");
    let mut data = PathBuf::from("../shared/data/ferplus.tar.gz");
    let mut seed = 7u64;
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let v = it.next().with_context(|| format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--models-dir" => models_dir = v.into(),
            "--data" => data = v.into(),
            "--seed" => seed = v.parse().context("--seed")?,
            other => anyhow::bail!("unknown argument {other:?}"),
        }
    }
    let env = runtime::environment(None)?;
    let store = ModelStore::open(&env, &models_dir)?;
    let base = ClassifierConfig {
        threads: 1,
        ..Default::default()
    };
    let mut single_res = EmotionClassifier::new(&store, SINGLE_RES_MODEL, &base)?;
    let mut by_size = Router::new(
        &store,
        &ClassifierConfig {
            routing: Routing::FaceSize,
            ..base.clone()
        },
    )?;
    let mut learned = Router::new(
        &store,
        &ClassifierConfig {
            routing: Routing::Learned,
            ..base.clone()
        },
    )?;

    let root = ferplus::dataset_root(&data, &ferplus::default_cache())?;
    let samples = ferplus::load_split(&root, ferplus::TEST_DIR)?;
    let kept: Vec<(usize, usize)> = samples
        .iter()
        .enumerate()
        .filter_map(|(i, s)| LabelRule::Majority.label(&s.votes).map(|l| (i, l)))
        .collect();
    let mut state = seed;
    let draws: Vec<usize> = kept
        .iter()
        .map(|_| (splitmix(&mut state) % RES.len() as u64) as usize)
        .collect();
    println!(
        "FER+ Test, majority rule: {} images, resolution drawn per image with seed {seed} from {RES:?}",
        kept.len()
    );
    let experts: Vec<String> = (1..by_size.routes())
        .map(|r| by_size.route_name(r).to_string())
        .collect();
    let Policy::FaceSize { bins } = by_size.policy().clone() else {
        anyhow::bail!("face_size routing built another policy");
    };
    println!("experts (ascending face size): {experts:?}, bins {bins:?}");

    let mut resizer = Resizer::new();
    let k = by_size.routes() - 1;
    for variant in ["native", "lying"] {
        let names = [
            "single model, 48 px",
            "single model, all res",
            "routing: face size",
            "routing: learned",
            "routing: oracle",
        ];
        let mut tallies: Vec<Tally> = names.iter().map(|_| Tally::new()).collect();
        let mut confusion = vec![vec![0usize; k]; k];
        let (mut crops, mut labels, mut ris) = (Vec::new(), Vec::new(), Vec::new());
        let (mut probs, mut classified) = (Vec::new(), Vec::new());
        for (chunk_i, chunk) in kept.chunks(256).enumerate() {
            crops.clear();
            labels.clear();
            ris.clear();
            for (j, &(si, label)) in chunk.iter().enumerate() {
                let ri = draws[chunk_i * 256 + j];
                let r = RES[ri];
                let low = degrade(&samples[si].image, r, r, &mut resizer);
                let crop = if variant == "native" {
                    low
                } else {
                    degrade(&low, r, 48, &mut resizer)
                };
                crops.push(Crop {
                    face: j,
                    size_px: crop.width() as f32,
                    image: crop,
                });
                labels.push(label);
                ris.push(ri);
            }
            let refs: Vec<&GrayImage> = crops.iter().map(|c| &c.image).collect();
            let oracle: Vec<usize> = ris
                .iter()
                .map(|&ri| route_by_size(&bins, RES[ri] as f32))
                .collect();
            let record = |t: &mut Tally, probs: &mut dyn Iterator<Item = &[f32; 8]>| {
                for ((p, &l), &ri) in probs.zip(&labels).zip(&ris) {
                    t.add(ri, ferplus::argmax(p) == l);
                }
            };
            single_res.classify(&refs, &mut probs)?;
            record(&mut tallies[0], &mut probs.iter());
            by_size.run_routes(&crops, &vec![0; crops.len()], &mut classified)?;
            record(&mut tallies[1], &mut classified.iter().map(|c| &c.probs));
            by_size.classify(&crops, &mut classified)?;
            record(&mut tallies[2], &mut classified.iter().map(|c| &c.probs));
            learned.classify(&crops, &mut classified)?;
            record(&mut tallies[3], &mut classified.iter().map(|c| &c.probs));
            for (c, &o) in classified.iter().zip(&oracle) {
                confusion[o - 1][c.route - 1] += 1;
            }
            by_size.run_routes(&crops, &oracle, &mut classified)?;
            record(&mut tallies[4], &mut classified.iter().map(|c| &c.probs));
        }
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
        for (t, n) in tallies.iter().zip(names) {
            println!("{}", t.row(n));
        }
        let diag: usize = (0..k).map(|i| confusion[i][i]).sum();
        let total: usize = confusion.iter().flatten().sum();
        println!(
            "RRN bin accuracy {:.2}% (rows: true bin, columns: predicted): {confusion:?}",
            100.0 * diag as f64 / total.max(1) as f64
        );
    }

    // Latency the RRN adds per face: learned routing's assign step, batch 1.
    let face = degrade(&samples[0].image, 10, 10, &mut resizer);
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
