//! FER+ test data and the paper's evaluation protocol (../shared/data/README.md),
//! on the same Rust inference path the node uses.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context};
use image::GrayImage;
use serde::Serialize;

use crate::degrade::{self, Degrader};
use lowres_fer::classify::EmotionClassifier;
use lowres_fer::face::{EMOTIONS, NUM_EMOTIONS};

pub const RESOLUTIONS: [u32; 7] = [48, 32, 20, 15, 10, 8, 5];
pub const TEST_DIR: &str = "FER2013Test";

/// How a vote row becomes a label.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LabelRule {
    /// FER+ authors' rule (primary): votes of 1 dropped, arg-max with > half the votes.
    Majority,
    /// First arg-max among emotions; dropped only when unknown/NF out-vote every emotion.
    Plurality,
}

impl LabelRule {
    pub fn label(self, votes: &[u32; 10]) -> Option<usize> {
        match self {
            LabelRule::Majority => {
                let v: Vec<u32> = votes.iter().map(|&c| if c == 1 { 0 } else { c }).collect();
                let total: u32 = v.iter().sum();
                let (arg, &top) =
                    v.iter()
                        .enumerate()
                        .fold((0, &v[0]), |b, (i, c)| if *c > *b.1 { (i, c) } else { b });
                (total > 0 && top * 2 > total && arg < NUM_EMOTIONS).then_some(arg)
            }
            LabelRule::Plurality => {
                let emo = &votes[..NUM_EMOTIONS];
                let (arg, &best) =
                    emo.iter()
                        .enumerate()
                        .fold((0, &emo[0]), |b, (i, c)| if *c > *b.1 { (i, c) } else { b });
                let other = votes[NUM_EMOTIONS..].iter().copied().max().unwrap_or(0);
                (other <= best).then_some(arg)
            }
        }
    }
}

/// One FER+ image: 48x48 grayscale and its 10 vote counts.
pub struct Sample {
    pub name: String,
    pub image: GrayImage,
    pub votes: [u32; 10],
}

/// Parse one `label.csv` row: name, "(x, y, w, h)", then 10 vote counts.
pub fn parse_label_row(line: &str) -> anyhow::Result<(String, [u32; 10])> {
    let name = line.split(',').next().unwrap_or("").trim().to_string();
    let fields: Vec<&str> = line.rsplitn(11, ',').collect();
    if name.is_empty() || fields.len() < 11 {
        bail!("malformed label.csv row: {line:?}");
    }
    let mut votes = [0u32; 10];
    for (i, f) in fields[..10].iter().rev().enumerate() {
        votes[i] = f
            .trim()
            .parse()
            .with_context(|| format!("bad vote count {f:?} in row {line:?}"))?;
    }
    Ok((name, votes))
}

/// The extracted dataset root for `data` (a directory, or the tarball, which is
/// extracted once into `cache`).
pub fn dataset_root(data: &Path, cache: &Path) -> anyhow::Result<PathBuf> {
    if data.is_dir() {
        return Ok(data.to_path_buf());
    }
    if !data.is_file() {
        bail!(
            "FER+ data not found at {} (expected ferplus.tar.gz or its extracted directory)",
            data.display()
        );
    }
    let root = cache.join("ferplus");
    if !root.join(".extracted").exists() {
        std::fs::create_dir_all(&root)?;
        let status = Command::new("tar")
            .arg("xzf")
            .arg(data)
            .arg("-C")
            .arg(&root)
            .status()
            .context("cannot run tar to extract FER+")?;
        if !status.success() {
            bail!("extracting {} failed", data.display());
        }
        std::fs::write(root.join(".extracted"), data.display().to_string())?;
    }
    Ok(root)
}

/// Default cache directory: $LOWRES_FER_CACHE, else ~/.cache/lowres_fer.
pub fn default_cache() -> PathBuf {
    std::env::var_os("LOWRES_FER_CACHE")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(std::env::var_os("HOME").unwrap_or_default()).join(".cache/lowres_fer")
        })
}

pub fn load_split(root: &Path, split_dir: &str) -> anyhow::Result<Vec<Sample>> {
    let dir = root.join(split_dir);
    let csv = std::fs::read_to_string(dir.join("label.csv"))
        .with_context(|| format!("cannot read {}", dir.join("label.csv").display()))?;
    let mut out = Vec::new();
    for line in csv.lines().filter(|l| !l.trim().is_empty()) {
        let (name, votes) = parse_label_row(line)?;
        let image = image::open(dir.join(&name))
            .with_context(|| format!("cannot read FER+ image {name}"))?
            .to_luma8();
        if image.dimensions() != (48, 48) {
            bail!(
                "FER+ image {name} is {:?}, expected 48x48",
                image.dimensions()
            );
        }
        out.push(Sample { name, image, votes });
    }
    Ok(out)
}

/// Accuracy figures at one resolution under one label rule.
#[derive(Debug, Clone, Serialize)]
pub struct Scores {
    pub resolution: u32,
    pub rule: LabelRule,
    pub images: usize,
    pub accuracy: f64,
    pub mean_class_accuracy: f64,
    /// Recall per class in FER+ order (NaN-free: classes without images get 0).
    pub class_recall: [f64; NUM_EMOTIONS],
    pub class_count: [usize; NUM_EMOTIONS],
    /// confusion[true][predicted]
    pub confusion: [[usize; NUM_EMOTIONS]; NUM_EMOTIONS],
}

pub fn score(
    resolution: u32,
    rule: LabelRule,
    labels: &[Option<usize>],
    preds: &[usize],
) -> Scores {
    let mut confusion = [[0usize; NUM_EMOTIONS]; NUM_EMOTIONS];
    for (l, &p) in labels.iter().zip(preds) {
        if let Some(l) = l {
            confusion[*l][p] += 1;
        }
    }
    let mut class_count = [0usize; NUM_EMOTIONS];
    let mut class_recall = [0f64; NUM_EMOTIONS];
    let (mut correct, mut total) = (0usize, 0usize);
    for c in 0..NUM_EMOTIONS {
        class_count[c] = confusion[c].iter().sum();
        correct += confusion[c][c];
        total += class_count[c];
        if class_count[c] > 0 {
            class_recall[c] = confusion[c][c] as f64 / class_count[c] as f64;
        }
    }
    let present = class_count.iter().filter(|&&n| n > 0).count().max(1);
    Scores {
        resolution,
        rule,
        images: total,
        accuracy: correct as f64 / total.max(1) as f64,
        mean_class_accuracy: class_recall.iter().sum::<f64>() / present as f64,
        class_recall,
        class_count,
        confusion,
    }
}

/// Predicted class of every sample at `resolution`, in batches on `classifier`.
pub fn predict(
    classifier: &mut EmotionClassifier,
    samples: &[Sample],
    resolution: u32,
    batch: usize,
) -> anyhow::Result<Vec<usize>> {
    let probs = predict_probs(
        classifier,
        samples,
        resolution,
        &degrade::CLEAN,
        &mut Degrader::new(0),
        batch,
    )?;
    Ok(probs.iter().map(argmax).collect())
}

/// Class probabilities of every sample at `resolution` under the camera degradation
/// `spec` (crates/lowres_fer_lab/src/degrade.rs; `degrade::CLEAN` is the paper's protocol).
pub fn predict_probs(
    classifier: &mut EmotionClassifier,
    samples: &[Sample],
    resolution: u32,
    spec: &degrade::Spec,
    degrader: &mut Degrader,
    batch: usize,
) -> anyhow::Result<Vec<[f32; NUM_EMOTIONS]>> {
    let s = classifier.input_size();
    let mut input = Vec::with_capacity(batch * (s * s) as usize);
    let mut probs = Vec::with_capacity(batch);
    let mut out = Vec::with_capacity(samples.len());
    for chunk in samples.chunks(batch.max(1)) {
        input.clear();
        for sample in chunk {
            let face = degrader.apply(&sample.image, resolution, s, spec);
            input.extend(face.as_raw().iter().map(|&v| v as f32 / 255.0));
        }
        classifier.classify_prepared(&input, &mut probs)?;
        out.extend_from_slice(&probs);
    }
    Ok(out)
}

/// Expected calibration error of the top-class confidence: samples binned by
/// confidence into `bins` equal-width bins, |accuracy - mean confidence| weighted by
/// the bin's share. Samples without a label are left out.
pub fn expected_calibration_error(
    labels: &[Option<usize>],
    probs: &[[f32; NUM_EMOTIONS]],
    bins: usize,
) -> f64 {
    let bins = bins.max(1);
    let mut count = vec![0usize; bins];
    let mut conf = vec![0f64; bins];
    let mut hit = vec![0f64; bins];
    for (l, p) in labels.iter().zip(probs) {
        let Some(l) = l else { continue };
        let top = argmax(p);
        let c = p[top] as f64;
        let b = ((c * bins as f64) as usize).min(bins - 1);
        count[b] += 1;
        conf[b] += c;
        hit[b] += (top == *l) as u8 as f64;
    }
    let total: usize = count.iter().sum();
    (0..bins)
        .filter(|&b| count[b] > 0)
        .map(|b| (hit[b] - conf[b]).abs() / total as f64)
        .sum()
}

/// Predicted class of a probability vector ([`lowres_fer::face::argmax`]).
pub fn argmax(p: &[f32; NUM_EMOTIONS]) -> usize {
    lowres_fer::face::argmax(p)
}

/// Human-readable table row set for one resolution.
pub fn format_scores(s: &Scores) -> String {
    let recalls: Vec<String> = EMOTIONS
        .iter()
        .zip(s.class_recall)
        .map(|(n, r)| format!("{}={:.1}", &n[..4.min(n.len())], r * 100.0))
        .collect();
    format!(
        "R={:>2} {:<9} n={:>4}  acc={:6.2}%  mean-class={:6.2}%  recall: {}",
        s.resolution,
        format!("{:?}", s.rule).to_lowercase(),
        s.images,
        s.accuracy * 100.0,
        s.mean_class_accuracy * 100.0,
        recalls.join(" ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_rules_follow_the_protocol() {
        // neutral 4, sadness 1, anger 3, disgust 2: votes of 1 dropped -> 4 of 9, not > half.
        let v = [4, 0, 0, 1, 3, 2, 0, 0, 0, 0];
        assert_eq!(LabelRule::Majority.label(&v), None);
        assert_eq!(LabelRule::Plurality.label(&v), Some(0));
        // neutral 6, surprise 1, sadness 1, unknown 2 -> 6 of 8 (ones dropped).
        let v = [6, 0, 1, 1, 0, 0, 0, 0, 2, 0];
        assert_eq!(LabelRule::Majority.label(&v), Some(0));
        // Not a face wins: dropped by both rules.
        let v = [2, 0, 0, 0, 0, 0, 0, 0, 0, 8];
        assert_eq!(LabelRule::Majority.label(&v), None);
        assert_eq!(LabelRule::Plurality.label(&v), None);
    }

    #[test]
    fn parses_label_rows_with_quoted_box() {
        let (name, votes) =
            parse_label_row(r#"fer0000000.png,"(0, 0, 48, 48)",4,0,0,1,3,2,0,0,0,0"#).unwrap();
        assert_eq!(name, "fer0000000.png");
        assert_eq!(votes, [4, 0, 0, 1, 3, 2, 0, 0, 0, 0]);
        assert!(parse_label_row("garbage").is_err());
    }

    #[test]
    fn calibration_error_of_perfect_and_overconfident_models() {
        let labels = [Some(0), Some(1), Some(1), None];
        let mut sure = [[0f32; NUM_EMOTIONS]; 4];
        sure[0][0] = 1.0;
        sure[1][1] = 1.0;
        sure[2][1] = 1.0;
        sure[3][5] = 1.0;
        assert!(expected_calibration_error(&labels, &sure, 15) < 1e-9);
        // Always sure of class 0: right once in three -> |1/3 - 1| = 2/3.
        let wrong = [sure[0]; 4];
        let ece = expected_calibration_error(&labels, &wrong, 15);
        assert!((ece - 2.0 / 3.0).abs() < 1e-9, "{ece}");
    }

    #[test]
    fn scores_count_per_class() {
        let labels = [Some(0), Some(0), Some(1), None];
        let preds = [0, 1, 1, 3];
        let s = score(20, LabelRule::Majority, &labels, &preds);
        assert_eq!(s.images, 3);
        assert!((s.accuracy - 2.0 / 3.0).abs() < 1e-9);
        assert!((s.mean_class_accuracy - 0.75).abs() < 1e-9);
    }
}
