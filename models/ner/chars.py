"""Character n-grams of a word, hashed into buckets: the evidence train.py's
`--char-ngrams` (a learned label score per bucket, added to the word's
logits) and `--char-input` (a learned vector per bucket, added to the input
of each of the word's pieces) read, so that a name split into many word
pieces is also seen as one string of letters. Torch-free and deterministic (CRC-32 of the n-gram's UTF-8), so a
service port can compute the same buckets.
"""
from __future__ import annotations

import zlib

BOW, EOW = "\u0002", "\u0003"  # word boundary marks, never in a normalized word

# A word longer than this (code points) is read as its first and last halves,
# as its pieces are: a word's bag, and with it the model's n-gram input, stays
# small however long a "word" a request holds (every training word is shorter,
# so the models read the same bags as they were trained on).
MAX_WORD_CHARS = 24


def capped(word: str) -> str:
    """`word`, or its first and last MAX_WORD_CHARS / 2 code points joined."""
    if len(word) <= MAX_WORD_CHARS:
        return word
    half = MAX_WORD_CHARS // 2
    return word[:half] + word[-half:]


def word_ngrams(word: str, buckets: int, n_min: int = 2, n_max: int = 4) -> list[int]:
    """Distinct bucket ids (sorted) of the n-grams of BOW + capped(word) + EOW,
    for n in [n_min, n_max] code points; [] for an empty word."""
    return _buckets(BOW + capped(word) + EOW, buckets, n_min, n_max) if word else []


def piece_ngrams(piece: str, buckets: int, n_min: int = 2, n_max: int = 4) -> list[int]:
    """word_ngrams of a word piece: its leading `▁` (a word start) becomes BOW;
    a piece does not know where its word ends, so no EOW."""
    return _buckets(BOW + piece[1:] if piece.startswith("▁") else piece, buckets, n_min, n_max)


def _buckets(s: str, buckets: int, n_min: int, n_max: int) -> list[int]:
    """Distinct bucket ids (sorted) of the n-grams of s, n in [n_min, n_max]."""
    return sorted({zlib.crc32(s[i : i + n].encode("utf-8")) % buckets
                   for n in range(n_min, n_max + 1) for i in range(len(s) - n + 1)})
