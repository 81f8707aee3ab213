//! A two-layer GNN: `conv1 → ReLU → dropout → conv2`, logits per node. GAT's first layer has
//! [`GAT_HEADS`] heads of `hidden / heads` units (at least 1) concatenated, its output layer one.

use tch::Tensor;
use tch::nn::Path;

use crate::config::ModelType;
use crate::layers::{GatLayer, GcnLayer, SageLayer};
use crate::message::GraphTensors;

pub const DROPOUT: f64 = 0.5;
pub const GAT_HEADS: i64 = 4;

enum Layer {
    Gcn(GcnLayer),
    Sage(SageLayer),
    Gat(GatLayer),
}

impl Layer {
    fn forward(&self, x: &Tensor, g: &GraphTensors) -> Tensor {
        match self {
            Layer::Gcn(l) => l.forward(x, g),
            Layer::Sage(l) => l.forward(x, g),
            Layer::Gat(l) => l.forward(x, g),
        }
    }
}

pub struct Gnn {
    conv1: Layer,
    conv2: Layer,
    pub dropout: f64,
}

/// GAT's units per head in the first layer for a hidden size.
pub fn gat_per_head(hidden: i64) -> i64 {
    (hidden / GAT_HEADS).max(1)
}

impl Gnn {
    pub fn new(p: &Path, model: ModelType, input: i64, hidden: i64, output: i64) -> Self {
        let (c1, c2) = (p / "conv1", p / "conv2");
        let (conv1, conv2) = match model {
            ModelType::Gcn => (
                Layer::Gcn(GcnLayer::new(&c1, input, hidden)),
                Layer::Gcn(GcnLayer::new(&c2, hidden, output)),
            ),
            ModelType::Sage => (
                Layer::Sage(SageLayer::new(&c1, input, hidden)),
                Layer::Sage(SageLayer::new(&c2, hidden, output)),
            ),
            ModelType::Gat => {
                let per_head = gat_per_head(hidden);
                (
                    Layer::Gat(GatLayer::new(&c1, input, per_head, GAT_HEADS, true)),
                    Layer::Gat(GatLayer::new(&c2, per_head * GAT_HEADS, output, 1, false)),
                )
            }
        };
        Gnn {
            conv1,
            conv2,
            dropout: DROPOUT,
        }
    }

    /// Logits `[n, output]`; `train` turns dropout on.
    pub fn forward(&self, x: &Tensor, g: &GraphTensors, train: bool) -> Tensor {
        let h = self.conv1.forward(x, g).relu().dropout(self.dropout, train);
        self.conv2.forward(&h, g)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::nn::VarStore;
    use tch::{Device, Kind};

    fn set(vs: &VarStore, name: &str, values: &[f32]) {
        let vars = vs.variables();
        let mut t = vars
            .get(name)
            .unwrap_or_else(|| panic!("{name} in {:?}", vars.keys()))
            .shallow_clone();
        let shape = t.size();
        tch::no_grad(|| t.copy_(&Tensor::from_slice(values).view(shape.as_slice())));
    }

    fn rows(t: &Tensor) -> Vec<Vec<f32>> {
        Vec::<Vec<f32>>::try_from(t).unwrap()
    }

    /// 3-node path 0 → 1 → 2, one feature per node.
    fn path() -> (Tensor, GraphTensors) {
        let x = Tensor::from_slice(&[1f32, 2., 4.]).view([3, 1]);
        (x, GraphTensors::new(3, &[0, 1], &[1, 2], Device::Cpu))
    }

    #[test]
    fn gcn_layer_matches_a_hand_computation() {
        let vs = VarStore::new(Device::Cpu);
        let layer = GcnLayer::new(&(vs.root() / "c"), 1, 1);
        set(&vs, "c.weight", &[2.0]);
        set(&vs, "c.bias", &[0.5]);
        let (x, g) = path();
        let out = rows(&layer.forward(&x, &g));
        // Degrees with loops: 1, 2, 2. h = 2x = (2, 4, 8).
        // out0 = h0/1; out1 = h0/√2 + h1/2; out2 = h1/2 + h2/2; all + 0.5.
        let want = [2.0 + 0.5, 2.0 / 2f32.sqrt() + 2.0 + 0.5, 2.0 + 4.0 + 0.5];
        for (o, w) in out.iter().zip(want) {
            assert!((o[0] - w).abs() < 1e-5, "{out:?}");
        }
    }

    #[test]
    fn sage_layer_takes_the_mean_of_incoming_neighbours_plus_the_root() {
        let vs = VarStore::new(Device::Cpu);
        let layer = SageLayer::new(&(vs.root() / "c"), 1, 1);
        set(&vs, "c.lin_l.weight", &[3.0]);
        set(&vs, "c.lin_l.bias", &[0.25]);
        set(&vs, "c.lin_r.weight", &[10.0]);
        // 0 → 2 and 1 → 2: node 2's mean is (1 + 2) / 2.
        let x = Tensor::from_slice(&[1f32, 2., 4.]).view([3, 1]);
        let g = GraphTensors::new(3, &[0, 1], &[2, 2], Device::Cpu);
        let out = rows(&layer.forward(&x, &g));
        assert_eq!(
            out,
            vec![vec![10.25], vec![20.25], vec![3.0 * 1.5 + 0.25 + 40.0]]
        );
    }

    #[test]
    fn gat_attention_sums_to_one_per_destination_and_weights_messages() {
        tch::manual_seed(1);
        let vs = VarStore::new(Device::Cpu);
        let layer = GatLayer::new(&(vs.root() / "c"), 2, 3, 2, true);
        let x = Tensor::randn([4, 2], (Kind::Float, Device::Cpu));
        let g = GraphTensors::new(4, &[0, 1, 2, 3, 0], &[1, 1, 1, 2, 3], Device::Cpu);
        let (alpha, h) = layer.attention(&x, &g);
        let sums =
            Tensor::zeros([4, 2], (Kind::Float, Device::Cpu)).index_add(0, &g.dst_loops, &alpha);
        for s in rows(&sums) {
            assert!(s.iter().all(|v| (v - 1.0).abs() < 1e-5), "{s:?}");
        }
        // Node 0 has only its self loop: its output is its own projection.
        let out = rows(&layer.forward(&x, &g));
        let h0 = rows(&h.view([4, 6]));
        for (a, b) in out[0].iter().zip(&h0[0]) {
            assert!((a - b).abs() < 1e-5);
        }
    }
}
