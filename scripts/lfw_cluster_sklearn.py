#!/usr/bin/python3
"""scikit-learn's DBSCAN and agglomerative clustering on the same LFW embeddings as scripts/lfw-cluster.ts,
for the side-by-side table in docs/CLUSTERING.md. scripts/lfw-cluster.ts runs it; by hand:

    /usr/bin/python3 scripts/lfw_cluster_sklearn.py EMBEDDINGS.jsonl [--center]

Prints one JSON object: {"sklearn": version, "rows": [{method, param, seconds, pairwise/BCubed scores,
clusters}]}, or {"skipped": reason} with exit 0 where scikit-learn is missing.

- DBSCAN(metric='cosine', eps = 1 - threshold, min_samples = 2), eps swept; noise points are
  clusters of one.
- AgglomerativeClustering(metric='cosine', linkage='average', distance_threshold = 1 - threshold). The tree
  is built once (compute_full_tree) and cut at every threshold of the sweep by replaying its merges below
  the cut, which is what a refit at that threshold does (average linkage merges in non-decreasing order);
  the cut at the fit's own threshold is compared with the fit's labels, as a check (cutMatchesRefit).
Scores are computed here (NumPy, pair_confusion_matrix), independently of src/gallery/cluster-metrics.ts.
"""
import json
import sys
import time

import numpy as np

try:
    import sklearn
    from sklearn.cluster import DBSCAN, AgglomerativeClustering
    from sklearn.metrics.cluster import pair_confusion_matrix
except ImportError as err:  # pragma: no cover - depends on the machine
    print(json.dumps({'skipped': f'scikit-learn is not installed ({err}): apt install python3-sklearn'}))
    sys.exit(0)

DBSCAN_THRESHOLDS = [0.93, 0.94, 0.95, 0.955, 0.96, 0.965, 0.97]
AVERAGE_THRESHOLDS = [0.90, 0.913, 0.92, 0.925, 0.93, 0.935, 0.94, 0.95]
CENTERED_DBSCAN = [0.65, 0.7, 0.72, 0.74, 0.76, 0.78, 0.8]
CENTERED_AVERAGE = [0.5, 0.55, 0.6, 0.62, 0.64, 0.66, 0.7]


def load(path):
    rows, labels = [], []
    with open(path) as fh:
        for line in fh:
            if line.strip():
                r = json.loads(line)
                rows.append(r['embedding'])
                labels.append(r['label'])
    x = np.asarray(rows, dtype=np.float64)
    return x / np.linalg.norm(x, axis=1, keepdims=True), labels


def singletons_apart(labels):
    labels = np.asarray(labels).copy()
    noise = labels < 0
    labels[noise] = labels.max(initial=0) + 1 + np.arange(np.sum(noise))
    return labels


def scores(pred, truth_ids):
    pred = singletons_apart(pred)
    c = pair_confusion_matrix(truth_ids, pred)
    tp, fp, fn = float(c[1, 1]), float(c[0, 1]), float(c[1, 0])
    p = tp / (tp + fp) if tp + fp > 0 else 1.0
    r = tp / (tp + fn) if tp + fn > 0 else 1.0
    # BCubed through the contingency table: each cell of m items scores m/|cluster| and m/|class|.
    _, cl = np.unique(pred, return_inverse=True)
    cells = {}
    for a, b in zip(cl, truth_ids):
        cells[(a, b)] = cells.get((a, b), 0) + 1
    csize = np.bincount(cl)
    tsize = np.bincount(truth_ids)
    n = len(pred)
    bp = sum(m * m / csize[a] for (a, _), m in cells.items()) / n
    br = sum(m * m / tsize[b] for (_, b), m in cells.items()) / n
    f = lambda a, b: 2 * a * b / (a + b) if a + b > 0 else 0.0
    sizes = np.bincount(cl)
    return {
        'pairwisePrecision': p,
        'pairwiseRecall': r,
        'pairwiseF': f(p, r),
        'bcubedPrecision': bp,
        'bcubedRecall': br,
        'bcubedF': f(bp, br),
        'clusters': int(len(sizes)),
        'groups': int(np.sum(sizes >= 2)),
    }


def cut(children, distances, n, max_distance):
    """Labels after replaying the merges with distance < max_distance (sklearn's distance_threshold rule)."""
    parent = np.arange(2 * n - 1)

    def find(x):
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for i, (a, b) in enumerate(children):
        if distances[i] >= max_distance:
            break
        parent[find(a)] = n + i
        parent[find(b)] = n + i
    return np.asarray([find(i) for i in range(n)])


def main():
    path = sys.argv[1]
    center = '--center' in sys.argv
    x, labels = load(path)
    if center:
        x = x - x.mean(axis=0)
        x = x / np.linalg.norm(x, axis=1, keepdims=True)
    _, truth = np.unique(labels, return_inverse=True)
    n = len(x)
    rows = []
    for t in CENTERED_DBSCAN if center else DBSCAN_THRESHOLDS:
        t0 = time.perf_counter()
        pred = DBSCAN(eps=1 - t, min_samples=2, metric='cosine', n_jobs=1).fit(x).labels_
        rows.append({'method': 'sklearn DBSCAN', 'threshold': t, 'seconds': time.perf_counter() - t0,
                     **scores(pred, truth)})
    sweep = CENTERED_AVERAGE if center else AVERAGE_THRESHOLDS
    t0 = time.perf_counter()
    kw = dict(n_clusters=None, linkage='average', compute_full_tree=True, distance_threshold=1 - sweep[0])
    try:
        model = AgglomerativeClustering(metric='cosine', compute_distances=True, **kw).fit(x)
    except TypeError:  # scikit-learn < 1.2 names it affinity
        model = AgglomerativeClustering(affinity='cosine', compute_distances=True, **kw).fit(x)
    fit_seconds = time.perf_counter() - t0
    first = cut(model.children_, model.distances_, n, 1 - sweep[0])
    _, a = np.unique(first, return_inverse=True)
    _, b = np.unique(model.labels_, return_inverse=True)
    same = len(set(zip(a, b))) == len(set(a)) == len(set(b))
    for t in sweep:
        pred = cut(model.children_, model.distances_, n, 1 - t)
        rows.append({'method': 'sklearn agglomerative (average)', 'threshold': t, 'seconds': fit_seconds,
                     **scores(pred, truth)})
    print(json.dumps({'sklearn': sklearn.__version__, 'centered': center, 'n': n,
                      'cutMatchesRefit': bool(same), 'rows': rows}))


if __name__ == '__main__':
    main()
