//! Image transforms with the course's random-draw conventions (images are H×W×C).

use super::array::Array;
use crate::random::NumpyRng;

/// A change applied to one item's image before batching.
pub trait Transform: Send + Sync {
    /// Returns the transformed image, drawing any randomness from `rng`.
    fn apply(&self, image: Array, rng: &mut NumpyRng) -> Array;
}

/// Reverses the width axis with probability `p`; exactly one uniform draw per call, even when
/// p is 0 or 1, as the course does.
pub struct RandomFlipHorizontal {
    /// Flip probability.
    pub p: f64,
}

impl RandomFlipHorizontal {
    /// Flips with probability `p`.
    pub fn new(p: f64) -> Self {
        RandomFlipHorizontal { p }
    }
}

impl Default for RandomFlipHorizontal {
    fn default() -> Self {
        RandomFlipHorizontal { p: 0.5 }
    }
}

impl Transform for RandomFlipHorizontal {
    fn apply(&self, image: Array, rng: &mut NumpyRng) -> Array {
        let flip = rng.random_sample() < self.p;
        if !flip {
            return image;
        }
        let (h, w, c) = hwc(&image);
        let src = image.as_f32();
        let mut out = Vec::with_capacity(src.len());
        for y in 0..h {
            for x in (0..w).rev() {
                out.extend_from_slice(&src[(y * w + x) * c..(y * w + x + 1) * c]);
            }
        }
        Array::f32(out, &image.shape)
    }
}

/// Zero-pads by `padding` on each side and takes the H×W window shifted by
/// `(shift_x, shift_y) = randint(−padding, padding+1, size=2)` (one draw of two values).
pub struct RandomCrop {
    /// Padding (and largest shift) in pixels.
    pub padding: usize,
}

impl RandomCrop {
    /// Crops with shifts up to `padding` pixels.
    pub fn new(padding: usize) -> Self {
        RandomCrop { padding }
    }
}

impl Transform for RandomCrop {
    fn apply(&self, image: Array, rng: &mut NumpyRng) -> Array {
        let p = self.padding as i64;
        let shift_x = rng.randint(-p, p + 1);
        let shift_y = rng.randint(-p, p + 1);
        let (h, w, c) = hwc(&image);
        let src = image.as_f32();
        let mut out = vec![0.0f32; src.len()];
        for y in 0..h as i64 {
            let sy = y + shift_x;
            if sy < 0 || sy >= h as i64 {
                continue;
            }
            for x in 0..w as i64 {
                let sx = x + shift_y;
                if sx < 0 || sx >= w as i64 {
                    continue;
                }
                let (dst, from) = (
                    ((y * w as i64 + x) as usize) * c,
                    ((sy * w as i64 + sx) as usize) * c,
                );
                out[dst..dst + c].copy_from_slice(&src[from..from + c]);
            }
        }
        Array::f32(out, &image.shape)
    }
}

/// `(x − mean) / std`, elementwise.
pub struct Normalize {
    /// Subtracted.
    pub mean: f32,
    /// Divided by.
    pub std: f32,
}

impl Transform for Normalize {
    fn apply(&self, image: Array, _rng: &mut NumpyRng) -> Array {
        let data = image
            .as_f32()
            .iter()
            .map(|v| (v - self.mean) / self.std)
            .collect();
        Array::f32(data, &image.shape)
    }
}

/// Several transforms applied in order.
pub struct Compose(pub Vec<Box<dyn Transform>>);

impl Transform for Compose {
    fn apply(&self, mut image: Array, rng: &mut NumpyRng) -> Array {
        for t in &self.0 {
            image = t.apply(image, rng);
        }
        image
    }
}

#[track_caller]
fn hwc(image: &Array) -> (usize, usize, usize) {
    match image.shape.as_slice() {
        &[h, w, c] => (h, w, c),
        other => panic!("image transforms take H×W×C arrays, got shape {other:?}"),
    }
}
