"""Silver NER labels for self-training: label unlabeled news with an exported
model and keep only the sentences it is sure of, as CoNLL for `train.py --extra`.

    silver.py MODEL_DIR ANT_JSONL OUT.txt [--sentences 8000] [--min-prob 0.9]

Articles are visited in a seeded shuffled order and split into sentences at
. ! ? ؟ and line breaks. A sentence is kept when it has 5-60 words, at least
one entity, and every word's Viterbi label has probability >= --min-prob (the
word's softmax, as the service decodes it); --min-entity-prob sets a lower bar
for the words labelled as entities, so that sentences with the names the
teacher is unsure of are kept too (default: --min-prob). Words are the service's words
(words.split_words), written with their original surface, one per line.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import re
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from infer import LABELS, NerOnnx, log_softmax, text_words, viterbi, word_logits_many  # noqa: E402

SENTENCE_END = re.compile(r"(?<=[.!?؟])\s+|\n+")
SEED = 7


def sentences(text):
    for s in SENTENCE_END.split(text):
        s = s.strip()
        if s:
            yield s


def confident_tags(word_logits, k):
    """IOB2 tags of the Viterbi path and each word's probability of its tag."""
    logp = log_softmax(np.asarray(word_logits, dtype=np.float64))
    path = viterbi(logp, k.get("transitions"), k.get("start_transitions"), LABELS)
    probs = np.exp(logp[np.arange(len(path)), path])
    return [LABELS[p] for p in path], probs


def is_confident(tags, probs, min_prob, min_entity_prob):
    """Every O word at `min_prob` or more, every entity word at `min_entity_prob`."""
    return all(p >= (min_prob if t == "O" else min_entity_prob) for t, p in zip(tags, probs))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("model_dir")
    ap.add_argument("articles")
    ap.add_argument("out")
    ap.add_argument("--sentences", type=int, default=8000, help="stop after this many kept sentences")
    ap.add_argument("--min-prob", type=float, default=0.9)
    ap.add_argument("--min-entity-prob", type=float, help="the bar for entity words (default: --min-prob)")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--chunk", type=int, default=16, help="articles per model call")
    a = ap.parse_args()
    min_entity_prob = a.min_prob if a.min_entity_prob is None else a.min_entity_prob
    ner = NerOnnx(a.model_dir, threads=a.threads)
    arts = [json.loads(line) for line in open(a.articles, encoding="utf-8")]
    order = list(range(len(arts)))
    random.Random(SEED).shuffle(order)
    kept = seen = 0
    t0 = time.time()
    with open(a.out, "w", encoding="utf-8") as out:
        for c in range(0, len(order), a.chunk):
            sents = [s for i in order[c:c + a.chunk] for s in sentences(arts[i].get("text", ""))]
            words = [text_words(s) for s in sents]
            sents = [(s, w) for s, w in zip(sents, words) if 5 <= len(w[0]) <= 60]
            wl = word_logits_many(ner.tok, [w[1] for _, w in sents], ner.logits_fn, [ner.pooling],
                                  ner.max_tokens, ner.max_pieces, with_words=ner.chars is not None)
            for (s, (spans, _)), per_head in zip(sents, wl):
                seen += 1
                tags, probs = confident_tags(per_head[0], ner.k)
                if all(t == "O" for t in tags) or not is_confident(tags, probs, a.min_prob, min_entity_prob):
                    continue
                out.write("".join(f"{s[b:e]} {t}\n" for (b, e), t in zip(spans, tags)) + "\n")
                kept += 1
            print(f"{min(c + a.chunk, len(order))} articles, {seen} sentences, kept {kept} "
                  f"({time.time() - t0:.0f} s)", flush=True)
            if kept >= a.sentences:
                break
    print(f"wrote {kept} sentences to {a.out}")


if __name__ == "__main__":
    main()
