//! Feature standardisation with statistics of the training windows only: the mean and the
//! (population) standard deviation of each feature over the nodes of the training windows; a
//! constant feature keeps a deviation of 1 so it maps to 0 everywhere.

use serde::Serialize;

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Standardizer {
    pub mean: Vec<f64>,
    pub std: Vec<f64>,
}

impl Standardizer {
    /// Fit on the rows `rows` of the row-major `n × width` matrix `x`.
    pub fn fit(x: &[f32], width: usize, rows: &[usize]) -> Self {
        let mut mean = vec![0f64; width];
        let mut sq = vec![0f64; width];
        let count = rows.len().max(1) as f64;
        for &r in rows {
            for j in 0..width {
                mean[j] += f64::from(x[r * width + j]);
            }
        }
        mean.iter_mut().for_each(|m| *m /= count);
        for &r in rows {
            for j in 0..width {
                let d = f64::from(x[r * width + j]) - mean[j];
                sq[j] += d * d;
            }
        }
        let std = sq
            .iter()
            .map(|s| {
                let sd = (s / count).sqrt();
                if sd.is_finite() && sd > 1e-12 {
                    sd
                } else {
                    1.0
                }
            })
            .collect();
        Standardizer { mean, std }
    }

    /// `(x - mean) / std`, every row.
    pub fn apply(&self, x: &[f32]) -> Vec<f32> {
        let width = self.mean.len().max(1);
        x.iter()
            .enumerate()
            .map(|(i, v)| {
                let j = i % width;
                ((f64::from(*v) - self.mean[j]) / self.std[j]) as f32
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statistics_come_from_the_training_rows_only() {
        // Two features, four rows; rows 0 and 1 are training.
        let x = [1.0, 5.0, 3.0, 5.0, 100.0, -7.0, 1000.0, 9.0];
        let s = Standardizer::fit(&x, 2, &[0, 1]);
        assert_eq!(s.mean, vec![2.0, 5.0]);
        assert_eq!(s.std, vec![1.0, 1.0]); // the constant second feature keeps 1
        let y = s.apply(&x);
        assert_eq!(&y[..4], &[-1.0, 0.0, 1.0, 0.0]);
        assert_eq!(y[4], 98.0); // test rows use the training statistics, unrefitted
    }
}
