//! The two baselines every run is measured against, on the same split and features:
//! the training split's majority class, and a graph-free logistic regression (one linear layer,
//! full-batch Adam, the same learning rate, weight decay and epoch count cap as
//! [`LOGISTIC_EPOCHS`], selected by validation accuracy, then loss, like the GNN).

use serde::Serialize;
use tch::Tensor;
use tch::nn::{self, OptimizerConfig, VarStore};

use crate::dataset::CLASSES;
use crate::objective::accuracy;
use crate::prepare::Prepared;
use crate::trainer::{WEIGHT_DECAY, better};

pub const LOGISTIC_EPOCHS: usize = 200;

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Baselines {
    pub majority_class: i64,
    pub majority_accuracy: f64,
    pub logistic_accuracy: f64,
    pub logistic_val_accuracy: f64,
}

/// The most frequent label of `train` (ties: the smaller label) and its share of `test`.
pub fn majority(train: &[i64], test: &[i64]) -> (i64, f64) {
    let ones = train.iter().filter(|&&y| y == 1).count();
    let class = i64::from(ones * 2 > train.len());
    let hits = test.iter().filter(|&&y| y == class).count();
    (class, hits as f64 / test.len().max(1) as f64)
}

fn labels(t: &Tensor) -> Vec<i64> {
    Vec::<i64>::try_from(t).unwrap_or_default()
}

/// Logistic regression on the node's own (standardised) features: test accuracy at the best
/// validation accuracy, and that validation accuracy.
pub fn logistic(p: &Prepared, learning_rate: f64, seed: i64) -> Result<(f64, f64), tch::TchError> {
    tch::manual_seed(seed);
    let vs = VarStore::new(p.device);
    let root = vs.root();
    let w = root.var("weight", &[p.width, CLASSES], nn::Init::Const(0.0));
    let b = root.zeros("bias", &[CLASSES]);
    let mut opt = nn::Adam::default()
        .wd(WEIGHT_DECAY)
        .build(&vs, learning_rate)?;
    let (mut best_val, mut best_loss, mut best_test) = (-1.0, f64::INFINITY, 0.0);
    for _ in 0..LOGISTIC_EPOCHS {
        let logits = p.x.mm(&w) + &b;
        let loss = logits
            .index_select(0, &p.train)
            .cross_entropy_for_logits(&p.y_train);
        opt.backward_step(&loss);
        let logits = tch::no_grad(|| p.x.mm(&w) + &b);
        let val = accuracy(&logits, &p.val, &p.y_val);
        let val_loss = logits
            .index_select(0, &p.val)
            .cross_entropy_for_logits(&p.y_val)
            .double_value(&[]);
        if better(val, val_loss, best_val, best_loss) {
            best_val = val;
            best_loss = val_loss;
            best_test = accuracy(&logits, &p.test, &p.y_test);
        }
    }
    Ok((best_test, best_val.max(0.0)))
}

pub fn run(p: &Prepared, learning_rate: f64, seed: i64) -> Result<Baselines, tch::TchError> {
    let (majority_class, majority_accuracy) = majority(&labels(&p.y_train), &labels(&p.y_test));
    let (logistic_accuracy, logistic_val_accuracy) = logistic(p, learning_rate, seed)?;
    Ok(Baselines {
        majority_class,
        majority_accuracy,
        logistic_accuracy,
        logistic_val_accuracy,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn majority_of_the_training_labels_scored_on_test() {
        assert_eq!(majority(&[1, 1, 0], &[1, 0, 0, 0]), (1, 0.25));
        assert_eq!(majority(&[0, 0, 1], &[1, 0, 0, 0]), (0, 0.75));
        // A tie goes to 0.
        assert_eq!(majority(&[0, 1], &[1, 1]), (0, 0.0));
    }
}

#[cfg(test)]
mod logistic_tests {
    use super::*;
    use crate::dataset::Dataset;
    use tch::Device;

    #[test]
    fn logistic_regression_learns_a_linearly_separable_label() {
        // 60 windows of one node; the label is the sign of the node's own first feature.
        let n = 60usize;
        let mut features = Vec::new();
        let mut labels = Vec::new();
        for i in 0..n {
            let a = ((i * 37) % 17) as f32 - 8.5;
            features.extend([a, ((i * 13) % 7) as f32]);
            labels.push(Some(i64::from(a > 0.0)));
        }
        let d = Dataset {
            feature_names: vec!["a".into(), "b".into()],
            features,
            labels,
            label_name: "y".into(),
            window_start: (0..n as i64).collect(),
            src: vec![],
            dst: vec![],
            label_horizon: 1,
        };
        let p = Prepared::new(&d, Device::Cpu).unwrap();
        let b = run(&p, 0.05, 1).unwrap();
        assert!(b.logistic_accuracy > 0.95, "{b:?}");
        assert!(b.logistic_val_accuracy > 0.95, "{b:?}");
    }
}
