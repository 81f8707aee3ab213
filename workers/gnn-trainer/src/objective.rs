//! Losses and accuracy on a subset of nodes. With one logit (BCE) the prediction is
//! `logit > 0`; with two (CE, focal) the larger logit.

use tch::{Kind, Reduction, Tensor};

use crate::config::LossFn;

/// Focal loss's focusing parameter γ (Lin et al. 2017).
pub const FOCAL_GAMMA: f64 = 2.0;

pub fn loss(kind: LossFn, logits: &Tensor, idx: &Tensor, y: &Tensor) -> Tensor {
    let z = logits.index_select(0, idx);
    match kind {
        LossFn::Ce => z.cross_entropy_for_logits(y),
        LossFn::Bce => z.squeeze_dim(1).binary_cross_entropy_with_logits::<Tensor>(
            &y.to_kind(Kind::Float),
            None,
            None,
            Reduction::Mean,
        ),
        LossFn::Focal => {
            let log_pt = z
                .log_softmax(1, Kind::Float)
                .gather(1, &y.unsqueeze(1), false)
                .squeeze_dim(1);
            let pt = log_pt.exp();
            let weight = (-pt + 1.0).pow_tensor_scalar(FOCAL_GAMMA);
            (-(weight * log_pt)).mean(Kind::Float)
        }
    }
}

pub fn predictions(logits: &Tensor) -> Tensor {
    if logits.size()[1] == 1 {
        logits.squeeze_dim(1).gt(0.0).to_kind(Kind::Int64)
    } else {
        logits.argmax(1, false)
    }
}

/// Share of `idx` whose prediction equals `y`.
pub fn accuracy(logits: &Tensor, idx: &Tensor, y: &Tensor) -> f64 {
    if idx.size()[0] == 0 {
        return 0.0;
    }
    predictions(&logits.index_select(0, idx))
        .eq_tensor(y)
        .to_kind(Kind::Float)
        .mean(Kind::Float)
        .double_value(&[])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accuracy_with_one_or_two_logits() {
        let two = Tensor::from_slice(&[1f32, 0., 0., 1., 3., 2.]).view([3, 2]);
        let idx = Tensor::from_slice(&[0i64, 1, 2]);
        let y = Tensor::from_slice(&[0i64, 1, 1]);
        assert!((accuracy(&two, &idx, &y) - 2.0 / 3.0).abs() < 1e-6);
        let one = Tensor::from_slice(&[-1f32, 2., 0.5]).view([3, 1]);
        assert!((accuracy(&one, &idx, &y) - 1.0).abs() < 1e-9);
    }

    #[test]
    fn focal_loss_is_below_cross_entropy() {
        let z = Tensor::from_slice(&[2f32, 0., 0., 1., -1., 1.]).view([3, 2]);
        let idx = Tensor::from_slice(&[0i64, 1, 2]);
        let y = Tensor::from_slice(&[0i64, 1, 0]);
        let ce = loss(LossFn::Ce, &z, &idx, &y).double_value(&[]);
        let focal = loss(LossFn::Focal, &z, &idx, &y).double_value(&[]);
        assert!(focal > 0.0 && focal < ce, "focal {focal} ce {ce}");
    }
}
