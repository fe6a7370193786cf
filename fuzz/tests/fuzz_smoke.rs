//! Bounded deterministic smoke of every fuzz target (fuzz/src/lib.rs): the seed
//! corpus in fuzz/seeds/<target>/ (real frames and bags, scripts/make_fuzz_seeds.py)
//! plus `LOWRES_FER_FUZZ_ITERS` (default 2000) seeded mutations per target
//! (bit flips, byte overwrites with boundary values, truncation, insertion,
//! duplication, splicing of two seeds). Every input must return without a
//! panic and within `LOWRES_FER_FUZZ_MAX_MS` (default 2000 ms). A failing
//! input is written to target/fuzz_smoke_failures/ for replay.
//!
//! The coverage-guided runs of the same targets are scripts/fuzz.sh (libFuzzer).

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use lowres_fer_fuzz::TARGETS;

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        // xorshift64*
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }
}

const INTERESTING: [u8; 8] = [0x00, 0x01, 0x7F, 0x80, 0xFE, 0xFF, 0xD9, 0xDA];

fn mutate(rng: &mut Rng, seeds: &[Vec<u8>], input: &mut Vec<u8>) {
    let rounds = 1 + rng.below(4);
    for _ in 0..rounds {
        let len = input.len();
        match rng.below(7) {
            0 if len > 0 => {
                let i = rng.below(len);
                input[i] ^= 1 << rng.below(8);
            }
            1 if len > 0 => {
                let i = rng.below(len);
                input[i] = INTERESTING[rng.below(INTERESTING.len())];
            }
            2 => input.truncate(rng.below(len + 1)),
            3 => {
                let at = rng.below(len + 1);
                let n = 1 + rng.below(16);
                let bytes: Vec<u8> = (0..n).map(|_| rng.next() as u8).collect();
                input.splice(at..at, bytes);
            }
            4 if len > 0 => {
                let a = rng.below(len);
                let b = (a + 1 + rng.below(64)).min(len);
                let chunk = input[a..b].to_vec();
                let at = rng.below(len + 1);
                input.splice(at..at, chunk);
            }
            5 => {
                let other = &seeds[rng.below(seeds.len())];
                let cut = rng.below(input.len() + 1);
                let from = rng.below(other.len() + 1);
                input.truncate(cut);
                input.extend_from_slice(&other[from..]);
            }
            _ if len >= 4 => {
                // A 32-bit little- or big-endian length/size field set to a boundary.
                let i = rng.below(len - 3);
                let v: u32 = [0, 1, 0x7FFF_FFFF, 0xFFFF_FFFF, 0x4000][rng.below(5)];
                let b = if rng.below(2) == 0 {
                    v.to_le_bytes()
                } else {
                    v.to_be_bytes()
                };
                input[i..i + 4].copy_from_slice(&b);
            }
            _ => input.push(rng.next() as u8),
        }
    }
}

fn seeds(target: &str) -> Vec<Vec<u8>> {
    let dir = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
        .join("fuzz/seeds")
        .join(target);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("seed corpus {} missing: {e}", dir.display()))
        .map(|e| e.expect("seed entry").path())
        .collect();
    files.sort();
    let seeds: Vec<Vec<u8>> = files
        .iter()
        .map(|f| std::fs::read(f).expect("seed"))
        .collect();
    assert!(!seeds.is_empty(), "no seeds in {}", dir.display());
    seeds
}

fn save_failure(target: &str, n: u64, input: &[u8]) -> PathBuf {
    let dir = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
        .join("target/fuzz_smoke_failures");
    let _ = std::fs::create_dir_all(&dir);
    let path = dir.join(format!("{target}-{n}"));
    let _ = std::fs::write(&path, input);
    path
}

#[test]
fn every_fuzz_target_survives_seeds_and_mutations() {
    let iters = env_u64("LOWRES_FER_FUZZ_ITERS", 2000);
    let max = Duration::from_millis(env_u64("LOWRES_FER_FUZZ_MAX_MS", 2000));
    let only = std::env::var("LOWRES_FER_FUZZ_TARGET").ok();
    // Panics are failures to report with their input, not noise on stderr.
    std::panic::set_hook(Box::new(|_| {}));
    let mut failures = Vec::new();
    for (name, target) in TARGETS {
        if only.as_deref().is_some_and(|o| o != *name) {
            continue;
        }
        let seeds = seeds(name);
        let mut rng = Rng(0x9E37_79B9_7F4A_7C15 ^ (name.len() as u64 * 7919));
        let start = Instant::now();
        let mut slowest = Duration::ZERO;
        let total = seeds.len() as u64 + iters;
        for n in 0..total {
            let input = if (n as usize) < seeds.len() {
                seeds[n as usize].clone()
            } else {
                let mut x = seeds[rng.below(seeds.len())].clone();
                mutate(&mut rng, &seeds, &mut x);
                x
            };
            let t = Instant::now();
            let outcome = catch_unwind(AssertUnwindSafe(|| target(&input)));
            let took = t.elapsed();
            slowest = slowest.max(took);
            if let Err(p) = outcome {
                let msg = p
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_default();
                let path = save_failure(name, n, &input);
                failures.push(format!("{name}: panic '{msg}' on {}", path.display()));
            } else if took > max {
                let path = save_failure(name, n, &input);
                failures.push(format!("{name}: {took:?} on {}", path.display()));
            }
        }
        eprintln!(
            "fuzz smoke {name}: {total} inputs in {:.2} s, slowest {:.1} ms",
            start.elapsed().as_secs_f64(),
            slowest.as_secs_f64() * 1e3
        );
    }
    let _ = std::panic::take_hook();
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// `LOWRES_FER_FUZZ_REPLAY=<target>:<file> cargo test --test fuzz_smoke replay -- --nocapture`
/// runs one saved input through one target, uncaught (backtrace and all).
#[test]
fn replay() {
    let Ok(spec) = std::env::var("LOWRES_FER_FUZZ_REPLAY") else {
        return;
    };
    let (name, file) = spec.split_once(':').expect("<target>:<file>");
    let (_, target) = TARGETS
        .iter()
        .find(|(n, _)| *n == name)
        .expect("known target");
    let input = std::fs::read(file).expect("input file");
    let t = Instant::now();
    target(&input);
    eprintln!("replay {name} {file}: {:?}", t.elapsed());
}
