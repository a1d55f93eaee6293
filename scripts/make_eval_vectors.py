#!/usr/bin/python3
"""Reference values for src/eval, computed independently with scikit-learn, SciPy and NumPy.

Run from the repository root with Debian's Python (python3-sklearn):

    /usr/bin/python3 scripts/make_eval_vectors.py

It writes test/fixtures/eval-vectors.json (committed), which test/eval/*.test.ts read. Every input
(score sets, embeddings) is stored in the file next to the expected numbers, so the tests never need
to reproduce this script's random numbers.

Conventions (the ones src/eval documents):
- a pair is accepted when score >= threshold;
- ROC: sklearn.metrics.roc_curve(drop_intermediate=False); its first threshold (max + 1 in
  scikit-learn 1.2, +inf from 1.3) stands for "accept nothing" and is not stored;
- AUC: sklearn.metrics.roc_auc_score;
- EER: InsightFace's brentq(lambda x: 1 - x - interp1d(fpr, tpr)(x), 0, 1); its threshold is the
  first ROC threshold where FAR >= FRR;
- TAR@FAR: the largest TPR among ROC points with FPR <= FAR, with that point's threshold and FPR;
  unavailable (None) when the number of impostor pairs n has n * FAR < 1;
- best accuracy: the maximum over ROC points of (TP + TN) / (P + N);
- closed-set rank-k: sklearn.metrics.top_k_accuracy_score on probe x gallery cosine scores;
- open-set DIR@FPIR: brute force over every distinct score as a threshold (NumPy).
"""
import json
import os

import numpy as np
import sklearn
from scipy.interpolate import interp1d
from scipy.optimize import brentq
from sklearn.metrics import roc_auc_score, roc_curve, top_k_accuracy_score
from sklearn.metrics.pairwise import cosine_similarity

FARS = [1e-1, 1e-2, 1e-3, 1e-4, 1e-5, 1e-6]
FPIRS = [0.5, 0.2, 0.1, 0.05, 0.01]
OUT = os.path.join(os.path.dirname(__file__), '..', 'test', 'fixtures', 'eval-vectors.json')


def floats(a):
    return [float(x) for x in a]


def roc_case(name, genuine, impostor):
    # Six decimals keep the fixture small; the rounded values are the inputs both sides use.
    genuine = np.round(np.asarray(genuine, dtype=np.float64), 6)
    impostor = np.round(np.asarray(impostor, dtype=np.float64), 6)
    y = np.concatenate([np.ones(len(genuine)), np.zeros(len(impostor))])
    s = np.concatenate([genuine, impostor])
    fpr, tpr, thr = roc_curve(y, s, drop_intermediate=False)
    eer = brentq(lambda x: 1.0 - x - interp1d(fpr, tpr)(x), 0.0, 1.0)
    eer_idx = int(np.argmax(fpr >= 1.0 - tpr))
    tars = []
    for far in FARS:
        if len(impostor) * far < 1 - 1e-9:
            tars.append({'far': far, 'tar': None, 'threshold': None, 'achievedFar': None})
            continue
        k = int(np.where(fpr <= far)[0][-1])
        t = None if k == 0 else float(thr[k])
        tars.append({'far': far, 'tar': float(tpr[k]), 'threshold': t, 'achievedFar': float(fpr[k])})
    p, n = len(genuine), len(impostor)
    best_acc = float(np.max((tpr * p + (1.0 - fpr) * n) / (p + n)))
    return {
        'name': name,
        'genuine': floats(genuine),
        'impostor': floats(impostor),
        'fpr': floats(fpr[1:]),
        'tpr': floats(tpr[1:]),
        'thresholds': floats(thr[1:]),
        'auc': float(roc_auc_score(y, s)),
        'eer': float(eer),
        'eerThreshold': float(thr[eer_idx]),
        'tarAtFar': tars,
        'bestAccuracy': best_acc,
    }


def unit(rows):
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def identification_case(rng):
    identities, dim, per_id, non_mated = 12, 16, 5, 30
    gallery = unit(rng.normal(size=(identities, dim)))
    mated_ids = np.repeat(np.arange(identities), per_id)
    mated = gallery[mated_ids] + rng.normal(scale=0.33, size=(len(mated_ids), dim))
    others = rng.normal(size=(non_mated, dim))
    gallery = np.round(gallery, 6)
    mated = np.round(mated, 6)
    others = np.round(others, 6)
    scores = cosine_similarity(mated, gallery)
    cmc = [float(top_k_accuracy_score(mated_ids, scores, k=k, labels=np.arange(identities)))
           for k in range(1, identities)] + [1.0]
    # Brute-force DIR@FPIR from its definition.
    rank1 = scores.argmax(axis=1) == mated_ids
    mated_score = scores[np.arange(len(mated_ids)), mated_ids]
    non_top = cosine_similarity(others, gallery).max(axis=1)
    # Thresholds worth trying: scores that change the outcome (a rank-1 mate's or a non-mated best).
    candidates = np.unique(np.concatenate([mated_score[rank1], non_top]))
    dirs = []
    for fpir in FPIRS:
        if len(non_top) * fpir < 1 - 1e-9:
            dirs.append({'fpir': fpir, 'dir': None})
            continue
        ok = [t for t in candidates if np.mean(non_top >= t) <= fpir]
        t = min(ok)
        dirs.append({'fpir': fpir, 'dir': float(np.mean(rank1 & (mated_score >= t))), 'threshold': float(t),
                     'achievedFpir': float(np.mean(non_top >= t))})
    return {
        'dim': dim,
        'gallery': floats(gallery.ravel()),
        'matedProbes': floats(mated.ravel()),
        'matedIdentity': [int(i) for i in mated_ids],
        'nonMatedProbes': floats(others.ravel()),
        'cmc': cmc,
        'dirAtFpir': dirs,
    }


def all_pairs_case(rng):
    n, dim, classes = 40, 8, 6
    labels = rng.integers(0, classes, size=n)
    centres = rng.normal(size=(classes, dim))
    x = np.round(centres[labels] + rng.normal(scale=0.8, size=(n, dim)), 6)
    sim = cosine_similarity(x)
    iu = np.triu_indices(n, k=1)
    same = (labels[iu[0]] == labels[iu[1]]).astype(int)
    return {
        'dim': dim,
        'embeddings': floats(x.ravel()),
        'labels': [int(v) for v in labels],
        'genuinePairs': int(same.sum()),
        'impostorPairs': int(len(same) - same.sum()),
        'auc': float(roc_auc_score(same, sim[iu])),
        'genuineMean': float(sim[iu][same == 1].mean()),
    }


def main():
    rng = np.random.default_rng(20240601)
    cases = []
    g = np.clip(rng.normal(0.6, 0.15, 300), -1, 1)
    i = np.clip(rng.normal(0.05, 0.12, 2000), -1, 1)
    cases.append(roc_case('continuous', g, i))
    cases.append(roc_case('ties (2 decimals)', np.round(np.clip(rng.normal(0.5, 0.2, 200), -1, 1), 2),
                          np.round(np.clip(rng.normal(0.1, 0.15, 2000), -1, 1), 2)))
    cases.append(roc_case('separable', rng.uniform(0.5, 0.9, 100), rng.uniform(-0.2, 0.4, 1000)))
    cases.append(roc_case('tiny with cross-class ties', [0.9, 0.8, 0.8, 0.3], [0.8, 0.5, 0.1]))
    cases.append(roc_case('few impostors', rng.normal(0.5, 0.2, 50), rng.normal(0.0, 0.2, 50)))
    cases.append(roc_case('worse than chance', rng.normal(0.0, 0.2, 100), rng.normal(0.3, 0.2, 400)))
    out = {
        'generator': 'scripts/make_eval_vectors.py',
        'sklearn': sklearn.__version__,
        'numpy': np.__version__,
        'fars': FARS,
        'fpirs': FPIRS,
        'roc': cases,
        'identification': identification_case(rng),
        'allPairs': all_pairs_case(rng),
    }
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    with open(OUT, 'w') as f:
        json.dump(out, f, separators=(',', ':'))
        f.write('\n')
    print(f'wrote {os.path.normpath(OUT)} ({os.path.getsize(OUT)} bytes)')


if __name__ == '__main__':
    main()
