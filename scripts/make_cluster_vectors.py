#!/usr/bin/python3
"""Reference values for src/gallery/cluster*.ts, computed independently with scikit-learn and NumPy.

Run from the repository root with Debian's Python (python3-sklearn):

    /usr/bin/python3 scripts/make_cluster_vectors.py

It writes test/fixtures/cluster-vectors.json (committed), which test/gallery/cluster*.test.ts read. The
embeddings are stored in the file (rounded to 6 decimals, the values both sides use), so the tests never
reproduce this script's random numbers.

What it stores:
- `embeddings` (n x dim, unit rows) and their true `labels`: a few identities of different sizes around
  random centres, plus identities with one face;
- `agglomerative`: sklearn.cluster.AgglomerativeClustering(metric='cosine', linkage='average',
  distance_threshold=1 - threshold) labels, at a threshold no merge distance lies near (so float32 and
  float64 agree);
- `dbscan`: sklearn.cluster.DBSCAN(metric='cosine', eps=1 - threshold, min_samples) labels (-1 = noise),
  at an eps no pairwise distance lies near;
- `scores`: for a few predicted labelings, pairwise precision / recall / F from
  sklearn.metrics.cluster.pair_confusion_matrix and BCubed precision / recall / F by brute force over
  items (NumPy), singletons (-1) each their own cluster.
"""
import json
import os

import numpy as np
import sklearn
from sklearn.cluster import DBSCAN, AgglomerativeClustering
from sklearn.metrics.cluster import pair_confusion_matrix

OUT = os.path.join(os.path.dirname(__file__), '..', 'test', 'fixtures', 'cluster-vectors.json')
DIM = 16
SIZES = [9, 7, 5, 4, 3, 2, 1, 1, 1, 1]


def make_embeddings(rng):
    rows, labels = [], []
    for c, size in enumerate(SIZES):
        centre = rng.normal(size=DIM)
        centre /= np.linalg.norm(centre)
        for _ in range(size):
            v = centre + rng.normal(scale=0.22, size=DIM)
            rows.append(v / np.linalg.norm(v))
            labels.append(f'person{c}')
    order = rng.permutation(len(rows))
    x = np.round(np.asarray(rows)[order], 6)
    x = x / np.linalg.norm(x, axis=1, keepdims=True)
    return np.round(x, 6), [labels[i] for i in order]


def agglomerative(x, distance):
    kw = dict(n_clusters=None, distance_threshold=distance, linkage='average')
    try:
        model = AgglomerativeClustering(metric='cosine', compute_distances=True, **kw)
    except TypeError:  # scikit-learn < 1.2 names it affinity
        model = AgglomerativeClustering(affinity='cosine', compute_distances=True, **kw)
    model.fit(x)
    return model


def singletons_apart(labels):
    """-1 (noise / unclustered) becomes a fresh id per item."""
    out, nxt = [], max(list(labels) + [0]) + 1
    for v in labels:
        if v < 0:
            out.append(nxt)
            nxt += 1
        else:
            out.append(int(v))
    return np.asarray(out)


def scores(pred, truth):
    pred = singletons_apart(pred)
    _, truth_ids = np.unique(truth, return_inverse=True)
    c = pair_confusion_matrix(truth_ids, pred)
    tp, fp, fn = c[1, 1], c[0, 1], c[1, 0]
    p = tp / (tp + fp) if tp + fp > 0 else 1.0
    r = tp / (tp + fn) if tp + fn > 0 else 1.0
    n = len(pred)
    bp = br = 0.0
    for i in range(n):
        same_cluster = pred == pred[i]
        same_class = truth_ids == truth_ids[i]
        both = np.sum(same_cluster & same_class)
        bp += both / np.sum(same_cluster)
        br += both / np.sum(same_class)
    bp, br = bp / n, br / n
    f = lambda a, b: 2 * a * b / (a + b) if a + b > 0 else 0.0
    return {
        'pairwisePrecision': float(p),
        'pairwiseRecall': float(r),
        'pairwiseF': float(f(p, r)),
        'bcubedPrecision': float(bp),
        'bcubedRecall': float(br),
        'bcubedF': float(f(bp, br)),
    }


def main():
    rng = np.random.default_rng(12)
    x, labels = make_embeddings(rng)
    d = 1.0 - x @ x.T
    iu = np.triu_indices(len(x), 1)

    # A threshold no average-linkage merge distance sits within 1e-3 of.
    full = agglomerative(x, 0.0)
    merges = full.distances_
    t_avg = next(t for t in np.arange(0.30, 0.80, 0.005) if np.min(np.abs(merges - (1 - t))) > 1e-3)
    t_avg = float(round(t_avg, 3))
    agg = agglomerative(x, 1 - t_avg).labels_

    t_db = next(t for t in np.arange(0.60, 0.90, 0.005) if np.min(np.abs(d[iu] - (1 - t))) > 1e-3)
    t_db = float(round(t_db, 3))
    min_samples = 3
    db = DBSCAN(eps=1 - t_db, min_samples=min_samples, metric='cosine').fit(x).labels_

    rng2 = np.random.default_rng(5)
    cases = {
        'truth': np.unique(labels, return_inverse=True)[1],
        'agglomerative': agg,
        'dbscan': db,
        'random': rng2.integers(-1, 6, size=len(x)),
        'allApart': -np.ones(len(x), dtype=int),
        'allTogether': np.zeros(len(x), dtype=int),
    }
    out = {
        'generator': f'scripts/make_cluster_vectors.py, scikit-learn {sklearn.__version__}',
        'dim': DIM,
        'embeddings': [float(v) for v in x.reshape(-1)],
        'labels': labels,
        'agglomerative': {'threshold': t_avg, 'labels': [int(v) for v in agg]},
        'dbscan': {'threshold': t_db, 'minSamples': min_samples, 'labels': [int(v) for v in db]},
        'scores': [
            {'name': k, 'predicted': [int(v) for v in pred], **scores(pred, labels)}
            for k, pred in cases.items()
        ],
    }
    with open(OUT, 'w') as fh:
        json.dump(out, fh, indent=1)
        fh.write('\n')
    print(f'wrote {OUT}: {len(x)} embeddings, average linkage at {t_avg} -> {len(set(agg))} clusters, '
          f'DBSCAN at {t_db} -> {len(set(db) - {-1})} clusters + {int(np.sum(db < 0))} noise')


if __name__ == '__main__':
    main()
