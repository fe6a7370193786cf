//! The ROS messages the bag tool reads and writes, as plain structs with CDR
//! (de)serialisation, and their ros2msg schema texts for MCAP.
//!
//! Field order must match the .msg definitions exactly: CDR has no field names.
//! `Header`, `FaceEmotion`, `FaceEmotionArray` and `Detection2DArray` are the
//! plain values of [`lowres_fer::msg`] (what [`lowres_fer::frame::FrameStep`]
//! produces for the node too); only their CDR codecs live here.

use super::cdr::{CdrError, CdrReader, CdrWriter};
pub use lowres_fer::msg::{Detection2DArray, FaceEmotion, FaceEmotionArray, Header};

pub const IMAGE_TYPE: &str = "sensor_msgs/msg/Image";
pub const COMPRESSED_IMAGE_TYPE: &str = "sensor_msgs/msg/CompressedImage";
pub const FACE_EMOTION_ARRAY_TYPE: &str = "lowres_fer/msg/FaceEmotionArray";
pub const DETECTION_2D_ARRAY_TYPE: &str = "vision_msgs/msg/Detection2DArray";

/// The CDR codec of a value nested in a message (the core's plain values can't
/// carry inherent methods from this crate, so the codec is a trait).
trait CdrField: Sized {
    fn read(r: &mut CdrReader) -> Result<Self, CdrError>;
    fn write(&self, w: &mut CdrWriter);
}

/// A whole message of the core's values in CDR: what the bag tool writes
/// ([`FaceEmotionArray`]) and reads back.
pub trait CdrMessage: Sized {
    /// Serialise, reusing `buf`'s allocation.
    fn encode_into(&self, buf: Vec<u8>) -> Vec<u8>;
    fn decode(buf: &[u8]) -> Result<Self, CdrError>;
}

impl CdrField for Header {
    fn read(r: &mut CdrReader) -> Result<Self, CdrError> {
        Ok(Self {
            sec: r.i32()?,
            nanosec: r.u32()?,
            frame_id: r.string()?,
        })
    }

    fn write(&self, w: &mut CdrWriter) {
        w.i32(self.sec);
        w.u32(self.nanosec);
        w.string(&self.frame_id);
    }
}

/// sensor_msgs/Image, borrowing its pixel data from the serialized message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Image<'a> {
    pub header: Header,
    pub height: u32,
    pub width: u32,
    pub encoding: String,
    pub is_bigendian: u8,
    pub step: u32,
    pub data: &'a [u8],
}

impl<'a> Image<'a> {
    pub fn decode(buf: &'a [u8]) -> Result<Self, CdrError> {
        let mut r = CdrReader::new(buf)?;
        Ok(Self {
            header: Header::read(&mut r)?,
            height: r.u32()?,
            width: r.u32()?,
            encoding: r.string()?,
            is_bigendian: r.u8()?,
            step: r.u32()?,
            data: r.bytes()?,
        })
    }

    /// Serialize into `buf` (its allocation is reused).
    pub fn encode_into(&self, buf: Vec<u8>) -> Vec<u8> {
        let mut w = CdrWriter::with_buffer(buf);
        self.header.write(&mut w);
        w.u32(self.height);
        w.u32(self.width);
        w.string(&self.encoding);
        w.u8(self.is_bigendian);
        w.u32(self.step);
        w.bytes(self.data);
        w.finish()
    }
}

/// sensor_msgs/CompressedImage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompressedImage<'a> {
    pub header: Header,
    pub format: String,
    pub data: &'a [u8],
}

impl<'a> CompressedImage<'a> {
    pub fn decode(buf: &'a [u8]) -> Result<Self, CdrError> {
        let mut r = CdrReader::new(buf)?;
        Ok(Self {
            header: Header::read(&mut r)?,
            format: r.string()?,
            data: r.bytes()?,
        })
    }

    pub fn encode_into(&self, buf: Vec<u8>) -> Vec<u8> {
        let mut w = CdrWriter::with_buffer(buf);
        self.header.write(&mut w);
        w.string(&self.format);
        w.bytes(self.data);
        w.finish()
    }
}

impl CdrField for FaceEmotion {
    fn write(&self, w: &mut CdrWriter) {
        w.u64(self.face_id);
        for v in [self.x, self.y, self.width, self.height, self.detector_score] {
            w.f32(v);
        }
        w.u32(self.detection_age);
        // Fixed-size arrays have no length prefix in CDR.
        for k in &self.keypoints {
            for &v in k {
                w.f32(v);
            }
        }
        w.f32(self.face_size_px);
        w.u8(self.state);
        w.string(&self.classifier);
        for &p in &self.probabilities {
            w.f32(p);
        }
        w.bool(self.has_smoothed);
        for &p in &self.smoothed_probabilities {
            w.f32(p);
        }
        w.u8(self.top_class);
        w.string(&self.top_label);
        w.f32(self.top_confidence);
    }

    fn read(r: &mut CdrReader) -> Result<Self, CdrError> {
        let mut f = Self {
            face_id: r.u64()?,
            x: r.f32()?,
            y: r.f32()?,
            width: r.f32()?,
            height: r.f32()?,
            detector_score: r.f32()?,
            detection_age: r.u32()?,
            ..Self::default()
        };
        for k in f.keypoints.iter_mut() {
            for v in k.iter_mut() {
                *v = r.f32()?;
            }
        }
        f.face_size_px = r.f32()?;
        f.state = r.u8()?;
        f.classifier = r.string()?;
        for p in f.probabilities.iter_mut() {
            *p = r.f32()?;
        }
        f.has_smoothed = r.bool()?;
        for p in f.smoothed_probabilities.iter_mut() {
            *p = r.f32()?;
        }
        f.top_class = r.u8()?;
        f.top_label = r.string()?;
        f.top_confidence = r.f32()?;
        Ok(f)
    }
}

impl CdrMessage for FaceEmotionArray {
    fn encode_into(&self, buf: Vec<u8>) -> Vec<u8> {
        let mut w = CdrWriter::with_buffer(buf);
        self.header.write(&mut w);
        w.u32(self.image_width);
        w.u32(self.image_height);
        w.f32(self.processing_time_ms);
        w.u32(self.faces.len() as u32);
        for f in &self.faces {
            f.write(&mut w);
        }
        w.finish()
    }

    fn decode(buf: &[u8]) -> Result<Self, CdrError> {
        let mut r = CdrReader::new(buf)?;
        let header = Header::read(&mut r)?;
        let image_width = r.u32()?;
        let image_height = r.u32()?;
        let processing_time_ms = r.f32()?;
        let n = r.u32()? as usize;
        // Bound the pre-allocation by what the buffer could possibly hold.
        let mut faces = Vec::with_capacity(n.min(buf.len() / 64));
        for _ in 0..n {
            faces.push(FaceEmotion::read(&mut r)?);
        }
        Ok(Self {
            header,
            image_width,
            image_height,
            processing_time_ms,
            faces,
        })
    }
}

/// vision_msgs/Detection2DArray in CDR (the bag tool writes it, never reads
/// it). Each Detection2D repeats the array's header, as the node's does; each
/// hypothesis's pose is the message default (identity orientation).
pub fn encode_detections(m: &Detection2DArray, buf: Vec<u8>) -> Vec<u8> {
    let mut w = CdrWriter::with_buffer(buf);
    m.header.write(&mut w);
    w.u32(m.detections.len() as u32);
    for d in &m.detections {
        m.header.write(&mut w);
        w.u32(d.results.len() as u32);
        for r in &d.results {
            w.string(r.class_id);
            w.f64(r.score);
            // PoseWithCovariance: position, orientation (x, y, z, w), covariance[36].
            for v in [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0] {
                w.f64(v);
            }
            for _ in 0..36 {
                w.f64(0.0);
            }
        }
        // BoundingBox2D: centre (x, y, theta), size.
        for v in [d.center_x, d.center_y, 0.0, d.size_x, d.size_y] {
            w.f64(v);
        }
        w.string(&d.id);
    }
    w.finish()
}

// ---- ros2msg schemas --------------------------------------------------------
// What `ros2 bag record` stores as the MCAP schema: the top-level definition,
// then every nested type once, each after a line of 80 '=' and `MSG: pkg/Type`.
// Foxglove and rosbags parse these to decode the messages.

const SEP: &str =
    "================================================================================\n";

const HEADER_DEF: &str = "builtin_interfaces/Time stamp\nstring frame_id\n";
const TIME_DEF: &str = "int32 sec\nuint32 nanosec\n";
const POINT32_DEF: &str = "float32 x\nfloat32 y\nfloat32 z\n";
const IMAGE_DEF: &str = "std_msgs/Header header\nuint32 height\nuint32 width\nstring encoding\nuint8 is_bigendian\nuint32 step\nuint8[] data\n";
const COMPRESSED_IMAGE_DEF: &str = "std_msgs/Header header\nstring format\nuint8[] data\n";
// The project's own definitions, verbatim (comments and constants included), so
// the schema can never drift from msg/.
const FACE_EMOTION_DEF: &str = include_str!("../../../msg/FaceEmotion.msg");
const FACE_EMOTION_ARRAY_DEF: &str = include_str!("../../../msg/FaceEmotionArray.msg");
// vision_msgs: the stand-in's copies of upstream's definitions.
const DETECTION_2D_ARRAY_DEF: &str =
    include_str!("../../../ros-perception/vision_msgs/msg/Detection2DArray.msg");
const DETECTION_2D_DEF: &str =
    include_str!("../../../ros-perception/vision_msgs/msg/Detection2D.msg");
const HYPOTHESIS_WITH_POSE_DEF: &str =
    include_str!("../../../ros-perception/vision_msgs/msg/ObjectHypothesisWithPose.msg");
const HYPOTHESIS_DEF: &str =
    include_str!("../../../ros-perception/vision_msgs/msg/ObjectHypothesis.msg");
const BOUNDING_BOX_2D_DEF: &str =
    include_str!("../../../ros-perception/vision_msgs/msg/BoundingBox2D.msg");
const POSE_2D_DEF: &str = include_str!("../../../ros-perception/vision_msgs/msg/Pose2D.msg");
const POINT_2D_DEF: &str = include_str!("../../../ros-perception/vision_msgs/msg/Point2D.msg");
const POSE_WITH_COVARIANCE_DEF: &str = "geometry_msgs/Pose pose\nfloat64[36] covariance\n";
const POSE_DEF: &str = "geometry_msgs/Point position\ngeometry_msgs/Quaternion orientation\n";
const POINT_DEF: &str = "float64 x\nfloat64 y\nfloat64 z\n";
const QUATERNION_DEF: &str = "float64 x 0\nfloat64 y 0\nfloat64 z 0\nfloat64 w 1\n";

fn concat(top: &str, deps: &[(&str, &str)]) -> String {
    let mut s = String::from(top);
    if !s.ends_with('\n') {
        s.push('\n');
    }
    for (name, def) in deps {
        s.push_str(SEP);
        s.push_str("MSG: ");
        s.push_str(name);
        s.push('\n');
        s.push_str(def);
        if !def.ends_with('\n') {
            s.push('\n');
        }
    }
    s
}

/// The ros2msg schema text for one of the types the tool writes.
pub fn schema_text(msg_type: &str) -> Option<String> {
    let header_deps = [
        ("std_msgs/Header", HEADER_DEF),
        ("builtin_interfaces/Time", TIME_DEF),
    ];
    Some(match msg_type {
        IMAGE_TYPE => concat(IMAGE_DEF, &header_deps),
        COMPRESSED_IMAGE_TYPE => concat(COMPRESSED_IMAGE_DEF, &header_deps),
        FACE_EMOTION_ARRAY_TYPE => concat(
            FACE_EMOTION_ARRAY_DEF,
            &[
                header_deps[0],
                header_deps[1],
                ("lowres_fer/FaceEmotion", FACE_EMOTION_DEF),
                ("geometry_msgs/Point32", POINT32_DEF),
            ],
        ),
        DETECTION_2D_ARRAY_TYPE => concat(
            DETECTION_2D_ARRAY_DEF,
            &[
                header_deps[0],
                header_deps[1],
                ("vision_msgs/Detection2D", DETECTION_2D_DEF),
                (
                    "vision_msgs/ObjectHypothesisWithPose",
                    HYPOTHESIS_WITH_POSE_DEF,
                ),
                ("vision_msgs/ObjectHypothesis", HYPOTHESIS_DEF),
                ("geometry_msgs/PoseWithCovariance", POSE_WITH_COVARIANCE_DEF),
                ("geometry_msgs/Pose", POSE_DEF),
                ("geometry_msgs/Point", POINT_DEF),
                ("geometry_msgs/Quaternion", QUATERNION_DEF),
                ("vision_msgs/BoundingBox2D", BOUNDING_BOX_2D_DEF),
                ("vision_msgs/Pose2D", POSE_2D_DEF),
                ("vision_msgs/Point2D", POINT_2D_DEF),
            ],
        ),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header() -> Header {
        Header {
            sec: 12,
            nanosec: 345,
            frame_id: "cam".into(),
        }
    }

    #[test]
    fn image_round_trip() {
        let data = [1u8, 2, 3, 4, 5, 6];
        let img = Image {
            header: header(),
            height: 1,
            width: 2,
            encoding: "rgb8".into(),
            is_bigendian: 0,
            step: 6,
            data: &data,
        };
        let buf = img.encode_into(Vec::new());
        assert_eq!(Image::decode(&buf).unwrap(), img);
        // Any truncation is an error, never a panic.
        for n in 0..buf.len() - 1 {
            assert!(Image::decode(&buf[..n]).is_err(), "len {n}");
        }
    }

    #[test]
    fn compressed_round_trip() {
        let c = CompressedImage {
            header: header(),
            format: "jpeg".into(),
            data: &[0xff, 0xd8],
        };
        assert_eq!(
            CompressedImage::decode(&c.encode_into(Vec::new())).unwrap(),
            c
        );
    }

    #[test]
    fn face_emotion_array_round_trip() {
        let mut f = FaceEmotion {
            face_id: 3,
            x: 1.0,
            state: 0,
            classifier: "efc".into(),
            top_label: "happiness".into(),
            has_smoothed: true,
            ..FaceEmotion::default()
        };
        f.probabilities[1] = 0.9;
        f.keypoints[5] = [4.0, 5.0, 0.0];
        let a = FaceEmotionArray {
            header: header(),
            image_width: 640,
            image_height: 360,
            processing_time_ms: 2.5,
            faces: vec![f.clone(), f],
        };
        let buf = a.encode_into(Vec::new());
        assert_eq!(FaceEmotionArray::decode(&buf).unwrap(), a);
    }

    #[test]
    fn schemas_name_every_nested_type() {
        let s = schema_text(FACE_EMOTION_ARRAY_TYPE).unwrap();
        for t in [
            "MSG: std_msgs/Header",
            "MSG: builtin_interfaces/Time",
            "MSG: lowres_fer/FaceEmotion",
            "MSG: geometry_msgs/Point32",
        ] {
            assert!(s.contains(t), "{t}");
        }
        assert!(schema_text("foo/msg/Bar").is_none());
    }
}
