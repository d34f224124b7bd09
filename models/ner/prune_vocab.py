"""Prune the multilingual-e5-small (XLM-R Unigram) tokenizer to the pieces
Arabic news needs.

Keeps: the special tokens; every piece the full tokenizer uses on the
(normalized) words of ANERcorp and the ANT articles (titles + texts); every
single-character piece (with and without the ▁ prefix) so nothing new becomes
<unk>; and, up to --max-vocab, further pieces made only of Arabic/Latin
letters, digits and punctuation that occur as substrings of the corpus words
(highest Unigram score first). Ids stay contiguous in the original order,
scores are unchanged.

Writes OUT/tokenizer.json and OUT/rows.npy (row of each new id in the
original embedding table) and checks that >= 99% of corpus words get the same
pieces as with the full tokenizer.

usage: prune_vocab.py TOKENIZER_JSON ANERCORP_TRAIN ANT_JSONL OUT_DIR [--max-vocab N]
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
import unicodedata
from collections import Counter

import numpy as np
from tokenizers import Tokenizer

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from data import model_words, read_conll  # noqa: E402
from words import normalize_word, split_words  # noqa: E402


def corpus_words(anercorp: str, ant: str) -> Counter:
    cnt: Counter = Counter()
    for sent in read_conll(anercorp):
        cnt.update(model_words(sent)[0])
    with open(ant, encoding="utf-8") as f:
        for line in f:
            d = json.loads(line)
            for field in ("title", "text"):
                t = d.get(field) or ""
                for s, e in split_words(t):
                    w = normalize_word(t[s:e])
                    if w:
                        cnt[w] += 1
    return cnt


def allowed_piece(p: str) -> bool:
    body = p[1:] if p.startswith("\u2581") else p
    if not body:
        return False
    for ch in body:
        cat = unicodedata.category(ch)
        if cat == "Nd" or cat[0] == "P":
            continue
        if cat[0] == "L":
            name = unicodedata.name(ch, "")
            if name.startswith("ARABIC") or name.startswith("LATIN"):
                continue
        return False
    return True


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("tokenizer")
    ap.add_argument("anercorp")
    ap.add_argument("ant")
    ap.add_argument("out")
    ap.add_argument("--max-vocab", type=int, default=36000)
    a = ap.parse_args()
    t0 = time.time()
    tok = Tokenizer.from_file(a.tokenizer)
    spec = json.load(open(a.tokenizer, encoding="utf-8"))
    vocab = spec["model"]["vocab"]
    cnt = corpus_words(a.anercorp, a.ant)
    types = list(cnt)
    print(f"{len(types)} word types, {sum(cnt.values())} tokens ({time.time()-t0:.0f}s)")

    full_pieces: list[list[str]] = []
    used: set[int] = set()
    B = 2000
    for i in range(0, len(types), B):
        encs = tok.encode_batch([[w] for w in types[i : i + B]], is_pretokenized=True, add_special_tokens=False)
        for e in encs:
            full_pieces.append(e.tokens)
            used.update(e.ids)
    print(f"used pieces: {len(used)} ({time.time()-t0:.0f}s)")

    keep = set(used)
    keep.update(i for i, (p, _) in enumerate(vocab) if p in ("<s>", "<pad>", "</s>", "<unk>", "<mask>"))
    for i, (p, _) in enumerate(vocab):
        body = p[1:] if p.startswith("\u2581") else p
        if len(body) == 1 or p == "\u2581":
            keep.add(i)
    n_base = len(keep)
    # substrings of corpus words (with ▁ for word-initial ones)
    subs: set[str] = set()
    for w in types:
        ww = "\u2581" + w
        L = len(ww)
        for s in range(L):
            for e in range(s + 2, min(L, s + 16) + 1):
                subs.add(ww[s:e])
    extra = [i for i, (p, sc) in enumerate(vocab) if i not in keep and p in subs and allowed_piece(p)]
    extra.sort(key=lambda i: -vocab[i][1])
    room = max(0, a.max_vocab - n_base)
    keep.update(extra[:room])
    print(f"base {n_base}, extra candidates {len(extra)}, kept {min(room, len(extra))}")

    rows = sorted(keep)
    new_id = {old: new for new, old in enumerate(rows)}
    spec["model"]["vocab"] = [vocab[i] for i in rows]
    spec["model"]["unk_id"] = new_id[spec["model"]["unk_id"]]
    for at in spec["added_tokens"]:
        at["id"] = new_id[at["id"]]
    pp = spec.get("post_processor")
    if pp and pp.get("type") == "TemplateProcessing":
        for k, v in pp.get("special_tokens", {}).items():
            v["ids"] = [new_id[i] for i in v["ids"]]
    elif pp and pp.get("type") == "RobertaProcessing":
        pp["sep"][1] = new_id[pp["sep"][1]]
        pp["cls"][1] = new_id[pp["cls"][1]]
    os.makedirs(a.out, exist_ok=True)
    out_tok = os.path.join(a.out, "tokenizer.json")
    with open(out_tok, "w", encoding="utf-8") as f:
        json.dump(spec, f, ensure_ascii=False)
    np.save(os.path.join(a.out, "rows.npy"), np.asarray(rows, dtype=np.int64))
    assert rows[:4] == [0, 1, 2, 3], rows[:4]

    ptok = Tokenizer.from_file(out_tok)
    same_t = same_tok = tot_tok = 0
    for i in range(0, len(types), B):
        encs = ptok.encode_batch([[w] for w in types[i : i + B]], is_pretokenized=True, add_special_tokens=False)
        for j, e in enumerate(encs):
            ok = e.tokens == full_pieces[i + j]
            same_t += ok
            c = cnt[types[i + j]]
            tot_tok += c
            same_tok += c * ok
    rate_types = same_t / len(types)
    rate_tok = same_tok / tot_tok
    print(f"vocab {len(rows)}; same pieces: {100*rate_types:.3f}% of word types, {100*rate_tok:.3f}% of running words")
    json.dump(
        {"vocab": len(rows), "same_pieces_types": rate_types, "same_pieces_running_words": rate_tok,
         "word_types": len(types), "running_words": tot_tok, "used_pieces": len(used)},
        open(os.path.join(a.out, "prune_stats.json"), "w"), indent=1)
    assert rate_tok >= 0.99 and rate_types >= 0.99
    print(f"done in {time.time()-t0:.0f}s")


if __name__ == "__main__":
    main()
