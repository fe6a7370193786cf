//! Resolution routing (seed paper 001): each face goes to the classifier trained for
//! its resolution. Faces of a frame are grouped by classifier (assign), each group
//! runs as one batch, and results return tagged with their face (gather).
//!
//! Two parts:
//! - [`Policy`]: which route a crop takes, a pure function of the crop's native
//!   size or of the resolution recogniser's logits (unit-tested without ONNX);
//! - [`ClassifierBank`]: the sessions, one per route plus the recogniser.
//!
//! Models come from the manifest by role: one `classifier` (route 0, used when
//! routing is off), `expert`s with the native crop-size bin `face_px` = [min, max)
//! they serve (routes 1.. in ascending `face_px` order), and for learned routing
//! one `resolution_recogniser` whose K outputs are the experts in that order.

use anyhow::{bail, Context};
use image::GrayImage;

use crate::classify::{EmotionClassifier, FaceModel};
use crate::face::{argmax, NUM_EMOTIONS};
use crate::models::{Manifest, ModelStore};
use crate::settings::config::{ClassifierConfig, Routing};

/// A face crop, tagged with the index of its face in the frame's results.
#[derive(Debug, Clone)]
pub struct Crop {
    pub face: usize,
    /// Routing signal: the native side of what the classifier will see.
    pub size_px: f32,
    pub image: GrayImage,
}

/// The classification of one crop, tagged with its face.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Classified {
    pub face: usize,
    /// 0: the general classifier; 1..: the experts by ascending face size.
    pub route: usize,
    pub probs: [f32; NUM_EMOTIONS],
}

/// Which route each crop takes.
#[derive(Debug, Clone, PartialEq)]
pub enum Policy {
    /// Every face to the general classifier.
    Off,
    /// By native size: the expert whose `face_px` bin holds it (bins sorted,
    /// faces beyond the last bin go to the last expert).
    FaceSize { bins: Vec<[f32; 2]> },
    /// The resolution recogniser's arg-max over the `experts` expert bins.
    Learned { experts: usize },
}

/// The expert route of a native crop side `size_px` for sorted `bins`.
pub fn route_by_size(bins: &[[f32; 2]], size_px: f32) -> usize {
    if bins.is_empty() {
        return 0;
    }
    1 + bins
        .iter()
        .position(|b| size_px < b[1])
        .unwrap_or(bins.len() - 1)
}

impl Policy {
    /// Routes of `sizes` (native crop sides); for `Learned`, `logits` holds the
    /// recogniser's `experts` logits per crop, in the same order.
    pub fn assign(
        &self,
        sizes: impl ExactSizeIterator<Item = f32>,
        logits: &[f32],
        routes: &mut Vec<usize>,
    ) -> anyhow::Result<()> {
        routes.clear();
        let n = sizes.len();
        match self {
            Policy::Off => routes.resize(n, 0),
            Policy::FaceSize { bins } => routes.extend(sizes.map(|s| route_by_size(bins, s))),
            Policy::Learned { experts } => {
                if *experts == 0 || logits.len() != n * experts {
                    bail!(
                        "resolution recogniser gave {} logits for {n} faces x {experts} experts",
                        logits.len()
                    );
                }
                // Arg-max, as in the paper: the bin the RRN believes the face has.
                routes.extend(logits.chunks_exact(*experts).map(|l| 1 + argmax(l)));
            }
        }
        Ok(())
    }
}

/// The sessions: the general classifier, the experts, the recogniser.
pub struct ClassifierBank {
    /// Index = route.
    models: Vec<EmotionClassifier>,
    rrn: Option<FaceModel>,
    // Per-frame scratch, reused.
    group: Vec<usize>,
    refs_probs: Vec<[f32; NUM_EMOTIONS]>,
}

/// Names of the manifest's models with `role`, sorted by their face_px bin.
fn by_role<'m>(manifest: &'m Manifest, role: &str) -> Vec<(&'m String, [f32; 2])> {
    let mut v: Vec<(&String, [f32; 2])> = manifest
        .models
        .iter()
        .filter(|(_, e)| e.role == role)
        .map(|(name, e)| (name, e.face_px.unwrap_or([0.0, f32::INFINITY])))
        .collect();
    v.sort_by(|a, b| a.1[0].total_cmp(&b.1[0]));
    v
}

impl ClassifierBank {
    /// The sessions `cfg.routing` needs, and the policy that matches them.
    pub fn new(store: &ModelStore, cfg: &ClassifierConfig) -> anyhow::Result<(Self, Policy)> {
        let manifest = store.manifest();
        let models_dir = store.dir();
        let general = manifest
            .classifier()
            .with_context(|| format!("models_dir '{}'", models_dir.display()))?;
        let precision = cfg.precision.as_str();
        let general = manifest.variant(general, precision)?;
        let mut bank = Self {
            models: vec![EmotionClassifier::new(store, general, cfg)?],
            rrn: None,
            group: Vec::new(),
            refs_probs: Vec::new(),
        };
        if cfg.routing == Routing::Off {
            return Ok((bank, Policy::Off));
        }
        let experts = by_role(manifest, "expert");
        if experts.is_empty() {
            bail!(
                "parameter 'classifier.routing' = {:?} needs expert models (role \"expert\" with face_px) \
                 in {}/manifest.json; none are installed",
                cfg.routing,
                models_dir.display()
            );
        }
        for (name, _) in &experts {
            let name = manifest.variant(name, precision)?;
            bank.models.push(EmotionClassifier::new(store, name, cfg)?);
        }
        if cfg.routing == Routing::FaceSize {
            let bins = experts.iter().map(|(_, b)| *b).collect();
            return Ok((bank, Policy::FaceSize { bins }));
        }
        let rrns = by_role(manifest, "resolution_recogniser");
        let [(name, _)] = rrns.as_slice() else {
            bail!(
                "parameter 'classifier.routing' = learned needs exactly one model with role \
                 \"resolution_recogniser\" in {}/manifest.json, found {}",
                models_dir.display(),
                rrns.len()
            );
        };
        bank.rrn = Some(FaceModel::new(store, name, cfg, experts.len())?);
        Ok((
            bank,
            Policy::Learned {
                experts: experts.len(),
            },
        ))
    }

    /// Number of routes (general classifier + experts).
    pub fn routes(&self) -> usize {
        self.models.len()
    }

    /// `classifier.mirror_average` for every emotion model (not the recogniser).
    pub fn set_mirror(&mut self, mirror: bool) {
        for m in &mut self.models {
            m.set_mirror(mirror);
        }
    }

    pub fn route_name(&self, route: usize) -> &str {
        self.models[route].name()
    }

    /// Execution provider of the general classifier (all models share the setting).
    pub fn provider(&self) -> &'static str {
        self.models[0].provider()
    }

    /// The recogniser's logits for `crops` (empty without a recogniser).
    pub fn recogniser_logits(&mut self, crops: &[Crop]) -> anyhow::Result<&[f32]> {
        match &mut self.rrn {
            Some(rrn) if !crops.is_empty() => {
                let refs: Vec<&GrayImage> = crops.iter().map(|c| &c.image).collect();
                rrn.logits(&refs)
            }
            _ => Ok(&[]),
        }
    }

    /// Run each route's crops as one batch; `out[i]` answers `crops[i]`.
    pub fn run(
        &mut self,
        crops: &[Crop],
        routes: &[usize],
        out: &mut Vec<Classified>,
    ) -> anyhow::Result<()> {
        if routes.len() != crops.len() {
            bail!("{} routes for {} crops", routes.len(), crops.len());
        }
        if let Some(&bad) = routes.iter().find(|&&r| r >= self.models.len()) {
            bail!("route {bad} does not exist ({} routes)", self.models.len());
        }
        out.clear();
        out.extend(crops.iter().zip(routes).map(|(c, &route)| Classified {
            face: c.face,
            route,
            probs: [0.0; NUM_EMOTIONS],
        }));
        for m in 0..self.models.len() {
            self.group.clear();
            self.group.extend(
                routes
                    .iter()
                    .enumerate()
                    .filter(|(_, &r)| r == m)
                    .map(|(i, _)| i),
            );
            if self.group.is_empty() {
                continue;
            }
            let refs: Vec<&GrayImage> = self.group.iter().map(|&i| &crops[i].image).collect();
            self.models[m].classify(&refs, &mut self.refs_probs)?;
            for (&i, p) in self.group.iter().zip(&self.refs_probs) {
                out[i].probs = *p;
            }
        }
        Ok(())
    }
}

/// Policy + bank: the whole routing step of a frame.
pub struct Router {
    policy: Policy,
    bank: ClassifierBank,
    routes: Vec<usize>,
}

impl Router {
    pub fn new(store: &ModelStore, cfg: &ClassifierConfig) -> anyhow::Result<Self> {
        let (bank, policy) = ClassifierBank::new(store, cfg)?;
        Ok(Self {
            policy,
            bank,
            routes: Vec::new(),
        })
    }

    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// Number of routes (general classifier + experts).
    pub fn routes(&self) -> usize {
        self.bank.routes()
    }

    /// See [`ClassifierBank::set_mirror`].
    pub fn set_mirror(&mut self, mirror: bool) {
        self.bank.set_mirror(mirror);
    }

    pub fn route_name(&self, route: usize) -> &str {
        self.bank.route_name(route)
    }

    pub fn provider(&self) -> &'static str {
        self.bank.provider()
    }

    /// Assign a route to every crop according to the policy.
    pub fn assign(&mut self, crops: &[Crop], routes: &mut Vec<usize>) -> anyhow::Result<()> {
        let logits = match self.policy {
            Policy::Learned { .. } => self.bank.recogniser_logits(crops)?,
            _ => &[],
        };
        self.policy
            .assign(crops.iter().map(|c| c.size_px), logits, routes)
    }

    /// Run every crop through the route given for it.
    pub fn run_routes(
        &mut self,
        crops: &[Crop],
        routes: &[usize],
        out: &mut Vec<Classified>,
    ) -> anyhow::Result<()> {
        self.bank.run(crops, routes, out)
    }

    /// Assign, then run: `out[i]` answers `crops[i]`, tagged with its face.
    pub fn classify(&mut self, crops: &[Crop], out: &mut Vec<Classified>) -> anyhow::Result<()> {
        let mut routes = std::mem::take(&mut self.routes);
        let result = self
            .assign(crops, &mut routes)
            .and_then(|()| self.bank.run(crops, &routes, out));
        self.routes = routes;
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BINS: [[f32; 2]; 3] = [[5.0, 9.0], [9.0, 18.0], [18.0, f32::INFINITY]];

    #[test]
    fn face_size_picks_the_bin_and_clamps_to_the_last_expert() {
        let p = Policy::FaceSize {
            bins: BINS.to_vec(),
        };
        let mut r = Vec::new();
        p.assign(
            [2.0, 5.0, 8.9, 9.0, 17.9, 18.0, 400.0].into_iter(),
            &[],
            &mut r,
        )
        .unwrap();
        assert_eq!(r, [1, 1, 1, 2, 2, 3, 3]);
        // Bins ending before the largest faces: the last expert takes them.
        assert_eq!(route_by_size(&[[5.0, 9.0], [9.0, 18.0]], 50.0), 2);
        assert_eq!(route_by_size(&[], 50.0), 0);
    }

    #[test]
    fn off_sends_everything_to_the_general_classifier() {
        let mut r = vec![7];
        Policy::Off
            .assign([3.0, 30.0].into_iter(), &[], &mut r)
            .unwrap();
        assert_eq!(r, [0, 0]);
    }

    #[test]
    fn learned_takes_the_first_arg_max_per_face() {
        let p = Policy::Learned { experts: 3 };
        let logits = [
            0.1, 2.0, -1.0, /* tie: first */ 1.0, 1.0, 0.0, -3.0, -2.0, -1.0,
        ];
        let mut r = Vec::new();
        p.assign([10.0, 10.0, 10.0].into_iter(), &logits, &mut r)
            .unwrap();
        assert_eq!(r, [2, 1, 3]);
        // The recogniser's output must cover every face.
        assert!(p.assign([10.0, 10.0].into_iter(), &logits, &mut r).is_err());
        assert!(Policy::Learned { experts: 0 }
            .assign(std::iter::empty(), &[], &mut r)
            .is_err());
    }
}
