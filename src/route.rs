//! Resolution routing (seed paper 001): each face goes to the classifier trained for
//! its resolution. Faces of a frame are grouped by classifier (assign), each group
//! runs as one batch, and results return in the original order (gather).
//!
//! Models come from the manifest by role: one `classifier` (used when routing is
//! off), `expert`s with the native crop-size bin `face_px` = [min, max) they serve,
//! and for learned routing one `resolution_recogniser` whose K outputs are the
//! experts in ascending `face_px` order.

use anyhow::bail;
use image::GrayImage;

use crate::classify::{EmotionClassifier, FaceModel};
use crate::config::{ClassifierConfig, Routing};
use crate::face::NUM_EMOTIONS;
use crate::models::{Manifest, ModelStore};

pub struct Router {
    mode: Routing,
    /// Index 0: the general classifier; then experts by ascending face size.
    models: Vec<EmotionClassifier>,
    /// face_px bins of models[1..].
    bins: Vec<[f32; 2]>,
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

impl Router {
    pub fn new(store: &ModelStore, cfg: &ClassifierConfig) -> anyhow::Result<Self> {
        let manifest = store.manifest();
        let models_dir = store.dir();
        let general = by_role(manifest, "classifier");
        let [(general, _)] = general.as_slice() else {
            bail!(
                "{}/manifest.json must list exactly one model with role \"classifier\", found {}",
                models_dir.display(),
                general.len()
            );
        };
        let mut models = vec![EmotionClassifier::new(store, general, cfg)?];
        let mut bins = Vec::new();
        let mut rrn = None;
        if cfg.routing != Routing::Off {
            let experts = by_role(manifest, "expert");
            if experts.is_empty() {
                bail!(
                    "parameter 'classifier.routing' = {:?} needs expert models (role \"expert\" with face_px) \
                     in {}/manifest.json; none are installed",
                    cfg.routing,
                    models_dir.display()
                );
            }
            for (name, bin) in &experts {
                models.push(EmotionClassifier::new(store, name, cfg)?);
                bins.push(*bin);
            }
            if cfg.routing == Routing::Learned {
                let rrns = by_role(manifest, "resolution_recogniser");
                let [(name, _)] = rrns.as_slice() else {
                    bail!(
                        "parameter 'classifier.routing' = learned needs exactly one model with role \
                         \"resolution_recogniser\" in {}/manifest.json, found {}",
                        models_dir.display(),
                        rrns.len()
                    );
                };
                rrn = Some(FaceModel::new(store, name, cfg, experts.len())?);
            }
        }
        Ok(Self {
            mode: cfg.routing,
            models,
            bins,
            rrn,
            group: Vec::new(),
            refs_probs: Vec::new(),
        })
    }

    /// Number of routes (general classifier + experts).
    pub fn routes(&self) -> usize {
        self.models.len()
    }

    /// face_px bin of each expert (route index - 1).
    pub fn expert_bins(&self) -> &[[f32; 2]] {
        &self.bins
    }

    /// Route of a face whose native crop side is `size_px`, by size alone.
    pub fn route_by_size(&self, size_px: f32) -> usize {
        if self.bins.is_empty() {
            return 0;
        }
        // Bins are sorted; faces beyond the last bin go to the last expert.
        1 + self
            .bins
            .iter()
            .position(|b| size_px < b[1])
            .unwrap_or(self.bins.len() - 1)
    }

    pub fn route_name(&self, index: usize) -> &str {
        self.models[index].name()
    }

    /// Execution provider of the general classifier (all models share the setting).
    pub fn provider(&self) -> &str {
        self.models[0].provider()
    }

    /// Assign a route to every crop according to the routing mode.
    pub fn assign(
        &mut self,
        crops: &[GrayImage],
        sizes: &[f32],
        routes: &mut Vec<usize>,
    ) -> anyhow::Result<()> {
        routes.clear();
        match (self.mode, &mut self.rrn) {
            (Routing::Learned, Some(rrn)) => {
                let refs: Vec<&GrayImage> = crops.iter().collect();
                let k = self.bins.len();
                let logits = rrn.logits(&refs)?;
                routes.extend(logits.chunks_exact(k).map(|l| {
                    // Arg-max, as in the paper: the bin the RRN believes the face has.
                    1 + l
                        .iter()
                        .enumerate()
                        .fold(0, |b, (i, &v)| if v > l[b] { i } else { b })
                }));
            }
            (Routing::FaceSize, _) => routes.extend(sizes.iter().map(|&s| self.route_by_size(s))),
            _ => routes.resize(crops.len(), 0),
        }
        Ok(())
    }

    /// Run each route's faces as one batch; `probs[i]` answers `crops[i]`.
    pub fn run_routes(
        &mut self,
        crops: &[GrayImage],
        routes: &[usize],
        probs: &mut Vec<[f32; NUM_EMOTIONS]>,
    ) -> anyhow::Result<()> {
        probs.clear();
        probs.resize(crops.len(), [0.0; NUM_EMOTIONS]);
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
            let refs: Vec<&GrayImage> = self.group.iter().map(|&i| &crops[i]).collect();
            self.models[m].classify(&refs, &mut self.refs_probs)?;
            for (&i, p) in self.group.iter().zip(&self.refs_probs) {
                probs[i] = *p;
            }
        }
        Ok(())
    }

    /// Assign, then run: the whole routing step for one frame.
    pub fn classify(
        &mut self,
        crops: &[GrayImage],
        sizes: &[f32],
        probs: &mut Vec<[f32; NUM_EMOTIONS]>,
        routes: &mut Vec<usize>,
    ) -> anyhow::Result<()> {
        self.assign(crops, sizes, routes)?;
        self.run_routes(crops, routes, probs)
    }
}
