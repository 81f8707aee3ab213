//! Full-batch training of one GNN, an epoch at a time, with model selection by validation
//! accuracy: the best epoch's weights are kept (a deep copy), and its test accuracy is the run's.
//!
//! Each epoch: a training forward pass (dropout on), the loss on the training split's labelled
//! nodes, one Adam step; then an evaluation pass (dropout off, no gradients) that scores the
//! three splits. Test accuracy is never used to choose anything.

use std::time::Instant;

use serde::{Deserialize, Serialize};
use tch::nn::{self, OptimizerConfig, VarStore};
use tch::{Tensor, no_grad};

use crate::config::{LossFn, ModelType};
use crate::model::Gnn;
use crate::objective::{accuracy, loss};
use crate::prepare::Prepared;

/// Adam's L2 weight decay, as in the GCN and GAT papers' setups.
pub const WEIGHT_DECAY: f64 = 5e-4;

/// What one epoch did (1-based `epoch`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EpochRecord {
    pub epoch: usize,
    pub loss: f64,
    pub train_accuracy: f64,
    pub val_accuracy: f64,
    pub best_val_accuracy: f64,
    pub best_epoch: usize,
    pub seconds: f64,
}

/// Whether an epoch with validation accuracy `acc` and loss `loss` is better than the best so
/// far: a higher accuracy, or the same accuracy with a lower loss (small validation sets tie
/// often, and the first of equals would freeze the choice early).
pub fn better(acc: f64, loss: f64, best_acc: f64, best_loss: f64) -> bool {
    acc > best_acc || (acc == best_acc && loss < best_loss)
}

/// The best epoch so far (see [`better`]).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BestSoFar {
    pub epoch: usize,
    pub val_accuracy: f64,
    pub val_loss: f64,
    pub train_accuracy: f64,
    pub test_accuracy: f64,
}

pub struct Trainer {
    vs: VarStore,
    model: Gnn,
    optimizer: nn::Optimizer,
    loss_fn: LossFn,
    /// Epochs done.
    pub epoch: usize,
    pub best: Option<BestSoFar>,
    best_weights: Vec<(String, Tensor)>,
    pub history: Vec<EpochRecord>,
}

fn snapshot(vs: &VarStore) -> Vec<(String, Tensor)> {
    let mut v: Vec<(String, Tensor)> = vs
        .variables()
        .into_iter()
        .map(|(n, t)| (n, t.detach().copy()))
        .collect();
    v.sort_by(|a, b| a.0.cmp(&b.0));
    v
}

#[derive(Debug, thiserror::Error)]
pub enum WeightsError {
    #[error("the saved weights do not fit this model: {0}")]
    Mismatch(String),
    #[error("libtorch: {0}")]
    Torch(#[from] tch::TchError),
}

impl Trainer {
    pub fn new(
        p: &Prepared,
        model: ModelType,
        hidden: usize,
        loss_fn: LossFn,
        learning_rate: f64,
        seed: i64,
    ) -> Result<Self, tch::TchError> {
        tch::manual_seed(seed);
        let vs = VarStore::new(p.device);
        let gnn = Gnn::new(&vs.root(), model, p.width, hidden as i64, loss_fn.outputs());
        let optimizer = nn::Adam::default()
            .wd(WEIGHT_DECAY)
            .build(&vs, learning_rate)?;
        Ok(Trainer {
            vs,
            model: gnn,
            optimizer,
            loss_fn,
            epoch: 0,
            best: None,
            best_weights: Vec::new(),
            history: Vec::new(),
        })
    }

    /// Train one epoch and score it.
    pub fn step(&mut self, p: &Prepared) -> EpochRecord {
        let started = Instant::now();
        let logits = self.model.forward(&p.x, &p.graph, true);
        let l = loss(self.loss_fn, &logits, &p.train, &p.y_train);
        self.optimizer.backward_step(&l);
        let loss_value = l.double_value(&[]);
        let logits = no_grad(|| self.model.forward(&p.x, &p.graph, false));
        let train_accuracy = accuracy(&logits, &p.train, &p.y_train);
        let val_accuracy = accuracy(&logits, &p.val, &p.y_val);
        let val_loss = loss(self.loss_fn, &logits, &p.val, &p.y_val).double_value(&[]);
        self.epoch += 1;
        if self
            .best
            .as_ref()
            .is_none_or(|b| better(val_accuracy, val_loss, b.val_accuracy, b.val_loss))
        {
            self.best = Some(BestSoFar {
                epoch: self.epoch,
                val_accuracy,
                val_loss,
                train_accuracy,
                test_accuracy: accuracy(&logits, &p.test, &p.y_test),
            });
            self.best_weights = snapshot(&self.vs);
        }
        let best = self.best.as_ref();
        let record = EpochRecord {
            epoch: self.epoch,
            loss: loss_value,
            train_accuracy,
            val_accuracy,
            best_val_accuracy: best.map_or(val_accuracy, |b| b.val_accuracy),
            best_epoch: best.map_or(self.epoch, |b| b.epoch),
            seconds: started.elapsed().as_secs_f64(),
        };
        self.history.push(record.clone());
        record
    }

    /// The current weights, sorted by name, copied.
    pub fn weights(&self) -> Vec<(String, Tensor)> {
        snapshot(&self.vs)
    }

    /// The best epoch's weights (the current ones before any epoch).
    pub fn best_weights(&self) -> Vec<(String, Tensor)> {
        if self.best_weights.is_empty() {
            self.weights()
        } else {
            self.best_weights
                .iter()
                .map(|(n, t)| (n.clone(), t.copy()))
                .collect()
        }
    }

    /// Logits of every node with the current weights, evaluation mode.
    pub fn predict(&self, p: &Prepared) -> Tensor {
        no_grad(|| self.model.forward(&p.x, &p.graph, false))
    }

    /// Continue from a saved state: the last weights, the best weights and the record so far.
    pub fn resume(
        &mut self,
        last: &[(String, Tensor)],
        best_weights: &[(String, Tensor)],
        best: BestSoFar,
        history: Vec<EpochRecord>,
    ) -> Result<(), WeightsError> {
        self.load(last)?;
        let current = self.weights();
        check_fits(&current, best_weights)?;
        self.best_weights = best_weights
            .iter()
            .map(|(n, t)| (n.clone(), t.to_device(self.vs.device())))
            .collect();
        self.epoch = history.last().map_or(0, |r| r.epoch);
        self.best = Some(best);
        self.history = history;
        Ok(())
    }

    /// Copy `weights` into the model's variables.
    pub fn load(&mut self, weights: &[(String, Tensor)]) -> Result<(), WeightsError> {
        check_fits(&self.weights(), weights)?;
        let vars = self.vs.variables();
        for (name, t) in weights {
            if let Some(v) = vars.get(name) {
                let mut v = v.shallow_clone();
                no_grad(|| v.f_copy_(&t.to_device(v.device())))?;
            }
        }
        Ok(())
    }

    /// Load the best weights into the model (for a final evaluation or export).
    pub fn restore_best(&mut self) -> Result<(), WeightsError> {
        let best = self.best_weights();
        self.load(&best)
    }
}

fn check_fits(model: &[(String, Tensor)], saved: &[(String, Tensor)]) -> Result<(), WeightsError> {
    let shape = |v: &[(String, Tensor)]| -> Vec<(String, Vec<i64>)> {
        v.iter().map(|(n, t)| (n.clone(), t.size())).collect()
    };
    let mut a = shape(model);
    let mut b = shape(saved);
    a.sort();
    b.sort();
    if a != b {
        return Err(WeightsError::Mismatch(format!(
            "model has {a:?}, the file has {b:?}"
        )));
    }
    Ok(())
}
