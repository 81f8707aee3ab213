//! Sparse message passing over an edge list with `index_select` (gather at the source) and
//! `index_add` (sum at the destination). Edges are used as given, messages from `src` to `dst`;
//! nothing here ever reverses an edge. Self loops are added where a layer asks for them.
//!
//! [`GraphTensors`] holds what every layer needs, computed once per graph and device: the edge
//! lists with and without self loops, GCN's symmetric normalisation and the in-degrees for the
//! mean.

use tch::{Device, Kind, Tensor};

pub struct GraphTensors {
    pub nodes: i64,
    /// The edges as given.
    pub src: Tensor,
    pub dst: Tensor,
    /// In-degree of each node over the edges as given, at least 1 (the divisor of a mean),
    /// shaped `[n, 1]`.
    pub in_degree: Tensor,
    /// The edges plus one self loop per node.
    pub src_loops: Tensor,
    pub dst_loops: Tensor,
    /// GCN: `d(src)^-1/2 · d(dst)^-1/2` per edge with loops, `d` the in-degree with loops.
    pub gcn_norm: Tensor,
}

impl GraphTensors {
    /// From validated edges (every id in `0..nodes`).
    pub fn new(nodes: usize, src: &[i64], dst: &[i64], device: Device) -> Self {
        let n = nodes as i64;
        let src_t = Tensor::from_slice(src).to_device(device);
        let dst_t = Tensor::from_slice(dst).to_device(device);
        let loops = Tensor::arange(n, (Kind::Int64, device));
        let src_loops = Tensor::cat(&[&src_t, &loops], 0);
        let dst_loops = Tensor::cat(&[&dst_t, &loops], 0);
        let ones = Tensor::ones([src.len() as i64], (Kind::Float, device));
        let in_degree = Tensor::zeros([n], (Kind::Float, device))
            .index_add(0, &dst_t, &ones)
            .clamp_min(1.0)
            .unsqueeze(1);
        let ones_loops = Tensor::ones([src.len() as i64 + n], (Kind::Float, device));
        let deg_loops =
            Tensor::zeros([n], (Kind::Float, device)).index_add(0, &dst_loops, &ones_loops);
        let inv_sqrt = deg_loops.rsqrt();
        let gcn_norm = inv_sqrt.index_select(0, &src_loops) * inv_sqrt.index_select(0, &dst_loops);
        GraphTensors {
            nodes: n,
            src: src_t,
            dst: dst_t,
            in_degree,
            src_loops,
            dst_loops,
            gcn_norm,
        }
    }
}

/// `out[d] = Σ_{e: dst[e] = d} x[src[e]] · w[e]` (no weights: plain sum), `x` shaped `[n, ...]`.
pub fn propagate(
    x: &Tensor,
    src: &Tensor,
    dst: &Tensor,
    weight: Option<&Tensor>,
    n: i64,
) -> Tensor {
    let mut messages = x.index_select(0, src);
    if let Some(w) = weight {
        let mut shape = vec![w.size()[0]];
        shape.extend(std::iter::repeat_n(1, x.dim() - 1));
        messages *= w.view(shape.as_slice());
    }
    let mut size = x.size();
    size[0] = n;
    // In place on a fresh zero tensor: the out-of-place form would copy the zeros first.
    let mut out = Tensor::zeros(size.as_slice(), (x.kind(), x.device()));
    let _ = out.index_add_(0, dst, &messages);
    out
}

/// Softmax of `scores` (`[E, heads]`) over the edges that share a destination: the segment
/// maximum is subtracted first (it does not change the result, and keeps `exp` finite).
pub fn segment_softmax(scores: &Tensor, dst: &Tensor, n: i64) -> Tensor {
    let heads = scores.size()[1];
    // ATen's scatter_reduce (tch: `internal_scatter_reduce_`; tch's `scatter_reduce` is the
    // older scatter with add/multiply only): a third of index_reduce's time on the CPU.
    let mut max = Tensor::full(
        [n, heads],
        f64::NEG_INFINITY,
        (scores.kind(), scores.device()),
    );
    let index = dst.unsqueeze(1).expand([-1, heads], false);
    let _ = max.internal_scatter_reduce_(0, &index, &scores.detach(), "amax", false);
    let exp = (scores - max.index_select(0, dst)).exp();
    let mut sum = Tensor::zeros([n, heads], (scores.kind(), scores.device()));
    let _ = sum.index_add_(0, dst, &exp);
    exp / (sum.index_select(0, dst) + 1e-16)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vec2(t: &Tensor) -> Vec<Vec<f32>> {
        Vec::<Vec<f32>>::try_from(t).unwrap()
    }

    #[test]
    fn messages_flow_from_source_to_destination_only() {
        // 0 → 1, 1 → 2: node 0 receives nothing.
        let x = Tensor::from_slice(&[1f32, 10., 100.]).view([3, 1]);
        let src = Tensor::from_slice(&[0i64, 1]);
        let dst = Tensor::from_slice(&[1i64, 2]);
        assert_eq!(
            vec2(&propagate(&x, &src, &dst, None, 3)),
            vec![vec![0.], vec![1.], vec![10.]]
        );
    }

    #[test]
    fn segment_softmax_sums_to_one_per_destination() {
        let scores = Tensor::from_slice(&[1f32, 2., 3., 1000., -5.]).view([5, 1]);
        let dst = Tensor::from_slice(&[0i64, 0, 1, 1, 2]);
        let a = segment_softmax(&scores, &dst, 4);
        let sums = Tensor::zeros([4, 1], (Kind::Float, Device::Cpu)).index_add(0, &dst, &a);
        let sums = vec2(&sums);
        for s in &sums[..3] {
            assert!((s[0] - 1.0).abs() < 1e-6, "{sums:?}");
        }
        let a = vec2(&a);
        let e = (-1f32).exp();
        assert!((a[0][0] - e / (1.0 + e)).abs() < 1e-6);
        assert!(a.iter().all(|v| v[0].is_finite()));
    }

    #[test]
    fn gcn_normalisation_on_a_path() {
        // 0 → 1 → 2 with loops: in-degrees 1, 2, 2.
        let g = GraphTensors::new(3, &[0, 1], &[1, 2], Device::Cpu);
        let norm = Vec::<f32>::try_from(&g.gcn_norm).unwrap();
        let s = |a: f32, b: f32| 1.0 / (a * b).sqrt();
        // Order: edges as given, then the loops 0, 1, 2.
        let want = [s(1., 2.), s(2., 2.), s(1., 1.), s(2., 2.), s(2., 2.)];
        for (a, b) in norm.iter().zip(want) {
            assert!((a - b).abs() < 1e-6, "{norm:?}");
        }
        assert_eq!(
            Vec::<f32>::try_from(&g.in_degree.view([3])).unwrap(),
            vec![1., 1., 1.]
        );
    }
}
