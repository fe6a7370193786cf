//! BlazeFace anchors. Both models (front-128 with strides 8/16, back-256 with
//! strides 16/32) produce 896 anchors: a 16x16 grid with 2 anchors per cell, then
//! an 8x8 grid with 6 per cell, row-major (y, x, then the anchors of a cell).
//! Anchor size is fixed (the regressors carry absolute sizes), so only centres
//! matter. Centres are in normalised model-input coordinates [0, 1].

/// Number of anchors (and of score / regression rows) of both models.
pub const NUM_ANCHORS: usize = 896;

/// (grid side, anchors per cell) of the two output layers, in output order.
const LAYERS: [(usize, usize); 2] = [(16, 2), (8, 6)];

/// Anchor centres `[x, y]`, normalised to the model input.
pub fn generate() -> Vec<[f32; 2]> {
    let mut anchors = Vec::with_capacity(NUM_ANCHORS);
    for (n, per_cell) in LAYERS {
        for y in 0..n {
            for x in 0..n {
                let c = [(x as f32 + 0.5) / n as f32, (y as f32 + 0.5) / n as f32];
                for _ in 0..per_cell {
                    anchors.push(c);
                }
            }
        }
    }
    anchors
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_matches_the_model_outputs() {
        let a = generate();
        assert_eq!(a.len(), NUM_ANCHORS);
        // 512 rows of the first output: 16x16 cells, 2 each.
        assert_eq!(a[0], [0.5 / 16.0, 0.5 / 16.0]);
        assert_eq!(a[1], a[0]);
        assert_eq!(a[2], [1.5 / 16.0, 0.5 / 16.0]);
        // Cell (x=3, y=2) of the 16-grid starts at row (2*16+3)*2.
        assert_eq!(a[(2 * 16 + 3) * 2], [3.5 / 16.0, 2.5 / 16.0]);
        assert_eq!(a[511], [15.5 / 16.0, 15.5 / 16.0]);
        // 384 rows of the second output: 8x8 cells, 6 each.
        assert_eq!(a[512], [0.5 / 8.0, 0.5 / 8.0]);
        assert_eq!(a[517], a[512]);
        assert_eq!(a[518], [1.5 / 8.0, 0.5 / 8.0]);
        assert_eq!(a[512 + 8 * 6], [0.5 / 8.0, 1.5 / 8.0]);
        assert_eq!(a[895], [7.5 / 8.0, 7.5 / 8.0]);
    }
}
