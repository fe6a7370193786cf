//! Camera degradations of a 48x48 FER+ face for the evaluator's robustness table.
//!
//! The same definitions as `training/lowres_fer_training/degrade.py` (its `NAMED` set): each acts at the
//! face's native resolution R — blurs are drawn at 48 px scaled by 48/R, the sampling
//! kernel takes 48 px to R, then exposure, sensor noise and JPEG at R — and the crop is
//! resized to the model input with Pillow's bilinear filter, as the node does. Kernels,
//! blurs, gamma and contrast agree with Python to the pixel (crates/lowres_fer_lab/tests/degrade_vector.rs);
//! noise (another generator) and JPEG (another encoder) agree in kind only.

use image::GrayImage;

use lowres_fer::imaging::resample::{resize_nearest, Filter, Resizer};

/// How 48 px become R px.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kernel {
    Bilinear,
    Nearest,
    Area,
    Bicubic,
}

/// One camera: every field `None` (and a bilinear kernel) is the clean protocol.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Spec {
    pub kernel: Kernel,
    /// Gaussian defocus, sigma in native pixels.
    pub defocus: Option<f64>,
    /// Horizontal motion blur, length in native pixels.
    pub motion: Option<f64>,
    /// Exposure curve v' = 255 (v/255)^gamma.
    pub gamma: Option<f64>,
    /// Contrast factor around the crop's mean.
    pub contrast: Option<f64>,
    /// Gaussian sensor noise, sigma in grey levels.
    pub noise: Option<f64>,
    /// JPEG quality of the native-size crop.
    pub jpeg: Option<u8>,
}

pub const CLEAN: Spec = Spec {
    kernel: Kernel::Bilinear,
    defocus: None,
    motion: None,
    gamma: None,
    contrast: None,
    noise: None,
    jpeg: None,
};

/// The robustness table's columns, one setting each (training/lowres_fer_training/degrade.py `NAMED`).
pub const NAMED: &[(&str, Spec)] = &[
    ("clean", CLEAN),
    (
        "nearest",
        Spec {
            kernel: Kernel::Nearest,
            ..CLEAN
        },
    ),
    (
        "area",
        Spec {
            kernel: Kernel::Area,
            ..CLEAN
        },
    ),
    (
        "bicubic",
        Spec {
            kernel: Kernel::Bicubic,
            ..CLEAN
        },
    ),
    (
        "jpeg_q30",
        Spec {
            jpeg: Some(30),
            ..CLEAN
        },
    ),
    (
        "noise_s8",
        Spec {
            noise: Some(8.0),
            ..CLEAN
        },
    ),
    (
        "defocus_s0.7",
        Spec {
            defocus: Some(0.7),
            ..CLEAN
        },
    ),
    (
        "motion_l2",
        Spec {
            motion: Some(2.0),
            ..CLEAN
        },
    ),
    (
        "gamma_dark",
        Spec {
            gamma: Some(1.8),
            ..CLEAN
        },
    ),
    (
        "gamma_bright",
        Spec {
            gamma: Some(0.55),
            ..CLEAN
        },
    ),
    (
        "contrast_0.5",
        Spec {
            contrast: Some(0.5),
            ..CLEAN
        },
    ),
];

/// A small seeded generator (SplitMix64) with Box-Muller normals: deterministic noise
/// for a reproducible table without another dependency.
#[derive(Debug, Clone)]
pub struct Noise(u64);

impl Noise {
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in (0, 1].
    fn uniform(&mut self) -> f64 {
        ((self.next_u64() >> 11) as f64 + 1.0) / (1u64 << 53) as f64
    }

    pub fn normal(&mut self) -> f64 {
        let (u, v) = (self.uniform(), self.uniform());
        (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
    }
}

fn gaussian_kernel(sigma: f64) -> Vec<f64> {
    let radius = ((3.0 * sigma).ceil() as i64).max(1);
    let k: Vec<f64> = (-radius..=radius)
        .map(|x| (-0.5 * (x as f64 / sigma).powi(2)).exp())
        .collect();
    let sum: f64 = k.iter().sum();
    k.into_iter().map(|v| v / sum).collect()
}

/// Separable convolution with replicated edges, summed in the order numpy does in
/// training/lowres_fer_training/degrade.py (tap by tap over the whole image), rows first.
fn convolve(img: &[f64], w: usize, h: usize, kx: &[f64], ky: &[f64]) -> Vec<f64> {
    let (rx, ry) = (kx.len() / 2, ky.len() / 2);
    let clamp = |v: isize, n: usize| v.clamp(0, n as isize - 1) as usize;
    let mut tmp = vec![0.0; w * h];
    for (i, &k) in kx.iter().enumerate() {
        for y in 0..h {
            for x in 0..w {
                let sx = clamp(x as isize + i as isize - rx as isize, w);
                tmp[y * w + x] += k * img[y * w + sx];
            }
        }
    }
    let mut out = vec![0.0; w * h];
    for (i, &k) in ky.iter().enumerate() {
        for y in 0..h {
            let sy = clamp(y as isize + i as isize - ry as isize, h);
            for x in 0..w {
                out[y * w + x] += k * tmp[sy * w + x];
            }
        }
    }
    out
}

fn to_u8(v: f64) -> u8 {
    v.round_ties_even().clamp(0.0, 255.0) as u8
}

fn motion_kernel(length_native: f64, resolution: u32) -> Vec<f64> {
    let n = ((length_native * 48.0 / resolution as f64).round_ties_even() as usize).max(1);
    let k = vec![1.0 / n as f64; n];
    if n % 2 == 1 {
        return k;
    }
    // Odd support, centred: np.convolve(k, [0.5, 0.5]).
    let mut out = vec![0.0; n + 1];
    for (i, &v) in k.iter().enumerate() {
        out[i] += 0.5 * v;
        out[i + 1] += 0.5 * v;
    }
    out
}

/// Reusable state for [`apply`]: the resampler and a noise generator.
pub struct Degrader {
    resizer: Resizer,
    pub noise: Noise,
}

impl Degrader {
    pub fn new(seed: u64) -> Self {
        Self {
            resizer: Resizer::new(),
            noise: Noise::new(seed),
        }
    }

    /// The face at its native resolution `resolution` under `spec` (before the resize
    /// to the model input).
    pub fn native(&mut self, face: &GrayImage, resolution: u32, spec: &Spec) -> GrayImage {
        let (w, h) = face.dimensions();
        let (wu, hu) = (w as usize, h as usize);
        let mut src: Vec<u8> = face.as_raw().clone();
        if spec.defocus.is_some() || spec.motion.is_some() {
            let mut f: Vec<f64> = src.iter().map(|&v| v as f64).collect();
            if let Some(sigma) = spec.defocus {
                let k = gaussian_kernel(sigma * 48.0 / resolution as f64);
                f = convolve(&f, wu, hu, &k, &k);
            }
            if let Some(len) = spec.motion {
                f = convolve(&f, wu, hu, &motion_kernel(len, resolution), &[1.0]);
            }
            src = f.into_iter().map(to_u8).collect();
        }
        let r = resolution as usize;
        let mut low = GrayImage::new(resolution, resolution);
        if r == wu && r == hu {
            low.copy_from_slice(&src);
        } else {
            match spec.kernel {
                Kernel::Nearest => resize_nearest(&src, wu, hu, &mut low, r, r),
                k => {
                    let filter = match k {
                        Kernel::Area => Filter::Box,
                        Kernel::Bicubic => Filter::Bicubic,
                        _ => Filter::Bilinear,
                    };
                    self.resizer
                        .resize_with(filter, &src, wu, hu, &mut low, r, r)
                }
            }
        }
        if let Some(g) = spec.gamma {
            for v in low.iter_mut() {
                *v = to_u8(255.0 * (*v as f64 / 255.0).powf(g));
            }
        }
        if let Some(c) = spec.contrast {
            let mean = low.iter().map(|&v| v as f64).sum::<f64>() / low.len() as f64;
            for v in low.iter_mut() {
                *v = to_u8((*v as f64 - mean) * c + mean);
            }
        }
        if let Some(sigma) = spec.noise {
            for v in low.iter_mut() {
                *v = to_u8(*v as f64 + sigma * self.noise.normal());
            }
        }
        if let Some(q) = spec.jpeg {
            low = jpeg_round_trip(&low, q);
        }
        low
    }

    /// The face under `spec` at `resolution`, resized to the model input.
    pub fn apply(
        &mut self,
        face: &GrayImage,
        resolution: u32,
        input_size: u32,
        spec: &Spec,
    ) -> GrayImage {
        let low = self.native(face, resolution, spec);
        let s = input_size as usize;
        let mut out = GrayImage::new(input_size, input_size);
        self.resizer.resize(
            low.as_raw(),
            resolution as usize,
            resolution as usize,
            &mut out,
            s,
            s,
        );
        out
    }
}

/// Encode and decode with the `image` crate's baseline JPEG encoder. An encoder error
/// cannot happen for an in-memory 8-bit image; should it, the crop is returned as is.
fn jpeg_round_trip(img: &GrayImage, quality: u8) -> GrayImage {
    let mut buf = Vec::new();
    let enc = image::codecs::jpeg::JpegEncoder::new_with_quality(&mut buf, quality);
    if image::ImageEncoder::write_image(
        enc,
        img.as_raw(),
        img.width(),
        img.height(),
        image::ExtendedColorType::L8,
    )
    .is_err()
    {
        return img.clone();
    }
    match image::load_from_memory_with_format(&buf, image::ImageFormat::Jpeg) {
        Ok(decoded) => decoded.to_luma8(),
        Err(_) => img.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn face() -> GrayImage {
        GrayImage::from_fn(48, 48, |x, y| image::Luma([((x * 5 + y * 3) % 256) as u8]))
    }

    #[test]
    fn clean_is_the_protocol() {
        let mut d = Degrader::new(1);
        let mut r = Resizer::new();
        let want = lowres_fer::classify::degrade(&face(), 10, 32, &mut r);
        assert_eq!(d.apply(&face(), 10, 32, &CLEAN), want);
    }

    #[test]
    fn every_named_degradation_changes_the_crop_but_keeps_its_size() {
        let mut d = Degrader::new(1);
        let clean = d.apply(&face(), 10, 32, &CLEAN);
        for (name, spec) in &NAMED[1..] {
            let out = d.apply(&face(), 10, 32, spec);
            assert_eq!(out.dimensions(), (32, 32), "{name}");
            assert_ne!(out, clean, "{name} left the crop unchanged");
        }
    }

    #[test]
    fn noise_is_standard_normal() {
        let mut n = Noise::new(7);
        let v: Vec<f64> = (0..20_000).map(|_| n.normal()).collect();
        let mean = v.iter().sum::<f64>() / v.len() as f64;
        let var = v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / v.len() as f64;
        assert!(
            mean.abs() < 0.03 && (var - 1.0).abs() < 0.05,
            "{mean} {var}"
        );
    }
}
