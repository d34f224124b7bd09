"""What the EASC dev half says about beating Lead (issue #13): learned rankers
on the annotators' choices, the shipped scorer with and without MMR, and
linear.py's position-anchored search with the shipped score as a feature,
all under linear.py's five folds. Prints the table of README.md, "What the
EASC dev half says about the +1.5 target".

    python models/summarizer/easc_study.py [--easc ../shared/data/easc/easc_dev.jsonl] \\
        [--cache /tmp/summ/easc.npz]

Labels: the annotators' shares of each sentence (common.shares).
"""
import argparse
import json
import random

import numpy as np
import onnxruntime as ort

import linear
from common import REPO, features, shares
from linear import topk
from evaluate import min_max, mmr

STUDY = ["rel_pos", "inv_sqrt_pos", "is_first", "log_words", "short", "log_n", "centroid_cos",
         "first_cos", "mean_cos", "quote", "digit"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--easc", default=str(REPO.parent / "shared/data/easc/easc_dev.jsonl"))
    ap.add_argument("--cache", default=None)
    a = ap.parse_args()
    docs = linear.load(a.easc, a.cache)
    mdir = REPO / "models/summarizer-ext"
    shipped_features = json.loads((mdir / "manifest.json").read_text(encoding="utf-8"))["features"]
    # The ANT-headline transformer: since 1 Dec 2026 model.onnx is it plus
    # blend.py's EASC-learned blend, which this study came before.
    scorer = ort.InferenceSession(str(mdir / "transformer.onnx"), providers=["CPUExecutionProvider"])
    for d in docs:
        d["share"] = shares(d)
        d["study"] = features(d["sents"], d["emb"], STUDY)
        x = features(d["sents"], d["emb"], shipped_features)
        d["shipped"] = min_max(scorer.run(["scores"], {"embeddings": d["emb"][None],
                                                       "features": x[None]})[0][0])
    print(f"shares sum to {np.mean([d['share'].sum() / d['k'] for d in docs]):.2f} k on average")
    idx = list(range(len(docs)))
    idx_of = {id(d): i for i, d in enumerate(docs)}
    random.Random(linear.FOLD_SEED).shuffle(idx)
    folds = [idx[i::5] for i in range(5)]
    lead = np.mean([linear.rouge(d, list(range(d["k"])), ("r1", "rl")) for d in docs], 0) * 100

    def report(name, fit, served=False):
        """fit(train docs) -> (doc -> scores); scored on each held-out fold."""
        got = []
        for f in folds:
            score = fit([docs[i] for i in idx if i not in f])
            for i in f:
                d, s = docs[i], score(docs[i])
                picks = mmr(min_max(s), d["emb"], d["sents"], d["k"]) if served else topk(s, d["k"])
                got.append(linear.rouge(d, picks, ("r1", "rl")))
        r1, rl = np.mean(got, 0) * 100
        print(f"| {name} | {r1:.2f} | {rl:.2f} | {r1 - lead[0]:+.2f} |", flush=True)

    def columns(cols):
        return lambda d: d["study"][:, [STUDY.index(c) for c in cols]]

    def standardizer(cols, train):
        x = np.concatenate([columns(cols)(d) for d in train])
        mu, sd = x.mean(0), x.std(0) + 1e-6
        return lambda d: (columns(cols)(d) - mu) / sd

    def ridge(cols, lam=1.0):
        def fit(train):
            z = standardizer(cols, train)
            x = np.concatenate([np.c_[z(d), np.ones(len(d["sents"]))] for d in train])
            y = np.concatenate([d["share"] for d in train])
            w = np.linalg.solve(x.T @ x + lam * np.eye(x.shape[1]), x.T @ y)
            return lambda d: np.c_[z(d), np.ones(len(d["sents"]))] @ w
        return fit

    def ranknet(cols, epochs=300, lr=1.0, l2=1e-3):
        def fit(train):
            z = standardizer(cols, train)
            diffs = []
            for d in train:
                zd, s = z(d), d["share"]
                i, j = np.where(s[:, None] > s[None, :])
                diffs.append(zd[i] - zd[j])
            p = np.concatenate(diffs)
            w = np.zeros(len(cols))
            for _ in range(epochs):
                w -= lr * (-(p * (1 / (1 + np.exp(p @ w)))[:, None]).mean(0) + l2 * w)
            return lambda d: z(d) @ w
        return fit

    searched = {}

    def search(extra):
        """linear.py's 401 candidates over its features (plus the shipped score
        when `extra`), standardized over all articles, and each candidate's
        top-k R-1 on every article: computed once, sliced per fold."""
        if extra not in searched:
            xs = [np.c_[d["x"], d["shipped"]] if extra else d["x"] for d in docs]
            allx = np.concatenate(xs)
            zs = [(x - allx.mean(0)) / (allx.std(0) + 1e-6) for x in xs]
            rng = np.random.default_rng(linear.SEED)
            base = np.eye(allx.shape[1])[0]
            cands = [base] + [3 * base + rng.normal(size=allx.shape[1]) * s
                              for s in (0.3, 0.6, 1.0, 1.5) for _ in range(100)]
            cands = np.array([c / np.linalg.norm(c) for c in cands])
            r1 = np.array([[linear.rouge(d, topk(z @ c, d["k"]))[0] for d, z in zip(docs, zs)]
                           for c in cands])
            searched[extra] = ({id(d): z for d, z in zip(docs, zs)}, cands, r1)
        return searched[extra]

    def anchored(extra, top=1, served=True):
        """The best of the search's candidates on the training folds, or the
        mean of the best `top`."""
        def fit(train):
            z, cands, r1 = search(extra)
            rows = [idx_of[id(d)] for d in train]
            w = cands[np.argsort(r1[:, rows].mean(1))[::-1][:top]].mean(0)
            return lambda d: z[id(d)] @ w
        return fit, served

    print(f"\n| scorer | R-1 | R-L | vs Lead R-1 |\n| --- | ---: | ---: | ---: |\n"
          f"| Lead-k | {lead[0]:.2f} | {lead[1]:.2f} | +0.00 |")
    report("shipped transformer, top-k", lambda train: (lambda d: d["shipped"]))
    report("shipped transformer, MMR", lambda train: (lambda d: d["shipped"]), served=True)
    report("ridge on the share", ridge(STUDY))
    report("ridge on the share, MMR", ridge(STUDY), served=True)
    report("RankNet on the share", ranknet(STUDY))
    report("RankNet on the share, MMR", ranknet(STUDY), served=True)
    for c in STUDY:
        if c != "inv_sqrt_pos":
            report(f"RankNet without {c}", ranknet([f for f in STUDY if f != c]))
    for name, (fit, served) in [
        ("linear.py, MMR", anchored(False)),
        ("+ shipped score, MMR", anchored(True)),
        ("+ shipped score, top-k", anchored(True, served=False)),
        ("+ shipped score, top-k, mean of best 5", anchored(True, top=5, served=False)),
        ("+ shipped score, top-k, mean of best 20", anchored(True, top=20, served=False)),
        ("+ shipped score, top-k, mean of best 50", anchored(True, top=50, served=False)),
    ]:
        report(name, fit, served)
    report("ceiling: top-k by the true share", lambda train: (lambda d: d["share"] - 1e-3 * np.arange(len(d["sents"]))))


if __name__ == "__main__":
    main()
