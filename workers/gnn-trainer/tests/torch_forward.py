"""Recompute gnn-trainer's forward pass in plain PyTorch from a checkpoint.

usage: torch_forward.py CHECKPOINT SPEC_JSON
  CHECKPOINT  a checkpoint.pt written by gnn-trainer, opened with torch.load (weights_only)
  SPEC_JSON   {"model": "GCN"|"GAT"|"GraphSAGE", "x": [[...]], "src": [...], "dst": [...]}
              (x: the standardised features the trainer used)
Prints the logits of every node as JSON. An independent implementation: the GAT softmax is a
loop over destinations, the rest follows the layer definitions in src/layers.rs.
"""

import json
import sys

import torch
import torch.nn.functional as F

sd = torch.load(sys.argv[1])
with open(sys.argv[2]) as f:
    spec = json.load(f)
x = torch.tensor(spec["x"], dtype=torch.float32)
src = torch.tensor(spec["src"], dtype=torch.long)
dst = torch.tensor(spec["dst"], dtype=torch.long)
n = x.shape[0]
loops = torch.arange(n)
s_l, d_l = torch.cat([src, loops]), torch.cat([dst, loops])


def gcn(p, h):
    deg = torch.zeros(n).index_add_(0, d_l, torch.ones(len(d_l)))
    norm = deg[s_l].rsqrt() * deg[d_l].rsqrt()
    h = h @ sd[p + ".weight"]
    out = torch.zeros(n, h.shape[1]).index_add_(0, d_l, h[s_l] * norm[:, None])
    return out + sd[p + ".bias"]


def sage(p, h):
    deg = torch.zeros(n).index_add_(0, dst, torch.ones(len(dst))).clamp(min=1)
    mean = torch.zeros(n, h.shape[1]).index_add_(0, dst, h[src]) / deg[:, None]
    return mean @ sd[p + ".lin_l.weight"] + sd[p + ".lin_l.bias"] + h @ sd[p + ".lin_r.weight"]


def gat(p, h, concat):
    a_s, a_d = sd[p + ".att_src"], sd[p + ".att_dst"]
    heads, c = a_s.shape
    h = (h @ sd[p + ".weight"]).view(n, heads, c)
    e = F.leaky_relu((h * a_s).sum(-1)[s_l] + (h * a_d).sum(-1)[d_l], 0.2)
    alpha = torch.empty_like(e)
    for i in range(n):
        m = d_l == i
        alpha[m] = torch.softmax(e[m], dim=0)
    out = torch.zeros(n, heads, c).index_add_(0, d_l, h[s_l] * alpha[..., None])
    out = out.reshape(n, heads * c) if concat else out.mean(1)
    return out + sd[p + ".bias"]


with torch.no_grad():
    model = spec["model"]
    if model == "GCN":
        logits = gcn("conv2", gcn("conv1", x).relu())
    elif model == "GraphSAGE":
        logits = sage("conv2", sage("conv1", x).relu())
    else:
        logits = gat("conv2", gat("conv1", x, True).relu(), False)
print(json.dumps(logits.tolist()))
