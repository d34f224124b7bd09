"""Python port of the Khulasa word splitter and per-word normalization.

Must match the Rust service exactly (steps 1 and 2 of the NER contract):

* separators: Unicode White_Space and the invisible chars below;
* every punctuation/symbol char (general category P* or S*) is a one-char
  word, except `. , ٫ ٬ / : -` sitting between two decimal digits (Nd), which
  stay inside the number (`1.8`, `12,000`, `2024/05/01`);
* combining marks (M*) stay with the previous char (a mark right after a
  separator, or at the start, begins a word of its own);
* normalization per word removes tatweel, Arabic diacritics/Quranic marks and
  the invisible chars; a word that becomes empty is dropped.
"""
from __future__ import annotations

import unicodedata

# Unicode White_Space property (what Rust's char::is_whitespace uses).
WHITE_SPACE = set(
    [chr(c) for c in range(0x09, 0x0E)]
    + ["\u0020", "\u0085", "\u00a0", "\u1680"]
    + [chr(c) for c in range(0x2000, 0x200B)]
    + ["\u2028", "\u2029", "\u202f", "\u205f", "\u3000"]
)
INVISIBLE = set(
    [chr(c) for c in range(0x200B, 0x2010)]
    + [chr(c) for c in range(0x202A, 0x202F)]
    + [chr(c) for c in range(0x2066, 0x206A)]
    + ["\u061c", "\ufeff"]
)
SEPARATORS = WHITE_SPACE | INVISIBLE
DIGIT_JOINERS = set(".,\u066b\u066c/:-")

_STRIP = set(["\u0640"]) | INVISIBLE
_STRIP |= {chr(c) for c in range(0x064B, 0x0660)}
_STRIP |= {"\u0670"}
_STRIP |= {chr(c) for c in range(0x06D6, 0x06DD)}
_STRIP |= {chr(c) for c in range(0x06DF, 0x06E5)}
_STRIP |= {"\u06e7", "\u06e8"}
_STRIP |= {chr(c) for c in range(0x06EA, 0x06EE)}
STRIP_CHARS = frozenset(_STRIP)


def _is_digit(ch: str) -> bool:
    return unicodedata.category(ch) == "Nd"


def split_words(text: str) -> list[tuple[int, int]]:
    """Return the words of `text` as (start, end) code-point offsets."""
    words: list[tuple[int, int]] = []
    cur = -1  # start of the open (non-punctuation) word, -1 if none
    n = len(text)
    for i, ch in enumerate(text):
        if ch in SEPARATORS:
            if cur >= 0:
                words.append((cur, i))
                cur = -1
            continue
        cat = unicodedata.category(ch)
        if cat[0] == "M":
            if cur >= 0:
                continue
            if words and words[-1][1] == i:
                words[-1] = (words[-1][0], i + 1)
                continue
            cur = i
            continue
        if cat[0] in "PS":
            if (
                ch in DIGIT_JOINERS
                and cur >= 0
                and 0 < i < n - 1
                and _is_digit(text[i - 1])
                and _is_digit(text[i + 1])
            ):
                continue
            if cur >= 0:
                words.append((cur, i))
                cur = -1
            words.append((i, i + 1))
            continue
        if cur < 0:
            cur = i
    if cur >= 0:
        words.append((cur, n))
    return words


def normalize_word(w: str) -> str:
    return "".join(ch for ch in w if ch not in STRIP_CHARS)


if __name__ == "__main__":
    tests = [
        "ارتفع 1.8% في 2024/05/01 و12,000 دولار",
        "قال: «مرحباً» - (الرئيس)",
        "a\u200bb c\u064e\u064e. 3.",
        "\u064ex ,\u064e y",
    ]
    for t in tests:
        print([t[s:e] for s, e in split_words(t)], [normalize_word(t[s:e]) for s, e in split_words(t)])
