"""gnn-trainer against PyTorch Geometric on the same graph, the same CPU, the same settings.

usage: pyg_compare.py --bin PATH/TO/gnn-trainer [--windows 2500] [--symbols 8] [--epochs 200]
                      [--models GCN,GAT,GraphSAGE] [--threads N] [--graph-dir DIR] [--seeds N]

Needs a Python with torch, torch-geometric and pyarrow (scripts/torch-env.sh with
STREAMFORGE_TORCH_PYG=1, plus `pip install pyarrow`). Build the binary in release first.

1. Export a synthetic graph in the lake layout (`gnn-trainer --synthetic W --export DIR`), or use
   the graph under --graph-dir (one graph in DIR/graphs/).
2. For each model, train with gnn-trainer (`--device cpu --quiet`) and read its final JSON
   (mean epoch time, test accuracy).
3. Train the same architecture with PyG (GCNConv cached, SAGEConv mean, GATConv 4 heads then 1,
   two layers, ReLU, dropout 0.5, Adam lr 0.01, weight decay 5e-4), on the same time split
   (70/15/15 % of windows, purge gap = label_horizon windows), features standardised with the
   training windows' statistics, model selection by validation accuracy (ties: lower
   validation loss), and time an epoch the same way: a training step plus an evaluation pass
   that scores train/validation/test and keeps the best weights.
4. Print one line per model (means over --seeds runs) and a JSON summary.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

import pyarrow.parquet as pq
import torch
import torch.nn.functional as F
from torch_geometric.nn import GATConv, GCNConv, SAGEConv

HIDDEN = 32
HEADS = 4
DROPOUT = 0.5
LR = 0.01
WEIGHT_DECAY = 5e-4


def load(graph_dir, name):
    base = os.path.join(graph_dir, "graphs", name)
    with open(os.path.join(base, "manifest.json")) as f:
        manifest = json.load(f)
    nodes = pq.read_table(os.path.join(base, "nodes.parquet")).to_pydict()
    edges = pq.read_table(os.path.join(base, "edges.parquet")).to_pydict()
    return manifest, nodes, edges


def split(window_start, labels, gap):
    windows = sorted(set(window_start))
    t = len(windows)
    n_train, n_val = int(t * 0.70), int(t * 0.15)
    bounds = [(0, n_train), (n_train + gap, n_train + n_val), (n_train + n_val + gap, t)]
    index = {w: i for i, w in enumerate(windows)}
    parts = [[], [], []]
    train_rows = []
    for i, w in enumerate(window_start):
        k = index[w]
        if k < n_train:
            train_rows.append(i)
        if labels[i] is None:
            continue
        for s, (a, b) in enumerate(bounds):
            if a <= k < b:
                parts[s].append(i)
    return [torch.tensor(p, dtype=torch.long) for p in parts], torch.tensor(train_rows)


class Net(torch.nn.Module):
    def __init__(self, kind, d_in, d_out):
        super().__init__()
        if kind == "GCN":
            self.c1, self.c2 = GCNConv(d_in, HIDDEN, cached=True), GCNConv(HIDDEN, d_out, cached=True)
        elif kind == "GraphSAGE":
            self.c1, self.c2 = SAGEConv(d_in, HIDDEN), SAGEConv(HIDDEN, d_out)
        else:
            per = max(1, HIDDEN // HEADS)
            self.c1 = GATConv(d_in, per, heads=HEADS, concat=True)
            self.c2 = GATConv(per * HEADS, d_out, heads=1, concat=False)

    def forward(self, x, ei):
        h = F.dropout(self.c1(x, ei).relu(), DROPOUT, self.training)
        return self.c2(h, ei)


def pyg_run(kind, x, ei, y, parts, epochs, seed):
    torch.manual_seed(seed)
    train, val, test = parts
    model = Net(kind, x.shape[1], 2)
    opt = torch.optim.Adam(model.parameters(), lr=LR, weight_decay=WEIGHT_DECAY)
    best = (-1.0, float("inf"), 0.0)
    best_state = None
    times = []
    for _ in range(epochs):
        t0 = time.perf_counter()
        model.train()
        opt.zero_grad()
        out = model(x, ei)
        loss = F.cross_entropy(out[train], y[train])
        loss.backward()
        opt.step()
        model.eval()
        with torch.no_grad():
            out = model(x, ei)
            pred = out.argmax(1)
            acc = [float((pred[p] == y[p]).float().mean()) for p in parts]
            vloss = float(F.cross_entropy(out[val], y[val]))
        if acc[1] > best[0] or (acc[1] == best[0] and vloss < best[1]):
            best = (acc[1], vloss, acc[2])
            best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
        times.append(time.perf_counter() - t0)
    del best_state
    # The first epochs warm caches (GCN's normalisation); report the mean like gnn-trainer does.
    return sum(times) / len(times) * 1000.0, best[2], best[0]


def ours(binary, graph_dir, name, kind, epochs, seed):
    out_dir = tempfile.mkdtemp(prefix="gnn-bench-")
    cmd = [binary, "--graph-dir", graph_dir, "--graph-name", name, "--model", kind,
           "--epochs", str(epochs), "--device", "cpu", "--quiet", "--seed", str(seed),
           "--out", out_dir, "--hidden", str(HIDDEN), "--lr", str(LR)]
    res = subprocess.run(cmd, capture_output=True, text=True, check=True)
    return json.loads(res.stdout)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--graph-dir")
    ap.add_argument("--windows", type=int, default=2500)
    ap.add_argument("--symbols", type=int, default=8)
    ap.add_argument("--epochs", type=int, default=200)
    ap.add_argument("--models", default="GCN,GAT,GraphSAGE")
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--seeds", type=int, default=1, help="runs per model (seed, seed+1, ...), averaged")
    a = ap.parse_args()
    if a.threads:
        torch.set_num_threads(a.threads)
        os.environ["OMP_NUM_THREADS"] = str(a.threads)
    graph_dir = a.graph_dir
    if graph_dir is None:
        graph_dir = tempfile.mkdtemp(prefix="gnn-graph-")
        subprocess.run([a.bin, "--synthetic", str(a.windows), "--synthetic-symbols", str(a.symbols),
                        "--export", graph_dir], check=True, capture_output=True)
    names = [d for d in os.listdir(os.path.join(graph_dir, "graphs"))]
    if len(names) != 1:
        sys.exit(f"expected one graph under {graph_dir}/graphs, found {names}")
    name = names[0]
    manifest, nodes, edges = load(graph_dir, name)
    feats = manifest["features"]
    x = torch.tensor([nodes[f] for f in feats], dtype=torch.float32).t().contiguous()
    labels = nodes["price_up"]
    parts, train_rows = split(nodes["window_start"], labels, max(1, manifest["label_horizon"]))
    mean = x[train_rows].mean(0)
    std = x[train_rows].std(0, unbiased=False)
    std[std <= 1e-12] = 1.0
    x = (x - mean) / std
    y = torch.tensor([-1 if v is None else v for v in labels], dtype=torch.long)
    ei = torch.tensor([edges["src"], edges["dst"]], dtype=torch.long)
    print(f"graph {name}: {x.shape[0]} nodes, {ei.shape[1]} edges, {len(feats)} features, "
          f"splits {[len(p) for p in parts]}, torch threads {torch.get_num_threads()}")
    rows = []
    mean = lambda v: sum(v) / len(v)
    for kind in a.models.split(","):
        runs = []
        for seed in range(a.seed, a.seed + a.seeds):
            r = ours(a.bin, graph_dir, name, kind, a.epochs, seed)
            ms, acc, val = pyg_run(kind, x, ei, y, parts, a.epochs, seed)
            runs.append((r["mean_epoch_ms"], ms, r["test_accuracy"], acc, r["val_accuracy"], val))
        cols = list(zip(*runs))
        row = {"model": kind, "seeds": a.seeds, "ours_epoch_ms": mean(cols[0]), "pyg_epoch_ms": mean(cols[1]),
               "ratio": mean(cols[0]) / mean(cols[1]), "ours_test_accuracy": mean(cols[2]),
               "pyg_test_accuracy": mean(cols[3]), "ours_val_accuracy": mean(cols[4]),
               "pyg_val_accuracy": mean(cols[5]), "ours_test_accuracies": cols[2],
               "pyg_test_accuracies": cols[3]}
        rows.append(row)
        print(f"{kind:10} ours {row['ours_epoch_ms']:8.2f} ms/epoch  PyG {row['pyg_epoch_ms']:8.2f} ms/epoch  "
              f"ratio {row['ratio']:.2f}  test accuracy ours {row['ours_test_accuracy']:.4f} "
              f"PyG {row['pyg_test_accuracy']:.4f} (mean of {a.seeds})", flush=True)
    print(json.dumps({"graph": name, "nodes": x.shape[0], "edges": ei.shape[1], "epochs": a.epochs,
                      "threads": torch.get_num_threads(), "rows": rows}, indent=2))


if __name__ == "__main__":
    main()
