//! The frame step: everything that happens to one input image, shared by the
//! node (crates/lowres_fer_node/src/node.rs) and the bag tool (crates/lowres_fer_bag/src/offline.rs).
//!
//! ```text
//! header + payload (raw Image fields | CompressedImage fields)
//!   -> decode to RGB (image_io)          error: StepError::Input, nothing else changes
//!   -> stamp-reset policy                 stamp went backwards: forget the tracks
//!   -> Pipeline::process                  detect -> gate/align -> classify -> track
//!   -> FaceEmotionArray + Detection2DArray values (msg)  + annotated RGB image on request + timings
//! ```
//!
//! No ROS and no file format here: the tools only move bytes in and out.

use std::time::Instant;

use image::RgbImage;
use serde::Serialize;

use crate::face::FaceResult;
use crate::imaging::annotate;
use crate::imaging::io::{compressed_to_rgb, raw_to_rgb, ImageError, DEFAULT_MAX_PIXELS};
use crate::msg::{Detection2DArray, FaceEmotionArray, Header};
use crate::pipeline::{Pipeline, StageTimings};
use crate::settings::config::PipelineConfig;

/// The pixel fields of a sensor_msgs/Image or sensor_msgs/CompressedImage.
#[derive(Debug, Clone, Copy)]
pub enum Payload<'a> {
    Raw {
        width: u32,
        height: u32,
        encoding: &'a str,
        is_bigendian: bool,
        step: u32,
        data: &'a [u8],
    },
    Compressed {
        format: &'a str,
        data: &'a [u8],
    },
}

/// Wall time of one frame, in milliseconds (all 0 in deterministic mode).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct FrameTimings {
    pub decode_ms: f64,
    pub stages: StageTimings,
    /// Decode + pipeline: `FaceEmotionArray.processing_time_ms`.
    pub processing_ms: f64,
}

/// Why a frame produced no message.
#[derive(Debug, thiserror::Error)]
pub enum StepError {
    /// The payload does not decode (bad encoding, sizes, corrupt JPEG/PNG).
    #[error(transparent)]
    Input(#[from] ImageError),
    /// The models failed on a decoded frame.
    #[error("{0:#}")]
    Pipeline(anyhow::Error),
}

/// One processed frame; borrows the step's reused buffers until the next call.
#[derive(Debug)]
pub struct StepOutput<'s> {
    pub msg: &'s FaceEmotionArray,
    /// The same faces as vision_msgs/Detection2DArray values (`detections`).
    pub detections: &'s Detection2DArray,
    /// The pipeline's results behind `msg.faces` (same order).
    pub faces: &'s [FaceResult],
    /// The decoded input frame: the bag tool's report crops thumbnails and the
    /// node its ROS4HRI `cropped` images from it.
    pub rgb: &'s RgbImage,
    /// The input with boxes, labels and bars, when requested.
    pub annotated: Option<&'s RgbImage>,
    pub timings: FrameTimings,
    /// The stamp went backwards and the tracks were forgotten before this frame.
    pub tracks_reset: bool,
    /// The classifier failed on this frame (a run-time error): `msg` is still
    /// complete, the faces it should have classified are
    /// `STATE_CLASSIFIER_FAILED`. The node publishes and counts it, the bag
    /// tool fails its run.
    pub classify_error: Option<&'s str>,
    /// Ids of the tracks alive after this frame ([`crate::pipeline::FrameOutput::live_tracks`]).
    pub live_tracks: &'s [u64],
}

/// The stamp-reset policy: a stamp going backwards means a bag restarted or
/// the simulation was reset, and tracks from the "future" must not leak into
/// the new sequence. Equal stamps (a re-sent frame) keep the tracks.
pub fn stamp_went_back(last: Option<i64>, stamp: i64) -> bool {
    last.is_some_and(|l| stamp < l)
}

/// The pipeline plus the per-frame buffers and state of one input stream.
pub struct FrameStep {
    pipeline: Pipeline,
    rgb: RgbImage,
    annotated: RgbImage,
    msg: FaceEmotionArray,
    detections: Detection2DArray,
    last_stamp: Option<i64>,
    deterministic: bool,
    /// Pixel budget per frame, checked from the header before decoding
    /// (`input.max_pixels`, the bag tool's `--max-pixels`).
    max_pixels: u64,
}

fn ms(since: Instant) -> f64 {
    since.elapsed().as_secs_f64() * 1e3
}

impl FrameStep {
    pub fn new(pipeline: Pipeline) -> Self {
        Self {
            pipeline,
            rgb: RgbImage::new(0, 0),
            annotated: RgbImage::new(0, 0),
            msg: FaceEmotionArray::default(),
            detections: Detection2DArray::default(),
            last_stamp: None,
            deterministic: false,
            max_pixels: DEFAULT_MAX_PIXELS,
        }
    }

    /// Report every timing (and `processing_time_ms`) as 0, so repeated runs
    /// give identical messages.
    pub fn deterministic(mut self, on: bool) -> Self {
        self.deterministic = on;
        self
    }

    /// Reject frames of more than `max` pixels before decoding them.
    pub fn max_pixels(mut self, max: u64) -> Self {
        self.max_pixels = max;
        self
    }

    /// Run-time parameter values from the next frame: the pipeline's
    /// ([`Pipeline::apply_live`], refused with nothing changed when they touch
    /// the loaded models) and the pixel budget.
    pub fn apply_live(&mut self, cfg: &PipelineConfig, max_pixels: u64) -> anyhow::Result<()> {
        self.pipeline.apply_live(cfg)?;
        self.max_pixels = max_pixels;
        Ok(())
    }

    pub fn pipeline(&self) -> &Pipeline {
        &self.pipeline
    }

    /// Run one frame. On an input error nothing changes (not even the stamp
    /// the reset policy compares against); on a pipeline error the stamp is
    /// already taken.
    pub fn process(
        &mut self,
        header: Header,
        payload: Payload<'_>,
        annotate: bool,
    ) -> Result<StepOutput<'_>, StepError> {
        let t0 = Instant::now();
        match payload {
            Payload::Raw {
                width,
                height,
                encoding,
                is_bigendian,
                step,
                data,
            } => raw_to_rgb(
                width,
                height,
                encoding,
                is_bigendian,
                step,
                data,
                self.max_pixels,
                &mut self.rgb,
            )?,
            Payload::Compressed { format, data } => {
                compressed_to_rgb(format, data, self.max_pixels, &mut self.rgb)?
            }
        }
        let decode_ms = ms(t0);

        let stamp = header.stamp_ns();
        let tracks_reset = stamp_went_back(self.last_stamp, stamp);
        if tracks_reset {
            self.pipeline.reset();
        }
        self.last_stamp = Some(stamp);

        let out = self
            .pipeline
            .process(&self.rgb)
            .map_err(StepError::Pipeline)?;
        let timings = if self.deterministic {
            FrameTimings::default()
        } else {
            FrameTimings {
                decode_ms,
                stages: out.timings,
                processing_ms: ms(t0),
            }
        };
        self.msg.set_from(
            header,
            self.rgb.width(),
            self.rgb.height(),
            timings.processing_ms,
            &out.faces,
        );
        self.detections.set_from(&self.msg.header, &out.faces);
        let annotated = if annotate {
            // A full-frame copy: callers ask only when someone looks.
            self.annotated.clone_from(&self.rgb);
            annotate::draw_faces(&mut self.annotated, &out.faces);
            Some(&self.annotated)
        } else {
            None
        };
        Ok(StepOutput {
            msg: &self.msg,
            detections: &self.detections,
            faces: &out.faces,
            rgb: &self.rgb,
            annotated,
            timings,
            tracks_reset,
            classify_error: out.classify_error.as_deref(),
            live_tracks: &out.live_tracks,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_backwards_stamp_resets() {
        assert!(!stamp_went_back(None, 5));
        assert!(!stamp_went_back(Some(5), 5));
        assert!(!stamp_went_back(Some(5), 6));
        assert!(stamp_went_back(Some(5), 4));
        assert!(stamp_went_back(Some(0), -1));
    }
}
