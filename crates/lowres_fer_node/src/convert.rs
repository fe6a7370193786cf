//! Frame-step message values -> r2r messages, and diagnostics key/values.

use r2r::builtin_interfaces::msg::Time;
use r2r::diagnostic_msgs::msg::{DiagnosticStatus, KeyValue};
use r2r::geometry_msgs::msg::Point32;
use r2r::lowres_fer::msg::{FaceEmotion, FaceEmotionArray};
use r2r::sensor_msgs::msg::Image;
use r2r::std_msgs::msg::Header;
use r2r::vision_msgs::msg::{
    BoundingBox2D, Detection2D, Detection2DArray, LabelInfo, ObjectHypothesis,
    ObjectHypothesisWithPose, Point2D, Pose2D, VisionClass,
};

use lowres_fer::imaging::io::ERROR_CAUSES;
use lowres_fer::msg;

use super::stats::{Stats, Summary};

/// The frame step's plain values as an r2r message, field by field (no
/// policy here: what is published is decided in [`lowres_fer::msg`]).
pub fn face_msg(f: &msg::FaceEmotion) -> FaceEmotion {
    // Fixed-size message arrays must have exactly their declared length (r2r
    // asserts on it when serialising), hence the fixed-size sources here.
    FaceEmotion {
        face_id: f.face_id,
        x: f.x,
        y: f.y,
        width: f.width,
        height: f.height,
        detector_score: f.detector_score,
        detection_age: f.detection_age,
        keypoints: f
            .keypoints
            .iter()
            .map(|&[x, y, z]| Point32 { x, y, z })
            .collect(),
        face_size_px: f.face_size_px,
        state: f.state,
        classifier: f.classifier.clone(),
        probabilities: f.probabilities.to_vec(),
        has_smoothed: f.has_smoothed,
        smoothed_probabilities: f.smoothed_probabilities.to_vec(),
        top_class: f.top_class,
        top_label: f.top_label.clone(),
        top_confidence: f.top_confidence,
    }
}

pub fn header(h: &msg::Header) -> Header {
    Header {
        stamp: Time {
            sec: h.sec,
            nanosec: h.nanosec,
        },
        frame_id: h.frame_id.clone(),
    }
}

/// An input header as the frame step's plain value (moves the frame_id).
pub fn plain_header(h: Header) -> msg::Header {
    msg::Header {
        sec: h.stamp.sec,
        nanosec: h.stamp.nanosec,
        frame_id: h.frame_id,
    }
}

pub fn array_msg(m: &msg::FaceEmotionArray) -> FaceEmotionArray {
    FaceEmotionArray {
        header: header(&m.header),
        image_width: m.image_width,
        image_height: m.image_height,
        processing_time_ms: m.processing_time_ms,
        faces: m.faces.iter().map(face_msg).collect(),
    }
}

/// The frame step's Detection2DArray values as the r2r message; each
/// detection carries the array's header, as vision_msgs expects.
pub fn detections_msg(m: &msg::Detection2DArray) -> Detection2DArray {
    let h = header(&m.header);
    Detection2DArray {
        detections: m
            .detections
            .iter()
            .map(|d| Detection2D {
                header: h.clone(),
                results: d
                    .results
                    .iter()
                    .map(|r| ObjectHypothesisWithPose {
                        hypothesis: ObjectHypothesis {
                            class_id: r.class_id.to_string(),
                            score: r.score,
                        },
                        ..Default::default()
                    })
                    .collect(),
                bbox: BoundingBox2D {
                    center: Pose2D {
                        position: Point2D {
                            x: d.center_x,
                            y: d.center_y,
                        },
                        theta: 0.0,
                    },
                    size_x: d.size_x,
                    size_y: d.size_y,
                },
                id: d.id.clone(),
            })
            .collect(),
        header: h,
    }
}

/// `detections/label_info`: the class map of [`msg::label_info`]. Published
/// once (latched), before any frame: its header stays empty.
pub fn label_info_msg() -> LabelInfo {
    let l = msg::label_info();
    LabelInfo {
        header: Header::default(),
        class_map: l
            .class_map
            .iter()
            .map(|&(class_id, name)| VisionClass {
                class_id,
                class_name: name.to_string(),
            })
            .collect(),
        threshold: l.threshold,
    }
}

fn kv(key: &str, value: impl ToString) -> KeyValue {
    KeyValue {
        key: key.to_string(),
        value: value.to_string(),
    }
}

/// One DiagnosticStatus for the node (`extra_causes`: input-error causes of the
/// mode beyond the image ones, always reported): OK, WARN when inputs were rejected in the
/// last window, ERROR when the pipeline failed in it.
pub fn diagnostic_status(
    name: &str,
    stats: &Stats,
    w: &Summary,
    input_topic: &str,
    extra_causes: &[&str],
) -> DiagnosticStatus {
    let (level, message) =
        if stats.pipeline_errors > 0 && w.errors_in_window > 0 && w.processed_hz == 0.0 {
            (2u8, format!("pipeline failing: {}", stats.last_error))
        } else if w.errors_in_window > 0 {
            (
                1u8,
                format!(
                    "{} input/pipeline errors in the last period: {}",
                    w.errors_in_window, stats.last_error
                ),
            )
        } else if stats.received == 0 {
            (0u8, format!("waiting for images on {input_topic}"))
        } else {
            (
                0u8,
                format!(
                    "ok: {:.1} Hz in, {:.1} Hz processed",
                    w.input_hz, w.processed_hz
                ),
            )
        };
    let s = &w.mean_stages;
    let mut values = vec![
        kv("input_topic", input_topic),
        kv("input_rate_hz", format!("{:.2}", w.input_hz)),
        kv("processed_rate_hz", format!("{:.2}", w.processed_hz)),
        kv("frames_received", stats.received),
        kv("frames_processed", stats.processed),
        kv("frames_dropped", stats.dropped),
        kv("frames_dropped_last_period", w.dropped_in_window),
        kv("frames_missing_upstream", stats.gaps.missing()),
        kv("faces_last_frame", stats.last_faces),
        kv("latency_decode_ms", format!("{:.2}", w.mean_decode_ms)),
        kv("latency_detect_ms", format!("{:.2}", s.detect_ms)),
        kv("latency_align_ms", format!("{:.2}", s.align_ms)),
        kv("latency_classify_ms", format!("{:.2}", s.classify_ms)),
        kv("latency_track_ms", format!("{:.2}", s.track_ms)),
        kv("latency_pipeline_ms", format!("{:.2}", s.total_ms)),
        kv("latency_end_to_end_ms", format!("{:.2}", w.mean_e2e_ms)),
        kv("latency_end_to_end_max_ms", format!("{:.2}", w.max_e2e_ms)),
        kv("errors_input_total", stats.total_input_errors()),
        kv("errors_pipeline", stats.pipeline_errors),
        kv("errors_publish", stats.publish_errors),
    ];
    // Every cause, zeros included, so monitors see a stable key set (plus the
    // drop-in mode's own, `extra_causes`).
    for &cause in ERROR_CAUSES.iter().chain(extra_causes) {
        values.push(kv(
            &format!("errors_input_{cause}"),
            stats.input_errors.get(cause).copied().unwrap_or(0),
        ));
    }
    for (stage, provider) in &stats.providers {
        values.push(kv(&format!("execution_provider_{stage}"), provider));
    }
    values.push(kv("last_error", &stats.last_error));
    DiagnosticStatus {
        level,
        name: name.to_string(),
        message,
        hardware_id: "lowres_fer".to_string(),
        values,
    }
}

/// An `rgb8` sensor_msgs/Image of `img` (the annotated frame, ROS4HRI crops).
pub fn rgb8_image(header: Header, img: &image::RgbImage) -> Image {
    Image {
        header,
        height: img.height(),
        width: img.width(),
        encoding: "rgb8".into(),
        is_bigendian: 0,
        step: img.width() * 3,
        data: img.as_raw().clone(),
    }
}
