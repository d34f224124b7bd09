"""k=1 diagnostic: is there any signal for leaving the lead sentence?

For each dev article, a scorer's best non-lead sentence j is compared with
the lead (sentence 0). Articles are ranked by the scorer's confidence that j
beats the lead (score margin), and for the m most confident articles the
script prints the dev ROUGE-1 / ROUGE-L F1 change (x 100, averaged over all
dev articles) of switching the one-sentence summary from the lead to j. A
scorer with usable signal shows a positive change for small m; reaching the
k=1 target of issue #4 needs about +0.83 R-1 and +0.75 R-L.

Scorers:
  --onnx DIR      an exported model (model.onnx + manifest.json)
  --ckpt FILE     a train.py checkpoint (PyTorch)
  --gbm N         a gradient-boosted regressor of each sentence's ROUGE-1
                  F1 on hand-made surface features (position, lengths, lexical
                  overlap with the other sentences and the lead, quote, colon,
                  digits, reporting verbs, station and weekday names), trained
                  on the first N training articles (segment.py spans); needs
                  scikit-learn (not in requirements.txt)
  --title-ceiling a cheating upper bound for any scorer that works through e5
                  similarity: pick the sentence closest to the e5 embedding
                  of the headline itself (unknown at inference time)

    python models/summarizer/k1_switch.py --onnx models/summarizer-ext --gbm 3000
"""
import argparse
import json
import re
from collections import Counter

import numpy as np

from common import features, load_articles, rouge_l, rouge_n, split_order, tokens
from data import load

TOPS = (5, 10, 20, 40, 80, 120)
QUOTES = set('"«»“”')
REPORT = re.compile(r"^\s*و?\s*(أضاف|قال|أكد|أوضح|أشار|اضاف|اكد|اوضح|اشار|تابع|شدد)")
STATION = re.compile(r"(جوهرة|اف ام|أف أم|مراسل)")
DAY = re.compile(r"(اليوم|أمس|الاثنين|الثلاثاء|الأربعاء|الخميس|الجمعة|السبت|الأحد)")


def curve(name, items, scores):
    """Print the switch curve of one scorer (scores: one array per item)."""
    rows, k1 = [], np.zeros(2)
    for it, sc in zip(items, scores):
        tt = tokens(it["title"])
        st = [tokens(s) for s in it["sents"]]
        top = int(np.argmax(sc))
        k1 += [rouge_n(st[top], tt, 1), rouge_l(st[top], tt)]
        if len(sc) < 2:
            continue
        j = 1 + int(np.argmax(sc[1:]))
        rows.append((float(sc[j] - sc[0]), rouge_n(st[j], tt, 1) - rouge_n(st[0], tt, 1),
                     rouge_l(st[j], tt) - rouge_l(st[0], tt)))
    n = len(items)
    rows.sort(key=lambda r: -r[0])
    c1 = np.cumsum([r[1] for r in rows])
    cl = np.cumsum([r[2] for r in rows])
    print(f"{name}: top-1 R-1 {100 * k1[0] / n:.2f} R-L {100 * k1[1] / n:.2f}; "
          f"non-lead top-1 on {sum(r[0] > 0 for r in rows)}/{n}")
    print("  switch the m most confident (dR-1/dR-L): " + " ".join(
        f"m={m}: {100 * c1[m - 1] / n:+.2f}/{100 * cl[m - 1] / n:+.2f}"
        for m in TOPS if m <= len(rows)))


def surface(sents):
    """[n, 22] hand-made features of an article's sentences (for --gbm)."""
    toks = [tokens(s) for s in sents]
    df = Counter(t for tt in toks for t in set(tt))
    lead_words, lead = len(sents[0].split()), set(toks[0])
    out = []
    for i, s in enumerate(sents):
        u, w = set(toks[i]), len(s.split())
        jac = [len(u & set(toks[j])) / max(len(u | set(toks[j])), 1)
               for j in range(len(sents)) if j != i] or [0.0]
        out.append([i, len(sents), i / len(sents), i == len(sents) - 1, w, len(s), lead_words,
                    w / max(lead_words, 1), sum(df[t] > 1 for t in u) / max(len(u), 1),
                    np.mean([df[t] for t in toks[i]]) if toks[i] else 0.0,
                    len(u & lead) / max(len(u | lead), 1), max(jac), float(np.mean(jac)),
                    s.startswith("و"), any(c in QUOTES for c in s), ":" in s,
                    bool(re.search(r"\d", s)), bool(REPORT.match(s)), bool(STATION.search(s)),
                    bool(DAY.search(s)), s.rstrip().endswith(":"), s.count("،") + s.count(",")])
    return np.asarray(out, dtype=np.float64)


def gbm_scores(dev, n_train):
    from sklearn.ensemble import HistGradientBoostingRegressor

    import segment
    arts = load_articles()
    _, train = split_order(len(arts))
    xs, ys = [], []
    for i in train[:n_train]:
        a = arts[i]
        sents = [a["text"][s:e] for s, e in segment.sentences(a["text"])][:60]
        if not sents:
            continue
        tt = tokens(a["title"])
        xs.append(surface(sents))
        ys.append([rouge_n(tokens(s), tt, 1) for s in sents])
    model = HistGradientBoostingRegressor(learning_rate=0.05, max_iter=200, max_leaf_nodes=31,
                                          min_samples_leaf=40, random_state=13)
    model.fit(np.concatenate(xs), np.concatenate(ys))
    return [model.predict(surface(it["sents"])) for it in dev]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--onnx", action="append", default=[])
    ap.add_argument("--ckpt", action="append", default=[])
    ap.add_argument("--gbm", type=int, default=0)
    ap.add_argument("--title-ceiling", action="store_true")
    args = ap.parse_args()
    dev = load(("dev",))["dev"]
    for d in args.onnx:
        import onnxruntime as ort
        so = ort.SessionOptions()
        so.intra_op_num_threads = 1
        sess = ort.InferenceSession(f"{d}/model.onnx", so, providers=["CPUExecutionProvider"])
        names = json.load(open(f"{d}/manifest.json"))["features"]
        sc = [sess.run(["scores"], {"embeddings": it["emb"][None],
                                    "features": features(it["sents"], it["emb"], names)[None]})[0][0]
              for it in dev]
        curve(d, dev, sc)
    for ck in args.ckpt:
        import torch

        from model import Scorer
        torch.set_num_threads(1)
        c = torch.load(ck)
        m = Scorer(len(c["features"]))
        m.load_state_dict(c["state"])
        m.eval()
        with torch.no_grad():
            sc = [m(torch.from_numpy(it["emb"])[None],
                    torch.from_numpy(features(it["sents"], it["emb"], c["features"]))[None])[0].numpy()
                  for it in dev]
        curve(ck, dev, sc)
    if args.title_ceiling:
        from embed import Encoder
        titles = Encoder(threads=1).embed([it["title"] for it in dev])
        curve("cosine to the headline's own e5 embedding (cheating ceiling)", dev,
              [it["emb"] @ t for it, t in zip(dev, titles)])
    if args.gbm:
        curve(f"GBM on surface features ({args.gbm} training articles)", dev,
              gbm_scores(dev, args.gbm))


if __name__ == "__main__":
    main()
