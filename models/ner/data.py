"""ANERcorp reading, the seeded dev split and word-level labelling."""
from __future__ import annotations

import random

from words import normalize_word, split_words

LABELS = ["O", "B-PER", "I-PER", "B-LOC", "I-LOC", "B-ORG", "I-ORG", "B-MISC", "I-MISC"]
LABEL2ID = {l: i for i, l in enumerate(LABELS)}
DEV_SEED = 13
DEV_FRACTION = 0.1


def read_conll(path: str) -> list[list[tuple[str, str]]]:
    sents, cur = [], []
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.rstrip("\n")
            if not line.strip():
                if cur:
                    sents.append(cur)
                    cur = []
                continue
            tok, tag = line.rsplit(None, 1) if " " in line or "\t" in line else (line, "O")
            tag = tag.replace("PERS", "PER")
            cur.append((tok.strip(), tag))
    if cur:
        sents.append(cur)
    return sents


def split_dev(sents):
    """Shuffle sentence indices with random.Random(13); the first 10% are DEV."""
    idx = list(range(len(sents)))
    random.Random(DEV_SEED).shuffle(idx)
    n_dev = round(len(sents) * DEV_FRACTION)
    dev = sorted(idx[:n_dev])
    train = sorted(idx[n_dev:])
    return [sents[i] for i in train], [sents[i] for i in dev]


def sentence_text(sent):
    """Text = tokens joined by single spaces; returns (text, token char spans)."""
    spans, pos, parts = [], 0, []
    for tok, _ in sent:
        spans.append((pos, pos + len(tok)))
        parts.append(tok)
        pos += len(tok) + 1
    return " ".join(parts), spans


def sentence_words(sent):
    """Split each token with the service splitter.

    Returns text, words [(start,end)] and word tags: the first word of a token
    keeps its tag, the rest get I-<type> (or O)."""
    text, tspans = sentence_text(sent)
    words, tags = [], []
    for (tok, tag), (ts, _) in zip(sent, tspans):
        for k, (s, e) in enumerate(split_words(tok)):
            words.append((ts + s, ts + e))
            if k == 0 or tag == "O":
                tags.append(tag)
            else:
                tags.append("I-" + tag[2:])
    return text, words, tags


def chunks(tags):
    """conlleval-style chunks of an IOB2 tag list: [(type, i, j)] word ranges."""
    out, start, typ = [], None, None
    for i, t in enumerate(list(tags) + ["O"]):
        if t == "O" or t.startswith("B-") or (t.startswith("I-") and t[2:] != typ):
            if typ is not None:
                out.append((typ, start, i))
            typ, start = (t[2:], i) if t != "O" else (None, None)
    return out


def gold_entities(sent):
    """Gold entities as (label, char_start, char_end) over the joined text."""
    text, words, tags = sentence_words(sent)
    return text, [(typ, words[i][0], words[j - 1][1]) for typ, i, j in chunks(tags)]


def model_words(sent):
    """Normalized words the model sees (empty ones dropped) with repaired IOB2 tags."""
    text, words, tags = sentence_words(sent)
    norm, out_tags, kept = [], [], []
    for (s, e), t in zip(words, tags):
        w = normalize_word(text[s:e])
        if not w:
            continue
        norm.append(w)
        out_tags.append(t)
        kept.append((s, e))
    prev = "O"
    for i, t in enumerate(out_tags):
        if t.startswith("I-") and prev[2:] != t[2:]:
            out_tags[i] = "B-" + t[2:]
        prev = out_tags[i]
    return norm, out_tags, kept
