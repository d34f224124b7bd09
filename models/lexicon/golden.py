#!/usr/bin/env python3
"""Write tests/data/proclitics_golden.tsv: the Python rules' decisions on a
fixed set of words, which the Rust unit test in src/text/arabic.rs must
reproduce exactly (the two implementations stay in step).

Words: the 600 most frequent ANT words that start with a proclitic letter,
then names from the issue and tests, some with an article to give evidence.

    python3 models/lexicon/golden.py ../shared/data/ant_articles.jsonl tests/data/proclitics_golden.tsv
"""
from __future__ import annotations

import collections
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from build import ARABIC_WORD  # noqa: E402
from clitics import decide, load_lexicon, match_key  # noqa: E402

EXTRA = [
    ("ودونالد", ""), ("لروسيا", ""), ("وموسكو", ""), ("لأوكرانيا", ""), ("واشنطن", ""),
    ("وليد", ""), ("وائل", ""), ("بغداد", ""), ("لبنان", ""), ("كندا", ""), ("فلسطين", ""),
    ("للأمم", ""), ("وللأمم", ""), ("فللولايات", ""), ("بالعراق", ""), ("وإيران", ""),
    ("ودارتشييف", "قال دارتشييف"), ("ودارتشييف", "قال"), ("لبايدن", "جو بايدن"),
    ("وتنزانيا", ""), ("كمال", ""), ("باسم", ""), ("فان", ""), ("وَموسكو", ""),
]


def main() -> None:
    ant, out = Path(sys.argv[1]), Path(sys.argv[2])
    counts: collections.Counter[str] = collections.Counter()
    with ant.open(encoding="utf-8") as f:
        for line in f:
            d = json.loads(line)
            for w in ARABIC_WORD.findall(d.get("text", "")):
                if w[0] in "وفبلك":
                    counts[w] += 1
    rows = [(w, "") for w, _ in counts.most_common(600)] + EXTRA
    lex = load_lexicon()
    with out.open("w", encoding="utf-8") as f:
        f.write("# word\tarticle words\tletters cut\tname key  (models/lexicon/golden.py)\n")
        for word, article in rows:
            cut, key = decide(word, {match_key(w) for w in article.split()}, lex)
            f.write(f"{word}\t{article}\t{cut}\t{key}\n")
    print(f"{len(rows)} rows -> {out}")


if __name__ == "__main__":
    main()
