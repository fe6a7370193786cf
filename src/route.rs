//! Resolution routing (seed paper 001): each face goes to the classifier trained for
//! its resolution. Faces of a frame are grouped by classifier (assign), each group
//! runs as one batch, and results return in the original order (gather).
//!
//! Models come from the manifest by role: one `classifier` (used when routing is
//! off), `expert`s with the native face-size bin `face_px` = [min, max) they serve.

use std::path::Path;

use anyhow::bail;
use image::GrayImage;
use ort::environment::Environment;

use crate::classify::EmotionClassifier;
use crate::config::{ClassifierConfig, Routing};
use crate::face::NUM_EMOTIONS;
use crate::models::Manifest;

pub struct Router {
    mode: Routing,
    /// Index 0: the general classifier; then experts by ascending face size.
    models: Vec<EmotionClassifier>,
    /// face_px bins of models[1..].
    bins: Vec<[f32; 2]>,
    // Per-frame scratch, reused.
    group: Vec<usize>,
    probs: Vec<[f32; NUM_EMOTIONS]>,
}

impl Router {
    pub fn new(
        env: &Environment,
        models_dir: &Path,
        manifest: &Manifest,
        cfg: &ClassifierConfig,
    ) -> anyhow::Result<Self> {
        let general: Vec<&String> = manifest
            .models
            .iter()
            .filter(|(_, e)| e.role == "classifier")
            .map(|(name, _)| name)
            .collect();
        let [general] = general.as_slice() else {
            bail!("models/manifest.json must list exactly one model with role \"classifier\", found {general:?}");
        };
        let mut models = vec![EmotionClassifier::new(
            env, models_dir, manifest, general, cfg,
        )?];
        let mut bins = Vec::new();
        match cfg.routing {
            Routing::Off => {}
            Routing::FaceSize => {
                let mut experts: Vec<(&String, [f32; 2])> = manifest
                    .models
                    .iter()
                    .filter(|(_, e)| e.role == "expert")
                    .filter_map(|(name, e)| e.face_px.map(|b| (name, b)))
                    .collect();
                if experts.is_empty() {
                    bail!(
                        "parameter 'classifier.routing' = face_size needs expert models (role \"expert\" with \
                         face_px) in {}/manifest.json; none are installed",
                        models_dir.display()
                    );
                }
                experts.sort_by(|a, b| a.1[0].total_cmp(&b.1[0]));
                for (name, bin) in experts {
                    models.push(EmotionClassifier::new(env, models_dir, manifest, name, cfg)?);
                    bins.push(bin);
                }
            }
            Routing::Learned => bail!(
                "parameter 'classifier.routing' = learned needs a resolution recogniser model, which this \
                 release does not ship yet; use off or face_size"
            ),
        }
        Ok(Self {
            mode: cfg.routing,
            models,
            bins,
            group: Vec::new(),
            probs: Vec::new(),
        })
    }

    /// Which model serves a face of native size `size_px` (index into the route names).
    pub fn assign(&self, size_px: f32) -> usize {
        match self.mode {
            Routing::Off | Routing::Learned => 0,
            Routing::FaceSize => {
                // Bins are sorted; faces outside every bin go to the nearest one.
                let pos = self
                    .bins
                    .iter()
                    .position(|b| size_px < b[1])
                    .unwrap_or(self.bins.len() - 1);
                pos + 1
            }
        }
    }

    pub fn route_name(&self, index: usize) -> &str {
        self.models[index].name()
    }

    /// Execution provider of the general classifier (all models share the setting).
    pub fn provider(&self) -> &str {
        self.models[0].provider()
    }

    /// Classify `crops` (native-resolution, grayscale) whose native sizes are `sizes`.
    /// `probs[i]` and `routes[i]` answer `crops[i]`.
    pub fn classify(
        &mut self,
        crops: &[GrayImage],
        sizes: &[f32],
        probs: &mut Vec<[f32; NUM_EMOTIONS]>,
        routes: &mut Vec<usize>,
    ) -> anyhow::Result<()> {
        routes.clear();
        routes.extend(sizes.iter().map(|&s| self.assign(s)));
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
            self.models[m].classify(&refs, &mut self.probs)?;
            for (&i, p) in self.group.iter().zip(&self.probs) {
                probs[i] = *p;
            }
        }
        Ok(())
    }
}
