//! A still camera for the node's frame step: one rgb8 image published frame
//! after frame at 30 Hz (`crowd_bench`/[`crate::crowd`] and `frame_bench`).

use image::RgbImage;
use lowres_fer::frame::Payload;
use lowres_fer::msg::Header;

/// The header of frame `i` of a 30 Hz camera whose stamps start at `start_sec`.
pub fn header(start_sec: i32, i: usize, frame_id: &str) -> Header {
    Header {
        sec: start_sec + (i / 30) as i32,
        nanosec: ((i % 30) * 33_333_333) as u32,
        frame_id: frame_id.into(),
    }
}

/// `image` as the payload of a raw rgb8 sensor_msgs/Image.
pub fn rgb8(image: &RgbImage) -> Payload<'_> {
    let (width, height) = image.dimensions();
    Payload::Raw {
        width,
        height,
        encoding: "rgb8",
        is_bigendian: false,
        step: width * 3,
        data: image.as_raw(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stamps_advance_at_30_hz() {
        let h = header(100, 31, "camera");
        assert_eq!(
            (h.sec, h.nanosec, h.frame_id.as_str()),
            (101, 33_333_333, "camera")
        );
        let img = RgbImage::new(4, 2);
        let Payload::Raw {
            width,
            height,
            step,
            data,
            ..
        } = rgb8(&img)
        else {
            panic!("raw payload expected");
        };
        assert_eq!((width, height, step, data.len()), (4, 2, 12, 24));
    }
}
