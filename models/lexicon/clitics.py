"""Python twin of the service's Arabic proclitic rules (src/text/arabic.rs).

An entity mention such as `ودونالد ترامب` or `لروسيا` carries a conjunction or
preposition proclitic (و ف ب ل ك, or و/ف + ب ل ك) that is not part of the
name; `واشنطن`, `وليد` or `لبنان` start with the same letters and are whole.
`decide` splits a word only on evidence, strongest first:

  doc     the remainder occurs as a word of its own in the same article;
  name    the remainder is a name in WikiFANEGold's segmented text
          (>= 3 times, 3x more than the whole word, and at least as common in
          the news as the whole word);
  al      the remainder starts with the article ال and is at least as common
          in the news as the whole word (`بالعراق`, `للأمم` = ل + الأمم);
  hamza   و/ف before a hamza on alef (`وإيران`): transliterations of W do
          not carry a hamza;
  unseen  و before a consonant, neither the word nor any name evidence seen
          anywhere (unknown foreign names after و: `وتنزانيا`).

`لل` + noun is ل + ال with the alef elided: the span cannot lose the ل, but
the name is ال + noun. Keep this file and src/text/arabic.rs in step
(tests/data/proclitics_golden.tsv pins them together).
"""
from __future__ import annotations

import re
from pathlib import Path

LEXICON = Path(__file__).resolve().parent / "ar_words.tsv"
PROCLITICS = ["وب", "ول", "وك", "فب", "فل", "فك", "و", "ف", "ب", "ل", "ك"]
# Removed for matching: the chars the models never see (tatweel, harakat,
# Quranic marks, invisible format chars), as src/text/normalize.rs.
STRIPPED = re.compile("[\u061C\u0640\u064B-\u065F\u0670\u06D6-\u06DC\u06DF-\u06E4\u06E7\u06E8"
                       "\u06EA-\u06ED\u200B-\u200F\u202A-\u202E\u2066-\u2069\uFEFF]")
_FOLD = str.maketrans({"أ": "ا", "إ": "ا", "آ": "ا", "ٱ": "ا", "ى": "ي", "ة": "ه"})


def match_key(word: str) -> str:
    """The form two spellings of one name share: stripped chars removed, alef
    with hamza or madda -> alef, alef maqsura -> yaa, taa marbuta -> haa."""
    return STRIPPED.sub("", word).translate(_FOLD)


def load_lexicon(path: Path = LEXICON) -> dict[str, tuple[int, int]]:
    out = {}
    with path.open(encoding="utf-8") as f:
        for line in f:
            if line.startswith("#"):
                continue
            w, news, name = line.rstrip("\n").split("\t")
            out[w] = (int(news), int(name))
    return out


def _splits(key: str):
    for p in PROCLITICS:
        rest = key[len(p):]
        if key.startswith(p) and len(rest) >= 3:
            if p.endswith("ل") and rest.startswith("ل"):
                yield p, "ا" + rest, len(p) - 1  # ل + ال, alef elided
            else:
                yield p, rest, len(p)


def decide(word: str, doc: set[str], lex: dict[str, tuple[int, int]]) -> tuple[int, str]:
    """(letters to cut from the start of the word's stripped form, match key
    of the name). (0, match_key(word)) keeps the word whole."""
    key = match_key(word)
    news_w, name_w = lex.get(key, (0, 0))
    kept = STRIPPED.sub("", word)
    best = (0, key, 0)
    for p, rest, cut in _splits(key):
        news_r, name_r = lex.get(rest, (0, 0))
        if rest in doc and (len(rest) >= 4 or name_r >= 3):
            strength = 5
        elif name_r >= 3 and name_r >= 3 * (name_w + 1) and news_r >= news_w:
            strength = 4
        elif rest.startswith("ال") and name_w == 0 and news_r >= news_w and (
                news_r >= 1 or (p in ("و", "ف") and len(rest) >= 6)):
            strength = 3
        elif p in ("و", "ف") and kept[1] in "أإآ" and name_w == 0:
            strength = 2
        elif p == "و" and news_w == 0 and name_w == 0 and rest[0] not in "اوي" and len(rest) >= 4:
            strength = 1
        else:
            continue
        if strength > best[2]:
            best = (cut, rest, strength)
    return best[0], best[1]
