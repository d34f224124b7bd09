"""Evaluation on the seeded dev split (500 articles, random.Random(13), never
trained on): ROUGE-1/2/L F1 (Arabic-aware normalization, see common.py)
against each article's headline, with k = 1 and k = 3 sentences per article
(min(k, n) for shorter articles) for every system:

  Lead-k            the first k sentences
  LexRank, TextRank sumy 0.11 on our sentences and whitespace tokens
  v1 (service)      the running service's centrality scorer (prepare.py)
  learned (top-k)   models/summarizer-ext/model.onnx, the k best scores
  learned + MMR     the same scores, min-max scaled per article, through a
                    Python twin of the service's MMR (lambda 0.7, recentred-cosine
                    redundancy, lines under 4 words last)
  learned (service) with --served: the running service's own picks (served.py)
  oracle            greedy ROUGE-1+ROUGE-2 oracle forced to k sentences

    python models/summarizer/evaluate.py [--model-dir models/summarizer-ext] [--json out.json]
"""
import argparse
import json
import sys
from pathlib import Path

import numpy as np

from common import (REPO, WORK, features, load_articles, read_jsonl, rouge_all, rouge_n,
                    split_order, tokens)

KS = (1, 3)


# ---------------------------------------------------------------- baselines
class _Tok:
    language = "arabic"

    def to_words(self, s):
        return tokens(s)

    def to_sentences(self, s):  # never used: documents are built directly
        return [s]


def sumy_pick(kind, sents, k):
    from sumy.models.dom import ObjectDocumentModel, Paragraph, Sentence
    from sumy.summarizers.lex_rank import LexRankSummarizer
    from sumy.summarizers.text_rank import TextRankSummarizer
    tok = _Tok()
    objs = [Sentence(s, tok) for s in sents]
    doc = ObjectDocumentModel([Paragraph(objs)])
    summ = LexRankSummarizer() if kind == "lexrank" else TextRankSummarizer()
    try:
        chosen = summ(doc, k)
    except Exception as e:  # degenerate article: fall back to the lead
        print(f"sumy {kind} failed ({e}); lead used", file=sys.stderr)
        return list(range(min(k, len(sents))))
    ids = {id(o): i for i, o in enumerate(objs)}
    return sorted(ids[id(c)] for c in chosen)


def oracle_forced(st, tt, k):
    chosen = []
    while len(chosen) < min(k, len(st)):
        best, bv = None, -1.0
        for i in range(len(st)):
            if i in chosen:
                continue
            cand = [t for j in sorted(chosen + [i]) for t in st[j]]
            v = rouge_n(cand, tt, 1) + rouge_n(cand, tt, 2)
            if v > bv:
                best, bv = i, v
        chosen.append(best)
    return sorted(chosen)


def min_max(scores):
    """Twin of min_max in src/tasks/summarize.rs (learned scores -> [0, 1])."""
    lo, hi = float(np.min(scores)), float(np.max(scores))
    return (scores - lo) / (hi - lo) if hi > lo else np.ones_like(scores)


def mmr(scores, emb, sents, k, lam=0.7):
    """Python twin of Scorer::mmr in src/tasks/summarize.rs."""
    n = len(scores)
    cos = emb @ emb.T
    mean = (cos.sum() - np.trace(cos)) / (n * (n - 1)) if n > 1 else 0.0
    cen = np.maximum((cos - mean) / max(1.0 - mean, 1e-6), 0.0)
    np.fill_diagonal(cen, 0.0)
    full = [len(s.split()) >= 4 for s in sents]
    chosen = []
    for avail in (full, [not f for f in full]):
        avail = list(avail)
        while len(chosen) < min(k, n):
            best = None
            for i in range(n):
                if not avail[i]:
                    continue
                red = max((cen[i, c] for c in chosen), default=0.0)
                v = lam * scores[i] - (1 - lam) * red
                if best is None or v > best[1]:
                    best = (i, v)
            if best is None:
                break
            avail[best[0]] = False
            chosen.append(best[0])
    return sorted(chosen)


def dev_embeddings(dev_docs, segs, arts_by_doc):
    """Dev embeddings from embed.py's cache, or computed now."""
    import glob
    out = {}
    for path in sorted(glob.glob(str(WORK / "emb" / "chunk_*.npz"))):
        z = np.load(path)
        if "dev" not in set(map(str, z["splits"])):
            continue
        for j, doc in enumerate(map(str, z["docnos"])):
            if str(z["splits"][j]) == "dev":
                out[doc] = z["emb"][z["offsets"][j]:z["offsets"][j + 1]].astype(np.float32)
    missing = [d for d in dev_docs if d not in out]
    if missing:
        from embed import Encoder
        enc = Encoder()
        for d in missing:
            t = arts_by_doc[d]["text"]
            out[d] = enc.embed([t[a:b] for a, b in segs[d]["spans"]])
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model-dir", default=str(REPO / "models" / "summarizer-ext"))
    ap.add_argument("--json", default=None, help="also write the results as JSON here")
    ap.add_argument("--limit", type=int, default=None, help="first N dev articles only")
    ap.add_argument("--mmr-lambda", type=float, default=0.7)
    ap.add_argument("--served", default=None,
                    help="served.py output: add the running service's picks as a column")
    args = ap.parse_args()

    arts = load_articles()
    by_doc = {a["docno"]: a for a in arts}
    dev, _ = split_order(len(arts))
    segs = read_jsonl(WORK / "segments.jsonl")
    dev_docs = [arts[i]["docno"] for i in dev][:args.limit]
    missing = [d for d in dev_docs if d not in segs]
    if missing:
        sys.exit(f"{len(missing)} dev articles lack service spans: run prepare.py")
    dev_docs = [d for d in dev_docs if segs[d]["spans"]]

    model = None
    mdir = Path(args.model_dir)
    if (mdir / "model.onnx").exists():
        import onnxruntime as ort
        so = ort.SessionOptions()
        so.intra_op_num_threads = 2
        model = ort.InferenceSession(str(mdir / "model.onnx"), so,
                                     providers=["CPUExecutionProvider"])
        feat_names = json.load(open(mdir / "manifest.json"))["features"]
        embs = dev_embeddings(dev_docs, segs, by_doc)

    systems = ["Lead-k", "LexRank (sumy)", "TextRank (sumy)", "v1 centrality (service)"]
    if model is not None:
        systems += ["learned (top-k)", "learned + MMR (as served)"]
    served = read_jsonl(args.served) if args.served else None
    if served:
        systems += ["learned (service)"]
    systems += ["oracle (greedy, k sentences)"]
    sums = {(s, k): np.zeros(3) for s in systems for k in KS}
    v1_replica_agree = 0
    for d in dev_docs:
        a, seg = by_doc[d], segs[d]
        sents = [a["text"][s:e] for s, e in seg["spans"]]
        st = [tokens(s) for s in sents]
        tt = tokens(a["title"])
        n = len(sents)
        if model is not None:
            e = embs[d]
            f = features(sents, e, feat_names)
            sc = model.run(["scores"], {"embeddings": e[None], "features": f[None]})[0][0]
            order = list(np.argsort(-sc, kind="stable"))
            v1_replica_agree += mmr(np.array(seg["v1_scores"]), e, sents, 3) == seg["v1_3"]
        for k in KS:
            picks = {
                "Lead-k": list(range(min(k, n))),
                "LexRank (sumy)": sumy_pick("lexrank", sents, k),
                "TextRank (sumy)": sumy_pick("textrank", sents, k),
                "v1 centrality (service)": seg[f"v1_{k}"],
                "oracle (greedy, k sentences)": oracle_forced(st, tt, k),
            }
            if model is not None:
                picks["learned (top-k)"] = sorted(order[:k])
                picks["learned + MMR (as served)"] = mmr(min_max(sc), e, sents, k,
                                                        args.mmr_lambda)
            if served:
                picks["learned (service)"] = served[d][f"k{k}"]
            for s in systems:
                p = picks[s]
                assert len(p) == min(k, n), (s, d, p)
                cand = [t for j in sorted(p) for t in st[j]]
                sums[(s, k)] += rouge_all(cand, tt)
    N = len(dev_docs)
    res = {f"k{k}": {s: {m: round(100 * float(v), 2) for m, v in
                         zip(("R1", "R2", "RL"), sums[(s, k)] / N)} for s in systems}
           for k in KS}
    lines = [f"Dev split: {N} ANT articles (seed 13), reference = headline, ROUGE F1 x 100.", "",
             "| system | k=1 R-1 | k=1 R-2 | k=1 R-L | k=3 R-1 | k=3 R-2 | k=3 R-L |",
             "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for s in systems:
        row = [res[f"k{k}"][s][m] for k in KS for m in ("R1", "R2", "RL")]
        lines.append(f"| {s} | " + " | ".join(f"{x:.2f}" for x in row) + " |")
    gaps = {}
    if model is not None:
        lines.append("")
        base = systems[:4]
        for k in KS:
            for m in ("R1", "RL"):
                b = max(res[f"k{k}"][s][m] for s in base)
                o = res[f"k{k}"]["oracle (greedy, k sentences)"][m]
                for s in ("learned (top-k)", "learned + MMR (as served)"):
                    x = res[f"k{k}"][s][m]
                    gaps[f"k{k} {m} {s}"] = round((x - b) / (o - b), 3) if o > b else None
                lines.append(f"k={k} {m}: best baseline {b:.2f}, oracle {o:.2f}; gap closed: "
                             f"top-k {gaps[f'k{k} {m} learned (top-k)']}, "
                             f"+MMR {gaps[f'k{k} {m} learned + MMR (as served)']}")
        lines.append(f"(Python MMR twin reproduces the service's v1 k=3 picks on "
                     f"{v1_replica_agree}/{N} articles)")
    print("\n".join(lines))
    if args.json:
        json.dump({"articles": N, "results": res, "gap_closed": gaps,
                   "v1_mmr_replica_agreement": v1_replica_agree}, open(args.json, "w"), indent=1)


if __name__ == "__main__":
    main()
