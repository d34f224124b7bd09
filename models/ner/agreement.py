"""How far two NER models agree on unlabeled news: the summarizer's ANT dev
articles read whole, as the service reads them (sentence windows, repeated
names), with the first model's mentions as the reference.

It measures change, not quality: it is how a model retrained on data no DEV
is left to score (train.py --split none) is compared with the run that
chose its recipe. Exact spans and labels; P / R / F1 of B against A, per
label, and the mentions each model finds.

    agreement.py MODEL_A MODEL_B [--articles 498] [--json OUT] [--show N]
"""
from __future__ import annotations

import argparse
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [HERE, os.path.join(os.path.dirname(HERE), "summarizer")]
from evaluate import LABS  # noqa: E402
from infer import NerOnnx, prf  # noqa: E402
from common import load_articles, split_order  # noqa: E402


def mentions(model_dir, texts):
    return [{(e["label"], e["start"], e["end"]) for e in ents} for ents in NerOnnx(model_dir).predict(texts)]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model_a", help="the reference model directory")
    ap.add_argument("model_b")
    ap.add_argument("--articles", type=int, default=498, help="the first N ANT dev articles")
    ap.add_argument("--json", help="write the figures here")
    ap.add_argument("--show", type=int, default=0, help="print N differing mentions")
    a = ap.parse_args()
    arts = load_articles()
    dev, _ = split_order(len(arts))
    texts = [arts[i]["text"] for i in dev[:a.articles]]
    ref, new = mentions(a.model_a, texts), mentions(a.model_b, texts)
    res = prf(ref, new, LABS)
    res["mentions"] = {"a": sum(map(len, ref)), "b": sum(map(len, new))}
    res["articles_differing"] = sum(r != n for r, n in zip(ref, new))
    print(f"{len(texts)} articles; mentions A {res['mentions']['a']}, B {res['mentions']['b']}; "
          f"{res['articles_differing']} articles differ")
    for lab in LABS + ("micro",):
        s = res[lab]
        print(f"  {lab:5s} P {s['precision']:.2f} R {s['recall']:.2f} F1 {s['f1']:.2f} (A: {s['support']})")
    shown = 0
    for text, r, n in zip(texts, ref, new):
        for tag, only in (("A only", r - n), ("B only", n - r)):
            for lab, s, e in sorted(only, key=lambda m: m[1]):
                if shown < a.show:
                    print(f"  {tag}: {lab} {text[s:e]!r}   …{text[max(0, s - 30):e + 30]!r}")
                    shown += 1
    if a.json:
        with open(a.json, "w", encoding="utf-8") as f:
            json.dump(res, f, indent=1)


if __name__ == "__main__":
    main()
