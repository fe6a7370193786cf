//! Re-detection around tracked faces (RetinaFace, `detector.redetect_tracked`):
//! a tracked face that no run of this frame found and no held tile box still
//! shows (it moved, so its tile's box was dropped, or its tile has not come
//! round yet) is looked for again in a small region around its last box, at a
//! scale that puts it at [`FACE_MODEL_PX`] in the model input. One such run costs
//! a fraction of a tile, so the faces a planner already follows are re-found in
//! every frame at the camera rate while the full frame and the tiles cover the
//! rest of the picture at their own pace.

use super::decode::InputMapping;
use super::tiling::place;
use crate::face::{BBox, Detection};

/// Side (model px) of a re-detection input: RetinaFace's inputs are multiples of 32.
pub const INPUT: usize = 128;
/// A tracked face's side in the re-detection input: between RetinaFace's two
/// smallest anchors (16 and 32 px), where it finds faces best.
pub const FACE_MODEL_PX: f32 = 32.0;
/// At most this many re-detections per frame, so a frame's cost stays bounded
/// however many faces are tracked (the rest wait for the full frame and the
/// sweep). 12 runs cost about 2 upscaled tiles; on the pasted-face benchmark's
/// moving sequence under `pyramid` (docs/detection.md, "The pyramid sweep"), 8
/// re-found 0.87 of the 16-24 px faces in each frame, 12 0.95, 16 0.97.
pub const MAX_PER_FRAME: usize = 12;
/// A candidate whose centre is within this fraction of a tracked box's side
/// from the box's centre, at a similar size, already shows that face: a small
/// face that moved a few pixels overlaps its last box at a low IoU, so IoU
/// would send faces the full frame did find to a needless re-detection.
pub const SAME_FACE_DISTANCE: f32 = 0.5;
/// How far (in the tracked box's sides) the face may have moved since: only the
/// best detection whose centre is this close is kept, the tracked face itself,
/// not whatever else the region shows at its edges.
pub const MAX_MOTION: f32 = 1.5;

/// The region, in source px, searched for a face last seen at `b` in a
/// `width` x `height` frame: [`INPUT`] / [`FACE_MODEL_PX`] times its side
/// (4x: the face may have moved 1.5 of its widths since), kept inside the frame.
pub fn region(b: &BBox, width: u32, height: u32) -> InputMapping {
    let side = b.w.max(b.h).max(1.0) * INPUT as f32 / FACE_MODEL_PX;
    InputMapping {
        origin_x: place(b.x + b.w * 0.5, side, width),
        origin_y: place(b.y + b.h * 0.5, side, height),
        scale: side / INPUT as f32,
    }
}

fn centre_distance(a: &BBox, b: &BBox) -> f32 {
    let dx = (a.x + a.w * 0.5) - (b.x + b.w * 0.5);
    let dy = (a.y + a.h * 0.5) - (b.y + b.h * 0.5);
    (dx * dx + dy * dy).sqrt()
}

fn side(b: &BBox) -> f32 {
    b.w.max(b.h).max(1.0)
}

/// Whether some candidate already shows the face tracked at `b`.
pub fn covered(b: &BBox, candidates: &[Detection]) -> bool {
    let s = side(b);
    candidates.iter().any(|d| {
        let ratio = side(&d.bbox) / s;
        (0.5..=2.0).contains(&ratio) && centre_distance(&d.bbox, b) <= SAME_FACE_DISTANCE * s
    })
}

/// Whether `b`'s centre lies in the inner half of a region already searched
/// in this frame: that search saw the face there, whatever it found.
pub fn searched(b: &BBox, regions: &[InputMapping]) -> bool {
    let (cx, cy) = (b.x + b.w * 0.5, b.y + b.h * 0.5);
    regions.iter().any(|r| {
        let side = r.source_side(INPUT);
        let (x0, y0) = (r.origin_x + side * 0.25, r.origin_y + side * 0.25);
        (x0..=x0 + side * 0.5).contains(&cx) && (y0..=y0 + side * 0.5).contains(&cy)
    })
}

/// The tracked face among a re-detection's `found`: the best-scored detection
/// within [`MAX_MOTION`] sides of its last box `b`.
pub fn tracked_face(b: &BBox, found: &[Detection]) -> Option<Detection> {
    let reach = MAX_MOTION * side(b);
    found
        .iter()
        .filter(|d| centre_distance(&d.bbox, b) <= reach)
        .max_by(|x, y| x.score.total_cmp(&y.score))
        .copied()
}

/// What a re-detection around the face tracked at `b` adds to the frame's
/// candidates: the tracked face ([`tracked_face`]) and every other detection of
/// a similar size (half to twice `b`'s side), which in a crowd is a neighbour
/// at the model size the region was scaled for. A neighbour found here needs
/// no run of its own ([`covered`]), so one run can serve a row of tracked
/// faces and the per-frame cap reaches further in a moving crowd.
pub fn found_faces<'a>(b: &BBox, found: &'a [Detection]) -> impl Iterator<Item = Detection> + 'a {
    let best = tracked_face(b, found);
    let s = side(b);
    found
        .iter()
        .filter(move |d| {
            let ratio = side(&d.bbox) / s;
            Some(**d) == best || (0.5..=2.0).contains(&ratio)
        })
        .copied()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn region_puts_the_face_at_the_model_size_and_stays_in_the_frame() {
        let b = BBox {
            x: 100.0,
            y: 50.0,
            w: 20.0,
            h: 24.0,
        };
        let r = region(&b, 640, 480);
        assert!(
            (r.source_side(INPUT) - 96.0).abs() < 1e-3,
            "4x the 24 px side"
        );
        assert!((24.0 / r.scale - FACE_MODEL_PX).abs() < 1e-3);
        // Centred on the face.
        assert!(
            (r.origin_x + 48.0 - 110.0).abs() <= 0.5 && (r.origin_y + 48.0 - 62.0).abs() <= 0.5
        );
        // A face at the corner: the region is pushed inside.
        let corner = region(
            &BBox {
                x: 0.0,
                y: 0.0,
                w: 20.0,
                h: 20.0,
            },
            640,
            480,
        );
        assert_eq!((corner.origin_x, corner.origin_y), (0.0, 0.0));
    }

    #[test]
    fn a_candidate_on_the_track_covers_it() {
        let b = BBox {
            x: 10.0,
            y: 10.0,
            w: 20.0,
            h: 20.0,
        };
        let on = Detection {
            bbox: BBox { x: 12.0, ..b },
            ..Detection::default()
        };
        let off = Detection {
            bbox: BBox { x: 60.0, ..b },
            ..Detection::default()
        };
        assert!(covered(&b, &[off, on]));
        assert!(!covered(&b, &[off]));
        // Moved by a third of its side: IoU 0.5, still the same face.
        let moved = Detection {
            bbox: BBox {
                x: 16.0,
                y: 16.0,
                ..b
            },
            ..Detection::default()
        };
        assert!(covered(&b, &[moved]));
        // Twice as large at the same place: a different detection.
        let big = Detection {
            bbox: BBox {
                w: 50.0,
                h: 50.0,
                ..b
            },
            ..Detection::default()
        };
        assert!(!covered(&b, &[big]));
    }

    #[test]
    fn an_older_box_of_the_same_face_is_not_searched_again() {
        let now = BBox {
            x: 100.0,
            y: 100.0,
            w: 20.0,
            h: 20.0,
        };
        let regions = [region(&now, 640, 480)];
        assert!(searched(&BBox { x: 110.0, ..now }, &regions));
        assert!(!searched(&BBox { x: 150.0, ..now }, &regions));
    }

    #[test]
    fn the_tracked_face_is_the_best_one_near_its_last_box() {
        let b = BBox {
            x: 100.0,
            y: 100.0,
            w: 20.0,
            h: 20.0,
        };
        let at = |x: f32, score: f32| Detection {
            bbox: BBox { x, ..b },
            score,
            ..Detection::default()
        };
        let got = tracked_face(&b, &[at(110.0, 0.8), at(104.0, 0.9), at(160.0, 0.99)]);
        assert_eq!(
            got.map(|d| d.bbox.x),
            Some(104.0),
            "the 0.99 one is 3 sides away"
        );
        assert_eq!(tracked_face(&b, &[at(160.0, 0.99)]), None);
    }

    #[test]
    fn neighbours_of_a_similar_size_are_kept_with_the_tracked_face() {
        let b = BBox {
            x: 100.0,
            y: 100.0,
            w: 20.0,
            h: 20.0,
        };
        let face = |x: f32, side: f32| Detection {
            bbox: BBox {
                x,
                w: side,
                h: side,
                ..b
            },
            score: 0.9,
            ..Detection::default()
        };
        // The tracked face, a neighbour 3 sides away, one far too small and
        // one far too large for the scale the region was chosen for.
        let found = [
            face(104.0, 20.0),
            face(160.0, 24.0),
            face(40.0, 6.0),
            face(20.0, 60.0),
        ];
        let kept: Vec<f32> = found_faces(&b, &found).map(|d| d.bbox.x).collect();
        assert_eq!(kept, [104.0, 160.0]);
        // A tracked face that grew past twice its side is still kept.
        let grown = [face(100.0, 45.0)];
        assert_eq!(found_faces(&b, &grown).count(), 1);
        assert_eq!(found_faces(&b, &[]).count(), 0);
    }
}
