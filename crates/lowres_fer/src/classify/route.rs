//! Resolution routing (seed paper 001): each face goes to the classifier trained for
//! its resolution. Faces of a frame are grouped by classifier (assign), each group
//! runs as one batch, and results return tagged with their face (gather).
//!
//! Two parts:
//! - [`Policy`]: which route a crop takes, a pure function of the crop's native
//!   size or of the resolution recogniser's logits (unit-tested without ONNX);
//! - [`ClassifierBank`]: the sessions, one per route plus the recogniser.
//!
//! Models come from the manifest by role: one `classifier` (route 0: every face when
//! routing is off, and the faces no expert serves when it is on), `expert`s with the
//! native crop-size bin `face_px` = [min, max) they serve (routes 1.. in ascending
//! `face_px` order), and for learned routing one `resolution_recogniser` whose outputs
//! are the size bins of its `face_px_bins`. A size bin without an expert is the general
//! classifier's: an expert is installed only where it beats it (models/MODEL_CARD.md).

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
    /// By native size: the expert whose `face_px` bin holds it ([`route_by_size`]).
    FaceSize { bins: Vec<[f32; 2]> },
    /// By the size bin the resolution recogniser believes the face has (the arg-max
    /// of its logits over `recognised`), then as [`Policy::FaceSize`] over `bins`.
    Learned {
        recognised: Vec<[f32; 2]>,
        bins: Vec<[f32; 2]>,
    },
}

/// The route of a native crop side `size_px`, for the experts' sorted `bins`: the
/// expert whose bin holds it; the last expert for faces beyond every bin; else the
/// general classifier (route 0), which serves the sizes no expert was installed for.
pub fn route_by_size(bins: &[[f32; 2]], size_px: f32) -> usize {
    if let Some(i) = bins.iter().position(|b| b[0] <= size_px && size_px < b[1]) {
        return 1 + i;
    }
    match bins.last() {
        Some(last) if size_px >= last[1] => bins.len(),
        _ => 0,
    }
}

impl Policy {
    /// The recognised size bin of each crop: the arg-max of its logits (first on a
    /// tie), `logits` holding `bins` logits per crop for `n` crops.
    pub fn recognised_bins(
        logits: &[f32],
        n: usize,
        bins: usize,
    ) -> anyhow::Result<impl Iterator<Item = usize> + '_> {
        if bins == 0 || logits.len() != n * bins {
            bail!(
                "resolution recogniser gave {} logits for {n} faces x {bins} size bins",
                logits.len()
            );
        }
        Ok(logits.chunks_exact(bins).map(argmax))
    }

    /// Routes of `sizes` (native crop sides); for `Learned`, `logits` holds the
    /// recogniser's logits per crop (one per recognised bin), in the same order.
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
            Policy::Learned { recognised, bins } => {
                // A recognised bin stands for the faces at its lower edge: the sizes the
                // recogniser was trained to tell apart are the face-size router's.
                let edges = Self::recognised_bins(logits, n, recognised.len())?;
                routes.extend(edges.map(|k| route_by_size(bins, recognised[k][0])));
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
        let recognised = match &manifest.entry(name)?.face_px_bins {
            Some(b) if !b.is_empty() => b.clone(),
            _ => bail!(
                "resolution recogniser '{name}' in {}/manifest.json has no face_px_bins \
                 (the size bin of each output; training/export.py writes them)",
                models_dir.display()
            ),
        };
        bank.rrn = Some(FaceModel::new(store, name, cfg, recognised.len())?);
        let bins = experts.iter().map(|(_, b)| *b).collect();
        Ok((bank, Policy::Learned { recognised, bins }))
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

    /// The size bin the resolution recogniser gives each crop, as an index into the
    /// `recognised` bins of [`Policy::Learned`] (for its confusion in routing_bench).
    pub fn recognised_bins(&mut self, crops: &[Crop], out: &mut Vec<usize>) -> anyhow::Result<()> {
        out.clear();
        let Policy::Learned { recognised, .. } = &self.policy else {
            bail!("only learned routing recognises size bins");
        };
        let k = recognised.len();
        let logits = self.bank.recogniser_logits(crops)?;
        out.extend(Policy::recognised_bins(logits, crops.len(), k)?);
        Ok(())
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
        // Below the first bin no expert serves: the general classifier does.
        assert_eq!(r, [0, 1, 1, 2, 2, 3, 3]);
        // Bins ending before the largest faces: the last expert takes them.
        assert_eq!(route_by_size(&[[5.0, 9.0], [9.0, 18.0]], 50.0), 2);
        assert_eq!(route_by_size(&[], 50.0), 0);
    }

    #[test]
    fn sizes_without_an_expert_go_to_the_general_classifier() {
        // One expert for large faces (the routed default): small faces stay on route 0,
        // and so do sizes in a gap between bins.
        let one = [[28.0, 1.0e6]];
        assert_eq!(route_by_size(&one, 27.9), 0);
        assert_eq!(route_by_size(&one, 28.0), 1);
        assert_eq!(route_by_size(&one, 2.0e6), 1);
        let gap = [[5.0, 9.0], [20.0, 30.0]];
        assert_eq!(route_by_size(&gap, 12.0), 0);
        assert_eq!(route_by_size(&gap, 31.0), 2);
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
    fn learned_routes_the_first_arg_max_bin_like_a_face_of_its_size() {
        let p = Policy::Learned {
            recognised: vec![[0.0, 9.0], [9.0, 28.0], [28.0, 1.0e6]],
            bins: vec![[28.0, 1.0e6]],
        };
        let logits = [
            0.1, 2.0, -1.0, /* tie: first */ 1.0, 1.0, 0.0, -3.0, -2.0, -1.0,
        ];
        let mut r = Vec::new();
        // The crop sizes do not matter: the recogniser decides.
        p.assign([10.0, 40.0, 5.0].into_iter(), &logits, &mut r)
            .unwrap();
        assert_eq!(r, [0, 0, 1]);
        // The recogniser's output must cover every face.
        assert!(p.assign([10.0, 10.0].into_iter(), &logits, &mut r).is_err());
        let none = Policy::Learned {
            recognised: vec![],
            bins: vec![],
        };
        assert!(none.assign(std::iter::empty(), &[], &mut r).is_err());
    }
}
