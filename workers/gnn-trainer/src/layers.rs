//! The three graph convolutions, written with the sparse operations of `message`. Weights are
//! `[in, out]` (so `x.mm(w)`), initialised Glorot-uniform, biases zero; the names of the
//! parameters are those of the checkpoint's state dict (`conv1.weight`, `conv1.lin_l.bias`, ...).
//!
//! * GCN (Kipf & Welling): `out = Â (x W) + b`, `Â` the symmetric normalisation with self loops.
//! * GraphSAGE (mean): `out = mean_{j→i} x_j · W_l + b_l + x_i · W_r`; a node without incoming
//!   edges gets only its root term. The mean is taken after `W_l` when that is narrower (the
//!   same value, since the mean is linear).
//! * GAT (Veličković et al.): per head `h = x W`, score `LeakyReLU_0.2(a_src·h_j + a_dst·h_i)`
//!   over the incoming edges and a self loop, softmax per destination, `out_i = Σ α_ij h_j`;
//!   heads concatenated (or averaged in an output layer), plus a bias.

use tch::Tensor;
use tch::nn::{Init, Path};

use crate::message::{GraphTensors, propagate, segment_softmax};

/// GAT's slope of LeakyReLU on attention scores.
pub const GAT_NEGATIVE_SLOPE: f64 = 0.2;

fn glorot(p: &Path, name: &str, dims: &[i64], fan_in: i64, fan_out: i64) -> Tensor {
    let bound = (6.0 / (fan_in + fan_out) as f64).sqrt();
    p.var(
        name,
        dims,
        Init::Uniform {
            lo: -bound,
            up: bound,
        },
    )
}

pub struct GcnLayer {
    weight: Tensor,
    bias: Tensor,
}

impl GcnLayer {
    pub fn new(p: &Path, input: i64, output: i64) -> Self {
        GcnLayer {
            weight: glorot(p, "weight", &[input, output], input, output),
            bias: p.zeros("bias", &[output]),
        }
    }

    pub fn forward(&self, x: &Tensor, g: &GraphTensors) -> Tensor {
        let h = x.mm(&self.weight);
        propagate(&h, &g.src_loops, &g.dst_loops, Some(&g.gcn_norm), g.nodes) + &self.bias
    }
}

pub struct SageLayer {
    lin_l: Tensor,
    bias_l: Tensor,
    lin_r: Tensor,
}

impl SageLayer {
    pub fn new(p: &Path, input: i64, output: i64) -> Self {
        let l = p / "lin_l";
        let r = p / "lin_r";
        SageLayer {
            lin_l: glorot(&l, "weight", &[input, output], input, output),
            bias_l: l.zeros("bias", &[output]),
            lin_r: glorot(&r, "weight", &[input, output], input, output),
        }
    }

    pub fn forward(&self, x: &Tensor, g: &GraphTensors) -> Tensor {
        let (input, output) = (self.lin_l.size()[0], self.lin_l.size()[1]);
        let neighbours = if output < input {
            propagate(&x.mm(&self.lin_l), &g.src, &g.dst, None, g.nodes) / &g.in_degree
        } else {
            (propagate(x, &g.src, &g.dst, None, g.nodes) / &g.in_degree).mm(&self.lin_l)
        };
        neighbours + &self.bias_l + x.mm(&self.lin_r)
    }
}

pub struct GatLayer {
    weight: Tensor,
    att_src: Tensor,
    att_dst: Tensor,
    bias: Tensor,
    heads: i64,
    per_head: i64,
    concat: bool,
}

impl GatLayer {
    /// `heads` heads of `per_head` units; `concat`: output `heads × per_head`, else the mean.
    pub fn new(p: &Path, input: i64, per_head: i64, heads: i64, concat: bool) -> Self {
        let out = heads * per_head;
        GatLayer {
            weight: glorot(p, "weight", &[input, out], input, out),
            att_src: glorot(p, "att_src", &[heads, per_head], heads, per_head),
            att_dst: glorot(p, "att_dst", &[heads, per_head], heads, per_head),
            bias: p.zeros("bias", &[if concat { out } else { per_head }]),
            heads,
            per_head,
            concat,
        }
    }

    /// The attention of every edge with loops (`[E + n, heads]`) and the projected nodes.
    pub fn attention(&self, x: &Tensor, g: &GraphTensors) -> (Tensor, Tensor) {
        let h = x.mm(&self.weight).view([-1, self.heads, self.per_head]);
        let a_src = (&h * &self.att_src).sum_dim_intlist(-1, false, None);
        let a_dst = (&h * &self.att_dst).sum_dim_intlist(-1, false, None);
        let s = a_src.index_select(0, &g.src_loops) + a_dst.index_select(0, &g.dst_loops);
        // LeakyReLU with slope 0.2 (tch's leaky_relu has 0.01 fixed): relu(s)·0.8 + s·0.2.
        // Elementwise ops with cheap gradients; `maximum(s, 0.2·s)` costs ten times as much.
        let s = s.relu() * (1.0 - GAT_NEGATIVE_SLOPE) + &s * GAT_NEGATIVE_SLOPE;
        (segment_softmax(&s, &g.dst_loops, g.nodes), h)
    }

    pub fn forward(&self, x: &Tensor, g: &GraphTensors) -> Tensor {
        let (alpha, h) = self.attention(x, g);
        let messages = h.index_select(0, &g.src_loops) * alpha.unsqueeze(-1);
        let mut out = Tensor::zeros([g.nodes, self.heads, self.per_head], (h.kind(), h.device()));
        // scatter_add_ over the 3-D messages measured a few per cent faster than index_add_.
        let index = g
            .dst_loops
            .view([-1, 1, 1])
            .expand([-1, self.heads, self.per_head], false);
        let _ = out.scatter_add_(0, &index, &messages);
        let out = if self.concat {
            out.view([g.nodes, self.heads * self.per_head])
        } else {
            out.mean_dim(1, false, None)
        };
        out + &self.bias
    }
}
