"""ANERcorp reading, the seeded dev split and word-level labelling."""
from __future__ import annotations

import random

from words import normalize_word, split_words

LABELS = ["O", "B-PER", "I-PER", "B-LOC", "I-LOC", "B-ORG", "I-ORG", "B-MISC", "I-MISC"]
LABEL2ID = {l: i for i, l in enumerate(LABELS)}
DEV_SEED = 13
DEV_FRACTION = 0.1
DOC_GAP = 20  # sentences dropped between TRAIN and DEV in split_dev_docs


def read_conll(path: str, label_map: dict[str, str] | None = None) -> list[list[tuple[str, str]]]:
    """CoNLL "token TAG" lines, blank line = sentence break; PERS -> PER.

    label_map maps entity types (after PERS -> PER), e.g. {"MISC": "O"}: B-/I-
    of a type mapped to "O" become O, others are renamed; IOB2 is repaired."""
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
    if label_map:
        sents = [map_labels(s, label_map) for s in sents]
    return sents


def map_labels(sent, label_map):
    out, prev = [], "O"
    for tok, tag in sent:
        if tag != "O":
            typ = label_map.get(tag[2:], tag[2:])
            tag = "O" if typ == "O" else tag[:2] + typ
        if tag.startswith("I-") and prev[2:] != tag[2:]:
            tag = "B-" + tag[2:]
        out.append((tok, tag))
        prev = tag
    return out


def split_dev(sents):
    """Shuffle sentence indices with random.Random(13); the first 10% are DEV."""
    idx = list(range(len(sents)))
    random.Random(DEV_SEED).shuffle(idx)
    n_dev = round(len(sents) * DEV_FRACTION)
    dev = sorted(idx[:n_dev])
    train = sorted(idx[n_dev:])
    return [sents[i] for i in train], [sents[i] for i in dev]


def split_dev_docs(sents, gap=DOC_GAP):
    """Document-level split: ANERcorp train is in document order, so DEV = the
    contiguous last round(0.1*n) sentences (whole later documents, like the
    official test part that follows it) and TRAIN = everything before it except
    the `gap` sentences right before DEV (so a document straddling the cut
    does not put half of itself in TRAIN)."""
    n = len(sents)
    n_dev = round(n * DEV_FRACTION)
    cut = n - n_dev
    return list(sents[: max(0, cut - gap)]), list(sents[cut:])


def split(sents, kind="random"):
    """(TRAIN, DEV) under a split kind: "random", "docs", or "none" (all of
    the sentences are TRAIN: a recipe chosen on the docs split, retrained on
    everything once chosen)."""
    if kind == "random":
        return split_dev(sents)
    if kind == "docs":
        return split_dev_docs(sents)
    if kind == "none":
        return list(sents), []
    raise ValueError(f"unknown split {kind!r}")


def surface(text, start=0, end=None):
    """Normalized surface of a span: service words, normalize_word, joined by a space."""
    seg = text[start:end]
    return " ".join(w for w in (normalize_word(seg[s:e]) for s, e in split_words(seg)) if w)


def entity_surfaces(sents):
    """Normalized surfaces of all gold entities (any label) in sents."""
    out = set()
    for sent in sents:
        text, ents = gold_entities(sent)
        out.update(surface(text, s, e) for _, s, e in ents)
    return out


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
