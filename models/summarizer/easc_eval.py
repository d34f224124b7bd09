"""ROUGE of a running service's summaries on EASC dev (human extractive
summaries, five per article), against Lead and the extractive oracle, at
ratio 0.3 of the article's sentences.

Sentences are the service's own (a ratio-1.0 request returns all of them), so
every system picks from the same sentences and gets the same k =
ceil(0.3 * n) (the service's rounding). ROUGE F1 x 100 with evaluate.py's
Arabic normalization, averaged over the five references, then over articles.
Oracles (greedy R-1 + R-2, at most k sentences): "oracle" picks one summary for
the mean over the five references, the quantity scored here (the best a single
answer can aim at; picking against the five references concatenated instead,
as this script did before, found 50.09 R-1 where this finds 58.8);
"oracle per reference" picks a summary for each reference and scores it
against that reference only (an upper bound no single answer reaches). With `--sumy` (needs sumy==0.11.0), LexRank and TextRank too, over the
service's sentences (evaluate.py's sumy_pick, no NLTK data needed).

    python models/summarizer/easc_eval.py --endpoint 127.0.0.1:50051 \
        [--easc ../shared/data/easc/easc_dev.jsonl] [--json out.json]

Needs numpy, grpcio and grpcio-tools (models/ner/requirements-eval.txt).
"""
import argparse
import json
import math
from pathlib import Path

import numpy as np

from common import (REPO, every_sentence, greedy_oracle, greedy_oracle_multi, read_easc, rouge_l, rouge_n,
                    stubs, summary_spans, tokens)

RATIO = 0.3


def served(endpoint, pb, rpc, articles):
    """{(id, "all"|"sum"): [(start, end) code-point spans]} from the service."""
    items = [(f"{a['id']}|{kind}", a["article"], opts) for a in articles
             for kind, opts in (("all", every_sentence(pb)), ("sum", pb.SummaryOptions(ratio=RATIO, mode=1)))]
    return {tuple(rid.split("|")): spans for rid, spans in summary_spans(endpoint, pb, rpc, items).items()}


def score(picks, sents, refs):
    cand = [t for i in sorted(picks) for t in sents[i]]
    return (np.mean([rouge_n(cand, r, 1) for r in refs]),
            np.mean([rouge_n(cand, r, 2) for r in refs]),
            np.mean([rouge_l(cand, r) for r in refs]))


def evaluate(endpoint, articles, oracles=True, sumy=False):
    """{system: [R-1, R-2, R-L] x 100}: Lead-k and the service, plus the
    oracles and sumy's LexRank and TextRank when asked."""
    pb, rpc = stubs()
    got = served(endpoint, pb, rpc, articles)
    systems = {"Lead-k": [], "service": []}
    if oracles:
        systems.update({"oracle": [], "oracle per reference": []})
    if sumy:
        from evaluate import sumy_pick
        systems.update({"LexRank (sumy)": [], "TextRank (sumy)": []})
    for art in articles:
        spans = got[(art["id"], "all")]
        texts = [art["article"][s:e] for s, e in spans]
        sents = [tokens(t) for t in texts]
        refs = [tokens(art["summaries"][k]) for k in sorted(art["summaries"])]
        k = max(1, math.ceil(RATIO * len(spans)))
        index = {s: i for i, s in enumerate(spans)}
        systems["Lead-k"].append(score(range(k), sents, refs))
        systems["service"].append(score([index[s] for s in got[(art["id"], "sum")]], sents, refs))
        if oracles:
            systems["oracle"].append(score(greedy_oracle_multi(sents, refs, k), sents, refs))
            per_ref = [score(greedy_oracle(sents, r, k), sents, [r]) for r in refs]
            systems["oracle per reference"].append(tuple(np.mean(per_ref, axis=0)))
        if sumy:
            systems["LexRank (sumy)"].append(score(sumy_pick("lexrank", texts, k), sents, refs))
            systems["TextRank (sumy)"].append(score(sumy_pick("textrank", texts, k), sents, refs))
    return {name: [round(100 * float(np.mean([s[j] for s in rows])), 2) for j in range(3)]
            for name, rows in systems.items()}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--endpoint", required=True)
    ap.add_argument("--easc", default=str(REPO.parent / "shared/data/easc/easc_dev.jsonl"))
    ap.add_argument("--sumy", action="store_true")
    ap.add_argument("--json")
    a = ap.parse_args()
    articles = read_easc(a.easc)
    table = evaluate(a.endpoint, articles, oracles=True, sumy=a.sumy)
    print(f"EASC dev, {len(articles)} articles, ratio {RATIO}, mean over 5 references\n")
    print("| system | R-1 | R-2 | R-L |\n| --- | ---: | ---: | ---: |")
    for name, (r1, r2, rl) in table.items():
        print(f"| {name} | {r1:.2f} | {r2:.2f} | {rl:.2f} |")
    if a.json:
        Path(a.json).write_text(json.dumps(table, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()
