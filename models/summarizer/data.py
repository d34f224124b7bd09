"""Loads the cached embeddings and builds per-article training/eval records:
features, greedy-oracle labels and soft ROUGE labels against the headline."""
import glob
import pickle
import sys

import numpy as np

from common import (WORK, features, greedy_oracle, load_articles, rouge_n,
                    tokens)


def load(splits=("train", "dev"), cache=True):
    arts = {a["docno"]: a for a in load_articles()}
    lab_path = WORK / "labels.pkl"
    labels = pickle.load(open(lab_path, "rb")) if (cache and lab_path.exists()) else {}
    out = {s: [] for s in splits}
    new = 0
    for path in sorted(glob.glob(str(WORK / "emb" / "chunk_*.npz"))):
        z = np.load(path)
        offs, spans, emb = z["offsets"], z["spans"], z["emb"]
        for j, (doc, split) in enumerate(zip(z["docnos"], z["splits"])):
            split = str(split)
            if split not in out:
                continue
            doc = str(doc)
            a, b = offs[j], offs[j + 1]
            if b == a:
                continue
            a_ = arts[doc]
            sp = spans[a:b].tolist()
            sents = [a_["text"][s:e] for s, e in sp]
            e = emb[a:b].astype(np.float32)
            if doc not in labels:
                st = [tokens(s) for s in sents]
                tt = tokens(a_["title"])
                labels[doc] = {
                    "oracle": greedy_oracle(st, tt, 3),
                    "soft": np.array([rouge_n(s, tt, 1) for s in st], dtype=np.float32),
                }
                new += 1
            out[split].append({
                "docno": doc, "sents": sents, "spans": sp, "emb": e,
                "feat": features(sents, e), "title": a_["title"], **labels[doc],
            })
    if new and cache:
        pickle.dump(labels, open(lab_path, "wb"))
    print({s: len(v) for s, v in out.items()}, f"({new} new label sets)", file=sys.stderr)
    return out
