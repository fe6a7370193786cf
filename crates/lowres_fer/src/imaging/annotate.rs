//! Draw face boxes, keypoints and emotion labels onto an [`RgbImage`] for the
//! `image_annotated` debug topic. Deliberately dependency-free: rectangles plus
//! a built-in 3x5 bitmap font (no font files to install or ship).

use image::{Rgb, RgbImage};

use crate::face::{FaceResult, FaceState, EMOTIONS, NUM_EMOTIONS};

/// One colour per FER+ class, in [`EMOTIONS`] order.
pub const CLASS_COLORS: [[u8; 3]; NUM_EMOTIONS] = [
    [200, 200, 200], // neutral
    [255, 215, 0],   // happiness
    [0, 200, 255],   // surprise
    [60, 90, 255],   // sadness
    [255, 40, 40],   // anger
    [120, 200, 40],  // disgust
    [200, 60, 255],  // fear
    [255, 130, 0],   // contempt
];
/// Faces that were detected but not classified (too small / low score).
pub const UNCLASSIFIED_COLOR: [u8; 3] = [110, 110, 110];

/// 3x5 glyphs, one row per byte (low 3 bits, MSB = left column).
fn glyph(c: char) -> [u8; 5] {
    match c.to_ascii_uppercase() {
        'A' => [0b010, 0b101, 0b111, 0b101, 0b101],
        'B' => [0b110, 0b101, 0b110, 0b101, 0b110],
        'C' => [0b011, 0b100, 0b100, 0b100, 0b011],
        'D' => [0b110, 0b101, 0b101, 0b101, 0b110],
        'E' => [0b111, 0b100, 0b110, 0b100, 0b111],
        'F' => [0b111, 0b100, 0b110, 0b100, 0b100],
        'G' => [0b011, 0b100, 0b101, 0b101, 0b011],
        'H' => [0b101, 0b101, 0b111, 0b101, 0b101],
        'I' => [0b111, 0b010, 0b010, 0b010, 0b111],
        'J' => [0b001, 0b001, 0b001, 0b101, 0b010],
        'K' => [0b101, 0b101, 0b110, 0b101, 0b101],
        'L' => [0b100, 0b100, 0b100, 0b100, 0b111],
        'M' => [0b101, 0b111, 0b111, 0b101, 0b101],
        'N' => [0b110, 0b101, 0b101, 0b101, 0b101],
        'O' => [0b010, 0b101, 0b101, 0b101, 0b010],
        'P' => [0b110, 0b101, 0b110, 0b100, 0b100],
        'Q' => [0b010, 0b101, 0b101, 0b110, 0b011],
        'R' => [0b110, 0b101, 0b110, 0b101, 0b101],
        'S' => [0b011, 0b100, 0b010, 0b001, 0b110],
        'T' => [0b111, 0b010, 0b010, 0b010, 0b010],
        'U' => [0b101, 0b101, 0b101, 0b101, 0b111],
        'V' => [0b101, 0b101, 0b101, 0b101, 0b010],
        'W' => [0b101, 0b101, 0b111, 0b111, 0b101],
        'X' => [0b101, 0b101, 0b010, 0b101, 0b101],
        'Y' => [0b101, 0b101, 0b010, 0b010, 0b010],
        'Z' => [0b111, 0b001, 0b010, 0b100, 0b111],
        '0' => [0b111, 0b101, 0b101, 0b101, 0b111],
        '1' => [0b010, 0b110, 0b010, 0b010, 0b111],
        '2' => [0b110, 0b001, 0b010, 0b100, 0b111],
        '3' => [0b110, 0b001, 0b010, 0b001, 0b110],
        '4' => [0b101, 0b101, 0b111, 0b001, 0b001],
        '5' => [0b111, 0b100, 0b110, 0b001, 0b110],
        '6' => [0b011, 0b100, 0b111, 0b101, 0b111],
        '7' => [0b111, 0b001, 0b010, 0b010, 0b010],
        '8' => [0b111, 0b101, 0b111, 0b101, 0b111],
        '9' => [0b111, 0b101, 0b111, 0b001, 0b110],
        '.' => [0b000, 0b000, 0b000, 0b000, 0b010],
        '%' => [0b101, 0b001, 0b010, 0b100, 0b101],
        '-' => [0b000, 0b000, 0b111, 0b000, 0b000],
        '#' => [0b101, 0b111, 0b101, 0b111, 0b101],
        ' ' => [0; 5],
        _ => [0b111, 0b001, 0b010, 0b000, 0b010], // '?'
    }
}

/// Fill a rectangle, clipped to the image (coordinates may be negative / outside).
pub fn fill_rect(img: &mut RgbImage, x0: i64, y0: i64, w: i64, h: i64, color: [u8; 3]) {
    let (iw, ih) = (img.width() as i64, img.height() as i64);
    let xa = x0.clamp(0, iw);
    let xb = (x0 + w).clamp(0, iw);
    let ya = y0.clamp(0, ih);
    let yb = (y0 + h).clamp(0, ih);
    for y in ya..yb {
        for x in xa..xb {
            img.put_pixel(x as u32, y as u32, Rgb(color));
        }
    }
}

/// Outline of a rectangle with the given line thickness, clipped to the image.
pub fn draw_rect(img: &mut RgbImage, x: i64, y: i64, w: i64, h: i64, t: i64, color: [u8; 3]) {
    fill_rect(img, x, y, w, t, color);
    fill_rect(img, x, y + h - t, w, t, color);
    fill_rect(img, x, y, t, h, color);
    fill_rect(img, x + w - t, y, t, h, color);
}

/// Text in the 3x5 font, each font pixel drawn as a `scale`x`scale` block.
/// Returns the width drawn in pixels.
pub fn draw_text(
    img: &mut RgbImage,
    x: i64,
    y: i64,
    text: &str,
    scale: i64,
    color: [u8; 3],
) -> i64 {
    let mut cx = x;
    for c in text.chars() {
        let g = glyph(c);
        for (row, bits) in g.iter().enumerate() {
            for col in 0..3 {
                if bits & (0b100 >> col) != 0 {
                    fill_rect(
                        img,
                        cx + col * scale,
                        y + row as i64 * scale,
                        scale,
                        scale,
                        color,
                    );
                }
            }
        }
        cx += 4 * scale;
    }
    cx - x
}

/// Width in pixels `draw_text` would use.
pub fn text_width(text: &str, scale: i64) -> i64 {
    text.chars().count() as i64 * 4 * scale
}

/// Label shown above a face: track id, top class and confidence, or why it was
/// not classified.
pub fn face_label(face: &FaceResult) -> String {
    let id = if face.track_id > 0 {
        format!("#{} ", face.track_id)
    } else {
        String::new()
    };
    match face.state {
        FaceState::Classified => {
            let (i, p) = face.top();
            format!("{id}{} {:.0}%", EMOTIONS[i], p * 100.0)
        }
        FaceState::TooSmall => format!("{id}too small"),
        FaceState::LowDetectorScore => format!("{id}low score"),
        FaceState::ClassifierFailed => format!("{id}no emotion (error)"),
    }
}

/// Draw every face: box in the top class's colour (grey when unclassified),
/// keypoints, label on a dark strip above the box and, for classified faces, a
/// stacked probability bar under the box.
pub fn draw_faces(img: &mut RgbImage, faces: &[FaceResult]) {
    // Scale strokes and text with the image so labels stay legible on 4k and
    // do not swamp a 320x240 frame.
    let scale = ((img.width().max(img.height()) as i64) / 640).max(1);
    for face in faces {
        let b = &face.detection.bbox;
        let (x, y, w, h) = (
            b.x.round() as i64,
            b.y.round() as i64,
            b.w.round().max(1.0) as i64,
            b.h.round().max(1.0) as i64,
        );
        let color = match face.state {
            FaceState::Classified => CLASS_COLORS[face.top().0],
            _ => UNCLASSIFIED_COLOR,
        };
        draw_rect(img, x, y, w, h, scale, color);
        // RetinaFace predicts no ears: those keypoints are NaN.
        for kp in face
            .detection
            .keypoints
            .iter()
            .filter(|k| k[0].is_finite() && k[1].is_finite())
        {
            fill_rect(
                img,
                kp[0] as i64 - scale,
                kp[1] as i64 - scale,
                2 * scale + 1,
                2 * scale + 1,
                color,
            );
        }
        let label = face_label(face);
        let th = 7 * scale;
        let ly = if y - th >= 0 { y - th } else { y + h };
        fill_rect(
            img,
            x,
            ly,
            text_width(&label, scale) + 2 * scale,
            th,
            [0, 0, 0],
        );
        draw_text(img, x + scale, ly + scale, &label, scale, color);
        if face.state == FaceState::Classified {
            let probs = face.smoothed.unwrap_or(face.probs);
            let bar_y = if ly == y + h { ly + th } else { y + h };
            let mut bx = x;
            for (i, p) in probs.iter().enumerate() {
                let seg = (p.clamp(0.0, 1.0) * w as f32).round() as i64;
                fill_rect(img, bx, bar_y, seg, 2 * scale, CLASS_COLORS[i]);
                bx += seg;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::face::{BBox, Detection};

    fn face(state: FaceState) -> FaceResult {
        let mut probs = [0.0; NUM_EMOTIONS];
        probs[1] = 0.75;
        probs[0] = 0.25;
        FaceResult {
            detection: Detection {
                bbox: BBox {
                    x: 20.0,
                    y: 20.0,
                    w: 30.0,
                    h: 30.0,
                },
                score: 0.9,
                keypoints: [[30.0, 30.0]; 6],
                age: 0,
            },
            size_px: 30.0,
            state,
            route: "efc32".into(),
            probs,
            track_id: 3,
            smoothed: None,
        }
    }

    #[test]
    fn box_is_drawn_in_top_class_colour_and_clipped() {
        let mut img = RgbImage::new(64, 64);
        draw_faces(&mut img, &[face(FaceState::Classified)]);
        assert_eq!(img.get_pixel(20, 35).0, CLASS_COLORS[1]); // left edge
        assert_eq!(img.get_pixel(35, 35).0, [0, 0, 0]); // inside untouched
                                                        // A box hanging off the image must not panic.
        let mut f = face(FaceState::TooSmall);
        f.detection.bbox.x = -10.0;
        f.detection.bbox.w = 200.0;
        draw_faces(&mut img, &[f]);
        assert_eq!(img.get_pixel(0, 20).0, UNCLASSIFIED_COLOR);
    }

    #[test]
    fn labels() {
        assert_eq!(face_label(&face(FaceState::Classified)), "#3 happiness 75%");
        assert_eq!(face_label(&face(FaceState::TooSmall)), "#3 too small");
    }

    #[test]
    fn text_renders_glyph_pixels() {
        let mut img = RgbImage::new(8, 8);
        draw_text(&mut img, 0, 0, "1", 1, [255, 0, 0]);
        // '1' = 010 / 110 / 010 / 010 / 111
        assert_eq!(img.get_pixel(1, 0).0, [255, 0, 0]);
        assert_eq!(img.get_pixel(0, 0).0, [0, 0, 0]);
        assert_eq!(img.get_pixel(0, 4).0, [255, 0, 0]);
    }
}
