#!/usr/bin/env python3
"""PyTorch Geometric reference timings for the GNN benchmark.

Runs the inference ops of benchmark/gnn.js with PyTorch Geometric on the
graph that benchmark/gnn.js exports (to benchmark/data/gnn-<nodes>, or to
--export DIR), on 2 CPU threads:

  mean aggregation (on the first 64 feature columns and on all of them),
  GCN, GAT (8 heads), 2-layer GraphSAGE and a dense SGEMM as the reference
  for this machine's matmul speed.

With --train, also one full-batch training step (forward, cross-entropy
against seeded random labels over 64 classes, backward, AdamW with lr 0.01
and weight decay 5e-4) of the three models `benchmark/gnn.js --train`
times: GCN-2 (GCNConv 128→128, ReLU, GCNConv 128→64, both cached=True),
GAT-8 (GATConv(128, 8, heads=8), concatenated) and SAGE-2 (SAGEConv mean
128→128, ReLU, SAGEConv mean 128→64). Each runs on edge_index and on a
torch.sparse CSR adj_t; the faster is reported, both are in the JSON.

Each op or step is timed as the median (and min) wall time of --runs runs
after 2 warm-up runs. Prints markdown tables and writes the numbers as JSON:
every row under "ops" (with its "kind": mean64, mean, gcn, gat, sage or
sgemm), the fastest row of each kind under "fastest", and the training
steps under "train"; benchmark/gnn.js reads "fastest" and "train".

Usage:
  python benchmark/gnn_pyg.py [EXPORT_DIR] [--runs N] [--json PATH] [--train]

Install: pip install -r benchmark/requirements-pyg.txt
"""

import argparse
import gc
import json
import multiprocessing
import statistics
import sys
import time
import warnings
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

# Harmless notices: PyG still calls torch.jit.script on import, torch calls
# its sparse CSR tensors beta and notes that PyG's skip invariant checks.
warnings.filterwarnings('ignore', message='`torch.jit.script` is deprecated')
warnings.filterwarnings('ignore', message='Sparse CSR tensor support')
warnings.filterwarnings('ignore', message='Sparse invariant checks')

try:
    import numpy as np
    import torch
    import torch.nn.functional as F
    import torch_geometric
    from torch_geometric.nn import GATConv, GCNConv, SAGEConv
    from torch_geometric.utils import scatter, spmm
except ImportError as err:
    print(f'gnn_pyg.py: {err}; install with '
          'pip install -r benchmark/requirements-pyg.txt', file=sys.stderr)
    sys.exit(2)

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DIR = ROOT / 'benchmark' / 'data' / 'gnn-100000'
DEFAULT_JSON = ROOT / 'benchmark' / 'results' / 'gnn_pyg.json'
EXPORT_FILES = ('graph.json', 'features.f32', 'offsets.u32', 'sources.u32')
THREADS = 2
WARMUP = 2
OUT = 64  # output width of every op
HIDDEN = 128  # SAGE hidden width
HEADS = 8  # GAT heads, each OUT // HEADS wide
MEAN_NARROW = 64  # width of the narrow mean aggregation (x[:, :64])
CLASSES = OUT  # training labels: one class per output feature
LEARNING_RATE = 0.01  # the training step's AdamW, as in gnn.js --train
WEIGHT_DECAY = 5e-4


def fail(message, code=1):
    print(f'gnn_pyg.py: {message}', file=sys.stderr)
    sys.exit(code)


@dataclass
class Graph:
    """The exported graph: features and in-edges in CSR by destination."""

    x: torch.Tensor  # N x D float32
    ptr: torch.Tensor  # N + 1 int64 offsets
    src: torch.Tensor  # E int64 source of each edge
    dst: torch.Tensor  # E int64 destination of each edge
    seed: int

    @property
    def nodes(self):
        return self.x.size(0)

    @property
    def dims(self):
        return self.x.size(1)

    @property
    def edges(self):
        return self.src.numel()

    @property
    def edge_index(self):
        """PyG edge_index [sources; destinations], flow source_to_target."""
        return torch.stack([self.src, self.dst])

    def adj_t(self, values):
        """Adjacency as torch.sparse CSR, row i = destination i (PyG adj_t)."""
        return torch.sparse_csr_tensor(self.ptr, self.src, values,
                                       size=(self.nodes, self.nodes),
                                       check_invariants=True)


def load_graph(path):
    """Reads an export directory; exits 2 if there is none."""
    if not all((path / name).is_file() for name in EXPORT_FILES):
        fail(f'no GNN export in {path}; '
             f'run `node benchmark/gnn.js --export {path}` first', code=2)
    meta = json.loads((path / 'graph.json').read_text())
    n, d, e = int(meta['nodes']), int(meta['dims']), int(meta['edges'])
    x = np.fromfile(path / 'features.f32', dtype='<f4')
    ptr = np.fromfile(path / 'offsets.u32', dtype='<u4').astype(np.int64)
    src = np.fromfile(path / 'sources.u32', dtype='<u4').astype(np.int64)
    if (x.size != n * d or ptr.size != n + 1 or src.size != e
            or ptr[0] != 0 or ptr[-1] != e or np.any(np.diff(ptr) < 0)
            or (e and src.max() >= n)):
        fail(f'{path} does not match graph.json '
             f'(nodes={n}, dims={d}, edges={e})')
    dst = np.repeat(np.arange(n), np.diff(ptr))
    # Sort each node's sources: torch.sparse CSR needs sorted, distinct
    # columns, and no op's result depends on the order.
    src = src[np.lexsort((src, dst))]
    if np.any((src[1:] == src[:-1]) & (dst[1:] == dst[:-1])):
        fail(f'{path}: a node lists the same source twice')
    return Graph(torch.from_numpy(x.reshape(n, d)), torch.from_numpy(ptr),
                 torch.from_numpy(src), torch.from_numpy(dst),
                 int(meta.get('seed', 0)))


def time_op(fn, runs):
    """Median and min wall time of fn() in ms, after WARMUP calls."""
    for _ in range(WARMUP):
        fn()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1e3)
    return statistics.median(times), min(times)


def check_same(a, b, what):
    """Exits if two paths of one op disagree, so their timings compare."""
    if not torch.allclose(a, b, rtol=1e-4, atol=1e-5):
        fail(f'{what}: paths give different results')


def mean_aggregation_paths(g, x):
    """Candidate implementations of the neighbour mean, each x -> N x width."""
    deg = g.ptr.diff()
    # Rows without sources have no entries, so they come out as zeros.
    rownorm = g.adj_t(1.0 / deg[g.dst].float())
    ones = g.adj_t(torch.ones(g.edges))
    return {
        'scatter(x[src], dst, mean)': lambda: scatter(
            x[g.src], g.dst, dim=0, dim_size=g.nodes, reduce='mean'),
        'torch.sparse CSR mm, row-normalised':
            lambda: torch.sparse.mm(rownorm, x),
        "torch.sparse CSR spmm(reduce='mean')":
            lambda: spmm(ones, x, reduce='mean'),
    }


def flop_counts(n, d, e):
    """FLOPs per op; multiply-adds count 2, cheap elementwise ops count 1."""
    return {
        # One add per source feature.
        'mean64': e * MEAN_NARROW,
        'mean': e * d,
        # Projection x @ W, then a multiply-add per edge (self loops
        # included) and output feature.
        'gcn': 2 * n * d * OUT + 2 * (e + n) * OUT,
        # Projection; two 8-wide attention dot products per node and head;
        # per edge (self loops included) and head: score add, leaky ReLU,
        # exp, softmax sum and divide (5) plus the 8-wide weighted sum (16).
        'gat': (2 * n * d * OUT + 2 * 2 * n * OUT
                + (e + n) * HEADS * (5 + 2 * (OUT // HEADS))),
        # Per layer: root and neighbour projections plus the mean's adds.
        'sage': (2 * 2 * n * d * HIDDEN + e * d
                 + 2 * 2 * n * HIDDEN * OUT + e * HIDDEN),
        'sgemm': 2 * n * d * OUT,
    }


def run_ops(g, runs):
    """Times every op; returns the table rows and the mean candidates."""
    torch.manual_seed(g.seed)
    d = g.dims
    flops = flop_counts(g.nodes, d, g.edges)
    edge_index = g.edge_index
    adj_ones = g.adj_t(torch.ones(g.edges))
    rows = []

    def add(op, variant, kind, fn):
        median, best = time_op(fn, runs)
        rows.append({'op': op, 'kind': kind, 'variant': variant,
                     'median_ms': median, 'min_ms': best,
                     'flops': flops[kind],
                     'gflops': flops[kind] / median / 1e6})

    # 1. Mean aggregation of the first 64 columns (copied once, contiguous)
    # and of all d: every candidate is timed, the fastest reported.
    candidates = {}
    for kind, x in (('mean64', g.x[:, :MEAN_NARROW].contiguous()),
                    ('mean', g.x)):
        width = x.size(1)
        paths = mean_aggregation_paths(g, x)
        results = [fn() for fn in paths.values()]
        for other in results[1:]:
            check_same(results[0], other, f'mean aggregation {width}-d')
        candidates[kind] = []
        for name, fn in paths.items():
            median, best = time_op(fn, runs)
            candidates[kind].append({'variant': name, 'median_ms': median,
                                     'min_ms': best})
        fastest = min(candidates[kind], key=lambda c: c['median_ms'])
        rows.append({'op': f'mean aggregation {width}-d', 'kind': kind,
                     **fastest, 'flops': flops[kind],
                     'gflops': flops[kind] / fastest['median_ms'] / 1e6})

    # 2. GCN, normalising each call or once (cached), on edge_index and on
    # a torch.sparse CSR adj_t (PyG's fused sparse-matmul path).
    gcn = GCNConv(d, OUT)
    check_same(gcn(g.x, edge_index), gcn(g.x, adj_ones), 'GCN')
    for cached in (False, True):
        for adj, layout in ((edge_index, 'edge_index'),
                            (adj_ones, 'torch.sparse CSR')):
            conv = GCNConv(d, OUT, cached=cached)
            conv.load_state_dict(gcn.state_dict())
            add(f'GCN {d}→{OUT}', f'cached={cached}, {layout}', 'gcn',
                lambda conv=conv, adj=adj: conv(g.x, adj))

    # 3. GAT: HEADS heads of OUT // HEADS features, concatenated.
    gat = GATConv(d, OUT // HEADS, heads=HEADS, concat=True,
                  negative_slope=0.2, add_self_loops=True, dropout=0.0)
    add(f'GAT {HEADS} heads ({HEADS} × {OUT // HEADS})', 'edge_index', 'gat',
        lambda: gat(g.x, edge_index))

    # 4. GraphSAGE, on edge_index and on the CSR adj_t (fused mean spmm).
    sage1 = SAGEConv(d, HIDDEN, aggr='mean')
    sage2 = SAGEConv(HIDDEN, OUT, aggr='mean')

    def sage(adj):
        return sage2(sage1(g.x, adj).relu(), adj)

    check_same(sage(edge_index), sage(adj_ones), 'SAGE')
    for adj, layout in ((edge_index, 'edge_index'),
                        (adj_ones, 'torch.sparse CSR')):
        add(f'SAGE {d}→{HIDDEN}→{OUT}', layout, 'sage',
            lambda adj=adj: sage(adj))

    # 5. Dense SGEMM reference.
    w = torch.randn(d, OUT)
    add('dense SGEMM', f'x @ w, {d}×{OUT}', 'sgemm', lambda: g.x @ w)

    sgemm_ms = rows[-1]['median_ms']
    for row in rows:
        row['x_sgemm'] = row['median_ms'] / sgemm_ms
    return rows, candidates


def fastest_by_kind(rows):
    """PyG's fastest path per op kind: the figure gnn.js compares against."""
    fastest = {}
    for row in rows:
        best = fastest.get(row['kind'])
        if best is None or row['median_ms'] < best['median_ms']:
            fastest[row['kind']] = row
    return fastest


class TwoLayers(torch.nn.Module):
    """Two convolutions with a ReLU between them (GCN-2, SAGE-2)."""

    def __init__(self, first, second):
        super().__init__()
        self.first = first
        self.second = second

    def forward(self, x, adj):
        return self.second(self.first(x, adj).relu(), adj)


def training_models(d):
    """Constructors of the --train models, by the names gnn.js uses."""
    return {
        'GCN-2': lambda: TwoLayers(GCNConv(d, HIDDEN, cached=True),
                                   GCNConv(HIDDEN, OUT, cached=True)),
        'GAT-8': lambda: GATConv(d, OUT // HEADS, heads=HEADS, concat=True,
                                 negative_slope=0.2, add_self_loops=True,
                                 dropout=0.0),
        'SAGE-2': lambda: TwoLayers(SAGEConv(d, HIDDEN, aggr='mean'),
                                    SAGEConv(HIDDEN, OUT, aggr='mean')),
    }


def training_step(model, x, adj, labels):
    """One full-batch step of model on a fresh AdamW; x needs no gradient."""
    optimizer = torch.optim.AdamW(model.parameters(), lr=LEARNING_RATE,
                                  weight_decay=WEIGHT_DECAY)

    def step():
        optimizer.zero_grad(set_to_none=True)
        loss = F.cross_entropy(model(x, adj), labels)
        loss.backward()
        optimizer.step()
        return loss

    return step


def run_training(g, runs):
    """Times each model's training step on each adjacency layout; returns
    one row per model with its fastest layout and every candidate."""
    torch.manual_seed(g.seed)
    labels = torch.randint(0, CLASSES, (g.nodes,),
                           generator=torch.Generator().manual_seed(g.seed))
    layouts = {'edge_index': g.edge_index,
               'torch.sparse CSR': g.adj_t(torch.ones(g.edges))}
    rows = []
    for name, make in training_models(g.dims).items():
        initial = make().state_dict()
        candidates, losses = [], []
        for layout, adj in layouts.items():
            model = make()
            model.load_state_dict(initial)
            # The same weights give the same loss on every layout, so the
            # layouts time the same step.
            with torch.no_grad():
                losses.append(F.cross_entropy(model(g.x, adj), labels))
            median, best = time_op(training_step(model, g.x, adj, labels),
                                   runs)
            candidates.append({'variant': layout, 'median_ms': median,
                               'min_ms': best})
        check_same(losses[0], torch.stack(losses[1:]), f'{name} loss')
        fastest = min(candidates, key=lambda c: c['median_ms'])
        rows.append({'model': name, **fastest, 'candidates': candidates})
    return rows


def vm_hwm_kib():
    """Peak RSS of this process in KiB. Unlike getrusage's ru_maxrss, it
    leaves out the parent's peak that a spawned child inherits."""
    for line in Path('/proc/self/status').read_text().splitlines():
        if line.startswith('VmHWM:'):
            return int(line.split()[1])
    raise OSError('no VmHWM in /proc/self/status')


def gcn_forward_rss_mb(path, layout):
    """Peak RSS increase (MB of 10^6 bytes, as in gnn.js) of one uncached
    GCN forward above the loaded graph, or None where Linux's /proc is
    missing. Run in a fresh process.
    """
    torch.set_num_threads(THREADS)
    g = load_graph(Path(path))
    adj = g.edge_index if layout == 'edge_index' else g.adj_t(
        torch.ones(g.edges))
    conv = GCNConv(g.dims, OUT)
    gc.collect()
    try:
        # Reset the peak to the current RSS, dropping the loading spikes.
        Path('/proc/self/clear_refs').write_text('5')
        before = vm_hwm_kib()
        with torch.inference_mode():
            conv(g.x, adj)
        return (vm_hwm_kib() - before) * 1024 / 1e6
    except OSError:
        return None


def peak_rss(path):
    """gcn_forward_rss_mb for both layouts, each in its own process."""
    ctx = multiprocessing.get_context('spawn')
    out = {}
    for layout in ('edge_index', 'torch.sparse CSR'):
        with ProcessPoolExecutor(1, mp_context=ctx) as pool:
            out[layout] = pool.submit(gcn_forward_rss_mb, str(path),
                                      layout).result()
    return out


def cpu_model():
    try:
        for line in Path('/proc/cpuinfo').read_text().splitlines():
            if line.startswith('model name'):
                return line.split(':', 1)[1].strip()
    except OSError:
        pass
    return 'unknown CPU'


def main():
    parser = argparse.ArgumentParser(
        description='PyTorch Geometric timings of the benchmark/gnn.js ops.')
    parser.add_argument('dir', nargs='?', type=Path, default=DEFAULT_DIR,
                        help='graph exported by benchmark/gnn.js '
                             '(default: %(default)s)')
    parser.add_argument('--runs', type=int, default=10,
                        help='timed runs per op after 2 warm-ups '
                             '(default: %(default)s)')
    parser.add_argument('--json', type=Path, default=DEFAULT_JSON,
                        help='where to write the results '
                             '(default: %(default)s)')
    parser.add_argument('--train', action='store_true',
                        help='also time the training steps of GCN-2, GAT-8 '
                             'and SAGE-2')
    args = parser.parse_args()
    if args.runs < 1:
        parser.error('--runs must be at least 1')

    torch.set_num_threads(THREADS)
    g = load_graph(args.dir)
    with torch.inference_mode():
        rows, candidates = run_ops(g, args.runs)
    train = run_training(g, args.runs) if args.train else None
    rss = peak_rss(args.dir)

    cpu = cpu_model()
    print(f'torch {torch.__version__}, torch_geometric '
          f'{torch_geometric.__version__}, {torch.get_num_threads()} '
          f'threads, {cpu}')
    print(f'graph {args.dir}: {g.nodes} nodes, {g.edges} edges, '
          f'{g.dims} dims; median and min of {args.runs} runs after '
          f'{WARMUP} warm-ups\n')
    print('| op | median ms | min ms | GFLOPS | × SGEMM time |')
    print('| --- | ---: | ---: | ---: | ---: |')
    for r in rows:
        print(f"| {r['op']} ({r['variant']}) | {r['median_ms']:.2f} | "
              f"{r['min_ms']:.2f} | {r['gflops']:.1f} | {r['x_sgemm']:.2f} |")
    for kind, paths in candidates.items():
        width = MEAN_NARROW if kind == 'mean64' else g.dims
        print(f'\nmean aggregation {width}-d paths (median ms): ' + ', '.join(
            f"{c['variant']} {c['median_ms']:.2f}" for c in paths))
    print('peak RSS increase of one GCN forward (cached=False) above the '
          'loaded graph: ' + ', '.join(
              f'{layout} ' + ('n/a' if mb is None else f'{mb:.0f} MB')
              for layout, mb in rss.items()))
    if train:
        print(f'\nTraining step (forward, cross-entropy over {CLASSES} '
              f'classes, backward, AdamW lr={LEARNING_RATE} '
              f'weight_decay={WEIGHT_DECAY}), fastest layout\n')
        print('| model | median ms | min ms |')
        print('| --- | ---: | ---: |')
        for r in train:
            print(f"| {r['model']} ({r['variant']}) | {r['median_ms']:.2f} | "
                  f"{r['min_ms']:.2f} |")
        print('\ntraining layouts (median ms): ' + '; '.join(
            f"{r['model']}: " + ', '.join(
                f"{c['variant']} {c['median_ms']:.2f}"
                for c in r['candidates'])
            for r in train))

    result = {
        'torch': torch.__version__,
        'torch_geometric': torch_geometric.__version__,
        'threads': torch.get_num_threads(),
        'cpu': cpu,
        'graph': {'dir': str(args.dir), 'nodes': g.nodes,
                  'edges': g.edges, 'dims': g.dims, 'seed': g.seed},
        'runs': args.runs,
        'warmup': WARMUP,
        'ops': rows,
        'fastest': fastest_by_kind(rows),
        'mean_aggregation_paths': candidates,
        'gcn_forward_peak_rss_mb': rss,
        'train': train,
    }
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(result, indent=2, ensure_ascii=False)
                         + '\n', encoding='utf-8')
    print(f'wrote {args.json}', file=sys.stderr)


if __name__ == '__main__':
    main()
