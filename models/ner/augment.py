"""Training-data augmentation for the NER model (no torch, so `make test`
checks it): mention replacement and proclitics on entity words.

A sentence is a list of (token, IOB2 tag) pairs, as data.read_conll gives.
"""
from __future__ import annotations

import random

from data import chunks

# The one-letter proclitics news text glues onto a name (and, then, with, for,
# like), weighted by hand: و the most common before names.
PROCLITICS = (("و", 0.40), ("ب", 0.25), ("ل", 0.20), ("ف", 0.08), ("ك", 0.07))


def mention_pool(sents):
    """Entity mentions by type: {type: [token tuple, ...]} (duplicates kept, so
    frequent names are drawn more often)."""
    pool = {}
    for sent in sents:
        tags = [t for _, t in sent]
        for typ, i, j in chunks(tags):
            pool.setdefault(typ, []).append(tuple(tok for tok, _ in sent[i:j]))
    return pool


def replace_mentions(sent, pool, rng: random.Random, p_ent=0.5):
    """Mention replacement: each entity is swapped, with probability p_ent, for
    a random mention of the same type from the pool (tags B-/I- of that type)."""
    tags = [t for _, t in sent]
    out, k = [], 0
    for typ, i, j in chunks(tags):
        out.extend(sent[k:i])
        if pool.get(typ) and rng.random() < p_ent:
            toks = rng.choice(pool[typ])
            out.extend((tok, ("B-" if n == 0 else "I-") + typ) for n, tok in enumerate(toks))
        else:
            out.extend(sent[i:j])
        k = j
    out.extend(sent[k:])
    return out


def with_proclitic(word: str, clitic: str) -> str:
    """`clitic` glued onto `word` as Arabic writes it: ل before the article
    drops its alif (ل + الكرملين = للكرملين)."""
    if clitic == "ل" and word.startswith("ال"):
        return "ل" + word[1:]
    return clitic + word


def add_proclitics(sent, rng: random.Random, p_ent=0.3):
    """Proclitic augmentation: the first word of each entity gets, with
    probability p_ent, a proclitic drawn from PROCLITICS (its tag unchanged, as
    ANERcorp tags `ومحمد`). Only Arabic-script words: a clitic never joins a
    Latin name or a number."""
    out = list(sent)
    letters, weights = zip(*PROCLITICS)
    for _, i, _ in chunks([t for _, t in sent]):
        word, tag = sent[i]
        if word and "\u0621" <= word[0] <= "\u064a" and rng.random() < p_ent:
            out[i] = (with_proclitic(word, rng.choices(letters, weights)[0]), tag)
    return out


def mask_entities(pieces, tags, rng: random.Random, p_ent: float, unk_id: int):
    """Mention dropout: each entity's words become one unknown piece each with
    probability p_ent, so the labels must come from the context (pieces: piece
    ids per word; tags: the words' IOB2 tags)."""
    out = list(pieces)
    for _, i, j in chunks(tags):
        if rng.random() < p_ent:
            out[i:j] = [[unk_id]] * (j - i)
    return out
