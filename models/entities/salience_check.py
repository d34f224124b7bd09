#!/usr/bin/env python3
"""How often the entity a headline names is the article's top group.

Reads `khulasa batch` output records (with `groups`) and the input JSONL with
the headlines (`title`). An article counts when at least one of its groups is
named in the title: all of the group name's word keys occur among the title's
word keys (a leading proclitic of a title word set aside as the service does).
Reports the share of those articles whose top group (highest salience) is
named in the title, and the share with one in the top 3.

    khulasa batch -i ant.jsonl -o out.jsonl      # articles with or without "title"
    python3 models/entities/salience_check.py ant_with_titles.jsonl out.jsonl

The README's figures: the ANT articles with text of the summarizer's dev
split (models/summarizer/common.split_order: the first 500 of the indices
shuffled by random.Random(13)), each sent once with its title and once
without.
"""
from __future__ import annotations

import json
import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "lexicon"))
from clitics import decide, load_lexicon, match_key  # noqa: E402

WORD = re.compile(r"\w+")


def keys(text: str, lex) -> set[str]:
    words = [match_key(w) for w in WORD.findall(text)]
    out = set(words)
    for w in words:
        out.add(decide(w, set(words), lex)[1])
    return out


def main() -> None:
    titles = {}
    for line in Path(sys.argv[1]).read_text(encoding="utf-8").splitlines():
        d = json.loads(line)
        titles[str(d["id"])] = d.get("title", "")
    lex = load_lexicon()
    n = top1 = top3 = articles = 0
    for line in Path(sys.argv[2]).read_text(encoding="utf-8").splitlines():
        rec = json.loads(line)
        if "error" in rec:
            continue
        articles += 1
        tk = keys(titles.get(rec["id"], ""), lex)
        named = [all(match_key(w) in tk for w in WORD.findall(g["name"])) for g in rec.get("groups", [])]
        if not any(named):
            continue
        n += 1
        top1 += named[0]
        top3 += any(named[:3])
    print(f"{articles} articles, {n} with a group named in the title: "
          f"top group named in the title {top1}/{n} = {100 * top1 / max(n, 1):.1f}%, "
          f"one in the top 3 {top3}/{n} = {100 * top3 / max(n, 1):.1f}%")


if __name__ == "__main__":
    main()
