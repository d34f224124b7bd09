#!/usr/bin/env python3
"""Write tests/data/char_ngrams_golden.tsv: chars.word_ngrams' buckets
(8,192 buckets, 2-4-grams, as the model reads them) for a fixed set of
normalized words, which the Rust unit test in src/text/char_ngrams.rs must
reproduce exactly (the service and the model see the same n-grams).

Words: an even sample of the distinct normalized words of ANERcorp train
(first column, in order of first appearance), then edge cases: Latin,
digits, one letter, words of 24 and 25 letters (either side of
chars.MAX_WORD_CHARS), a 40-letter and a 1,000-letter word (read as their
halves), a word whose diacritics normalization removes, emoji.

    python3 models/ner/chars_golden.py ../shared/data/anercorp/train.txt tests/data/char_ngrams_golden.tsv
"""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from chars import word_ngrams  # noqa: E402
from words import normalize_word  # noqa: E402

BUCKETS = 8192
SAMPLE = 280

LONG = "فيرناندوألونسودياسغونزاليسرودريغيزمارتينيزلوبيز"[:40]
EXTRA = [
    "Obama", "UNESCO", "al-Qaeda", "Müller", "2024", "12,000", "1.8", "٢٠٢٤",
    "و", "a", "%", LONG[:24], LONG[:25], LONG, LONG * 25,
    "مُحَمَّد", "الرئيـــس", "كِتَابٌ",  # diacritics and tatweel, removed
    "😀", "👍🏽", "👨\u200d👩\u200d👧",  # the ZWJs are removed too
]


def sample_words(path: Path) -> list[str]:
    seen: dict[str, None] = {}
    with path.open(encoding="utf-8") as f:
        for line in f:
            cols = line.split()
            if not cols:
                continue
            w = normalize_word(cols[0])
            if w and not w.startswith("#"):
                seen.setdefault(w, None)
    distinct = list(seen)
    step = max(1, len(distinct) // SAMPLE)
    return distinct[::step][:SAMPLE]


def main() -> None:
    train, out = Path(sys.argv[1]), Path(sys.argv[2])
    assert len(LONG) == 40
    words = sample_words(train) + [normalize_word(w) for w in EXTRA]
    with out.open("w", encoding="utf-8") as f:
        f.write(f"# word\tbuckets of its 2-4-grams, {BUCKETS} buckets  (models/ner/chars_golden.py)\n")
        for w in words:
            f.write(f"{w}\t{' '.join(map(str, word_ngrams(w, BUCKETS)))}\n")
    print(f"{len(words)} words -> {out}")


if __name__ == "__main__":
    main()
