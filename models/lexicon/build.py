#!/usr/bin/env python3
"""Build `ar_words.tsv`: the word counts behind the service's proclitic decisions.

For every Arabic word (match key, see `clitics.py`):
  news  how often it occurs in the ANT news corpus (titles and texts), and
  name  how often WikiFANEGold's clitic-segmented text tags it as part of a
        named entity, or 0 when less than 30% of its occurrences are (so
        common words that sometimes start a name, such as `ان`, carry no name
        evidence).
Words seen once in the news and never as a name are left out (they decide
nothing the rules in clitics.py would not decide without them).

    python3 models/lexicon/build.py ../shared/data/ant_articles.jsonl \
        ../shared/data/ner_extra/wikifane_gold/train_segmented.txt models/lexicon/ar_words.tsv
"""
from __future__ import annotations

import argparse
import collections
import json
import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from clitics import match_key  # noqa: E402

ARABIC_WORD = re.compile("[\u0621-\u064A\u0660-\u0669\u0671-\u06D3\u0640\u064B-\u065F\u0670]+")
NAME_SHARE = 0.3


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("ant", type=Path)
    ap.add_argument("wikifane_segmented", type=Path)
    ap.add_argument("out", type=Path)
    a = ap.parse_args()
    news: collections.Counter[str] = collections.Counter()
    with a.ant.open(encoding="utf-8") as f:
        for line in f:
            d = json.loads(line)
            for w in ARABIC_WORD.findall(d.get("title", "") + " " + d.get("text", "")):
                news[match_key(w)] += 1
    named: collections.Counter[str] = collections.Counter()
    seen: collections.Counter[str] = collections.Counter()
    with a.wikifane_segmented.open(encoding="utf-8") as f:
        for line in f:
            parts = line.split()
            if len(parts) != 2:
                continue
            key = match_key(parts[0])
            seen[key] += 1
            if parts[1] != "O":
                named[key] += 1
    name = {w: c for w, c in named.items() if c >= NAME_SHARE * seen[w]}
    words = sorted(w for w in set(news) | set(name) if w and (news[w] >= 2 or name.get(w, 0)))
    with a.out.open("w", encoding="utf-8") as f:
        f.write("# word\tnews\tname  (models/lexicon/build.py; ANT news counts, WikiFANEGold name counts)\n")
        for w in words:
            f.write(f"{w}\t{news[w]}\t{name.get(w, 0)}\n")
    print(f"{len(words)} words -> {a.out}")


if __name__ == "__main__":
    main()
