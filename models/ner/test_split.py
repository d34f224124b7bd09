"""Unit checks for the document-level DEV split, label maps, the seen/unseen
entity scores and misses, the ORG supplement and silver labelling (plain asserts, no
pytest; `make test` runs it):

    python models/ner/test_split.py [ANERCORP_TRAIN]
"""
from __future__ import annotations

import os
import random
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from data import (DOC_GAP, entity_surfaces, gold_entities, map_labels, read_conll, split, split_dev,  # noqa: E402
                  split_dev_docs, surface)
from evaluate import seen_unseen, unseen_misses  # noqa: E402


def sent(*pairs):
    return [tuple(p.split("/")) for p in pairs]


def test_split_docs():
    sents = [sent(f"w{i}/O") for i in range(100)]
    train, dev = split_dev_docs(sents)
    assert [s[0][0] for s in dev] == [f"w{i}" for i in range(90, 100)]
    assert [s[0][0] for s in train] == [f"w{i}" for i in range(0, 90 - DOC_GAP)]
    train0, dev0 = split_dev_docs(sents, gap=0)
    assert len(train0) == 90 and len(dev0) == 10
    # n=4139 as in ANERcorp train: 414 dev, 3705 train (20 dropped)
    sents = [sent(f"w{i}/O") for i in range(4139)]
    train, dev = split_dev_docs(sents)
    assert len(dev) == 414 and len(train) == 3705
    assert split(sents, "docs") == (train, dev)
    assert split(sents, "random") == split_dev(sents)
    assert split(sents, "none") == (list(sents), [])  # all of it trains: a chosen recipe retrained


def test_map_labels():
    s = sent("a/B-MISC", "b/I-MISC", "c/B-PER", "d/I-PER", "e/I-ORG")
    assert map_labels(s, {"MISC": "O"}) == sent("a/O", "b/O", "c/B-PER", "d/I-PER", "e/B-ORG")
    assert map_labels(s, {"PER": "ORG"}) == sent("a/B-MISC", "b/I-MISC", "c/B-ORG", "d/I-ORG", "e/I-ORG")


def test_surface():
    # diacritics/tatweel stripped, words joined by one space
    assert surface("بَـشّار  الأسد") == "بشار الأسد"
    text = "قال جورج بوش اليوم"
    assert surface(text, 4, 12) == "جورج بوش"


def test_seen_unseen():
    train = [sent("جورج/B-PER", "بوش/I-PER", "في/O", "بغداد/B-LOC")]
    seen = entity_surfaces(train)
    assert seen == {"جورج بوش", "بغداد"}
    dev = [sent("زار/O", "جورج/B-PER", "بوش/I-PER", "كابول/B-LOC", "مع/O", "فلاديمير/B-PER", "بوتين/I-PER")]
    text, g = gold_entities(dev[0])
    gold = [set(g)]
    # predicted: Bush correct (seen), Kabul as ORG (unseen, wrong label), Putin cut short (unseen, wrong span)
    pred = [{("PER", 4, 12), ("ORG", 13, 18), ("PER", 22, 30)}]
    assert text[4:12] == "جورج بوش" and text[13:18] == "كابول" and text[22:30] == "فلاديمير"
    r = seen_unseen(seen, [text], gold, pred)
    assert r["seen"]["micro"]["support"] == 1 and r["seen"]["micro"]["f1"] == 100.0
    assert r["unseen"]["micro"]["support"] == 2 and r["unseen"]["micro"]["recall"] == 0.0
    assert r["unseen"]["micro"]["precision"] == 0.0
    assert r["unseen"]["PER"]["support"] == 1 and r["unseen"]["PER"]["recall"] == 0.0
    assert abs(r["unseen_gold_share"] - 66.67) < 0.01
    pred = [{("PER", 4, 12), ("LOC", 13, 18), ("PER", 22, 36)}]
    r = seen_unseen(seen, [text], gold, pred)
    assert r["unseen"]["micro"]["f1"] == 100.0 and r["unseen"]["PER"]["recall"] == 100.0
    # "seen" is label-blind: a seen surface under another label still counts as seen
    r = seen_unseen({"كابول"}, [text], gold, pred)
    assert r["seen"]["LOC"]["support"] == 1 and r["unseen"]["PER"]["support"] == 2


def test_unseen_misses():
    train = [sent("جورج/B-PER", "بوش/I-PER")]
    seen = entity_surfaces(train)
    dev = [sent("زار/O", "جورج/B-PER", "بوش/I-PER", "و/O", "بان/B-PER", "كي/I-PER", "مون/I-PER",
                "و/O", "ساها/B-PER", "و/O", "فينغر/B-PER", "و/O", "لويس/B-PER")]
    text, g = gold_entities(dev[0])
    span = {text[s:e]: (lab, s, e) for lab, s, e in g}
    ban, saha, wenger, louis = span["بان كي مون"], span["ساها"], span["فينغر"], span["لويس"]
    # Bush missed but seen (not listed); Ban Ki-moon split in two; Saha found;
    # Wenger as LOC; Louis not found at all
    pred = [{("PER", ban[1], ban[1] + 3), ("PER", ban[1] + 4, ban[2]), saha, ("LOC",) + wenger[1:]}]
    got = unseen_misses(seen, [text], [set(g)], pred)
    assert [(why, x) for why, _, x, _ in got] == [("boundary", ban), ("label", wenger), ("missed", louis)], got
    assert got[0][3] == [("PER", ban[1], ban[1] + 3), ("PER", ban[1] + 4, ban[2])]
    assert unseen_misses(seen, [text], [set(g)], pred, label="LOC") == []


def test_parse_extra():
    try:
        from train import parse_extra
    except ImportError:  # no torch here
        return
    assert parse_extra("/d/aqmar/train.txt:MISC=O") == ("/d/aqmar/train.txt", {"MISC": "O"})
    assert parse_extra("/d/w/train.txt") == ("/d/w/train.txt", {})
    assert parse_extra("x.txt:MISC=O,PER=ORG") == ("x.txt", {"MISC": "O", "PER": "ORG"})


def test_replace_mentions():
    from augment import mention_pool, replace_mentions
    pool = mention_pool([sent("جون/B-PER", "كيري/I-PER", "في/O", "باريس/B-LOC")])
    assert pool == {"PER": [("جون", "كيري")], "LOC": [("باريس",)]}
    s = sent("قال/O", "بوش/B-PER", "في/O", "بغداد/B-LOC", "و/O", "الأمم/B-ORG", "المتحدة/I-ORG")
    out = replace_mentions(s, pool, random.Random(0), p_ent=1.0)
    assert out == sent("قال/O", "جون/B-PER", "كيري/I-PER", "في/O", "باريس/B-LOC", "و/O", "الأمم/B-ORG",
                       "المتحدة/I-ORG")
    assert replace_mentions(s, pool, random.Random(0), p_ent=0.0) == s


def test_add_proclitics():
    from augment import add_proclitics, with_proclitic
    assert with_proclitic("الكرملين", "ل") == "للكرملين"
    assert with_proclitic("الكرملين", "ب") == "بالكرملين"
    assert with_proclitic("بوش", "و") == "وبوش"
    s = sent("قال/O", "بوش/B-PER", "في/O", "الكرملين/B-ORG", "و/O", "Obama/B-PER", "2003/B-MISC")
    out = add_proclitics(s, random.Random(0), p_ent=1.0)
    assert [t for _, t in out] == [t for _, t in s]            # tags never change
    assert out[0] == s[0] and out[2] == s[2] and out[4] == s[4]  # only entities' first words
    assert out[1][0][1:] == "بوش" and out[1][0][0] in "وبلفك"
    assert out[3][0].endswith("كرملين") and out[3][0] != "الكرملين"
    assert out[5:] == s[5:]                                     # no clitic on Latin names or numbers
    assert add_proclitics(s, random.Random(0), p_ent=0.0) == s
    s2 = sent("جون/B-PER", "كيري/I-PER")
    assert add_proclitics(s2, random.Random(1), p_ent=1.0)[1] == ("كيري", "I-PER")


def test_mask_entities():
    from augment import mask_entities
    pieces = [[10], [11, 12], [13], [14, 15, 16], [17]]
    tags = ["O", "B-PER", "I-PER", "O", "B-LOC"]
    assert mask_entities(pieces, tags, random.Random(0), 1.0, 3) == [[10], [3], [3], [14, 15, 16], [3]]
    assert mask_entities(pieces, tags, random.Random(0), 0.0, 3) == pieces


def test_org_supplement():
    import collections

    from org_supplement import relabel
    counts = collections.Counter()
    tags = lambda *p: [g for _, g in relabel(sent(*p), counts)]  # noqa: E731
    # a ministry with a coordinated noun and a nationality adjective; the relative pronoun stays out
    assert tags("أعلنت/O", "لوزارة/O", "الطاقة/O", "والمعادن/O", "المغربية/O", "والتي/O") == \
        ["O", "B-ORG", "I-ORG", "I-ORG", "I-ORG", "O"]
    # the minister's title is not the ministry
    assert tags("وزير/O", "الخارجية/O", "الأميركية/O", "كوندوليزا/B-PER", "رايس/I-PER") == \
        ["O", "O", "O", "B-PER", "I-PER"]
    assert tags("باسم/O", "الخارجية/O", "الروسية/O") == ["O", "B-ORG", "I-ORG"]
    # البيت الأبيض: from MISC, but never by cutting a longer annotated span
    assert tags("البيت/B-MISC", "الأبيض/I-MISC", "قال/O") == ["B-ORG", "I-ORG", "O"]
    assert tags("البيت/B-MISC", "الأبيض/I-MISC", "الجديد/I-MISC") == ["B-MISC", "I-MISC", "I-MISC"]
    assert tags("والكرملين/B-LOC") == ["B-ORG"]
    assert tags("وكالة/O", "الأنباء/O", "القطرية/O", "قنا/B-ORG") == ["B-ORG", "I-ORG", "I-ORG", "B-ORG"]
    # an annotated entity inside the pattern is left alone
    assert tags("وزارة/O", "الدفاع/O", "الأمريكية/O", "البنتاغون/B-ORG") == ["B-ORG", "I-ORG", "I-ORG", "B-ORG"]
    assert tags("وزارة/O", "خارجية/O", "روسيا/B-LOC") == ["O", "O", "B-LOC"]
    assert counts == {"ministry": 2, "foreign": 1, "white": 1, "kremlin": 1, "agency": 1}


def test_silver_confident_tags():
    import numpy as np

    from silver import confident_tags, is_confident
    logits = np.full((3, 9), -5.0)
    logits[0, 1] = logits[1, 2] = logits[2, 0] = 5.0  # B-PER I-PER O, all sure
    tags, probs = confident_tags(logits, {})
    assert tags == ["B-PER", "I-PER", "O"] and probs.min() > 0.99
    assert is_confident(tags, probs, 0.9, 0.9)
    logits[1, 0] = 4.9  # word 2 torn between I-PER and O (I-PER a little ahead)
    tags, probs = confident_tags(logits, {})
    assert tags[1] != "O" and probs[1] < 0.6
    assert not is_confident(tags, probs, 0.9, 0.9)
    assert is_confident(tags, probs, 0.9, 0.4)  # a lower bar for entity words only
    logits[1, 0], logits[2, 1] = -5.0, 4.0  # now the O word is the unsure one
    tags, probs = confident_tags(logits, {})
    assert tags[2] == "O" and not is_confident(tags, probs, 0.9, 0.4)


def test_word_ngrams():
    from chars import word_ngrams
    ids = word_ngrams("مون", 1 << 20)
    # BOW+3 letters+EOW: 4 bigrams, 3 trigrams, 2 four-grams, all distinct here
    assert len(ids) == 9 and ids == sorted(ids) and all(0 <= i < 1 << 20 for i in ids)
    assert word_ngrams("مون", 1 << 20) == ids  # deterministic (CRC-32, not Python's hash)
    assert word_ngrams("", 64) == []
    assert all(0 <= i < 64 for i in word_ngrams("كوناري", 64))
    # repeated n-grams count once: ^a aa a$ / ^aa aaa aa$ / ^aaa aaaa aaa$ (aa thrice, aaa twice)
    assert len(word_ngrams("aaaaa", 1 << 20)) == 9
    from chars import piece_ngrams
    # a word-initial piece is the word's n-grams without those that reach its end
    assert set(piece_ngrams("\u2581مون", 1 << 20)) < set(ids) and len(piece_ngrams("\u2581مون", 1 << 20)) == 6
    assert len(piece_ngrams("ون", 1 << 20)) == 1  # a word-inner piece: no boundary marks
    # a word past MAX_WORD_CHARS is read as its first and last halves: its bag stays small
    from chars import MAX_WORD_CHARS, capped
    long = "ب" * 5000 + "".join(chr(0x0627 + i % 26) for i in range(5000))
    assert capped(long) == long[:MAX_WORD_CHARS // 2] + long[-(MAX_WORD_CHARS // 2):]
    assert word_ngrams(long, 1 << 30) == word_ngrams(capped(long), 1 << 30)
    assert len(word_ngrams(long, 1 << 30)) <= 3 * (MAX_WORD_CHARS + 2) - 6
    w = "ا" * MAX_WORD_CHARS
    assert capped(w) == w  # at the cap, unchanged


def test_with_repeats():
    """infer.with_repeats, on the cases of its Rust twin's tests
    (src/tasks/entities.rs)."""
    from infer import with_repeats
    words = ["قال", "بركات", "إن", "بركات", "و", "بركات", "علي", "بركات"]
    got = with_repeats([("PER", 5, 7, 0.9), ("PER", 1, 2, 0.8)], words)
    assert got == [("PER", 1, 2, 0.8), ("PER", 3, 4, 0.8), ("PER", 5, 7, 0.9), ("PER", 7, 8, 0.8)], got
    words = ["البيت", "الأبيض", "و", "البيت", "الأبيض", "ثم", "البيت", "الأبيض", "و", "البيت", "الأبيض"]
    found = [("ORG", 0, 2, 0.6), ("ORG", 3, 5, 0.5), ("LOC", 6, 8, 0.9)]
    assert with_repeats(found, words) == found + [("ORG", 9, 11, 0.6)]
    # equal sums: the type listed first in the labels (LOC before ORG)
    assert with_repeats([("ORG", 0, 2, 0.5), ("LOC", 3, 5, 0.5)], words)[2][0] == "LOC"
    assert with_repeats([("LOC", 1, 2, 0.9)], ["في", "تونس", "اليوم"]) == [("LOC", 1, 2, 0.9)]
    assert with_repeats([], ["في"]) == []
    # "X X" at 0..2 recurs at 2..4 and, overlapping it, at 3..5; a name over MAX_REPEATED_WORDS stays put
    assert with_repeats([("PER", 0, 2, 0.5)], ["X"] * 5) == [("PER", 0, 2, 0.5), ("PER", 2, 4, 0.5)]
    from infer import MAX_REPEATED_WORDS
    n = MAX_REPEATED_WORDS + 1
    words = [f"w{i % n}" for i in range(2 * n)]
    assert with_repeats([("MISC", 0, n, 0.9)], words) == [("MISC", 0, n, 0.9)]
    assert len(with_repeats([("MISC", 0, n - 1, 0.9)], words)) == 2


def test_char_ngram_input():
    """infer.CharNgramInput's feed: each piece of a word carries the word's
    buckets + 1, padded with 0 to the call's largest bag; special tokens and
    padding get none (the service's src/models/row.rs pads the same way)."""
    from chars import word_ngrams
    from infer import CharNgramInput

    chars = CharNgramInput.of({"char_ngrams": {"input": "char_ngrams", "buckets": 8192}})
    assert CharNgramInput.of({}) is None
    # window 1: <s> w0 w1 w1 </s>; window 2: <s> w2 </s>, padded to 5 tokens
    rows = [[([1], "بان"), ([2, 3], "كيمون")], [([1], "و")]]
    x = chars.feed(rows, 5)["char_ngrams"]
    bags = [word_ngrams(w, 8192) for w in ("بان", "كيمون", "و")]
    assert x.shape == (2, 5, max(map(len, bags)))
    for r, p, b in [(0, 1, bags[0]), (0, 2, bags[1]), (0, 3, bags[1]), (1, 1, bags[2])]:
        assert list(x[r, p, : len(b)]) == [i + 1 for i in b] and not x[r, p, len(b):].any()
    for r, p in [(0, 0), (0, 4), (1, 0), (1, 2), (1, 3), (1, 4)]:
        assert not x[r, p].any()


def test_anercorp(path):
    sents = read_conll(path)
    train, dev = split_dev_docs(sents)
    assert len(dev) == round(0.1 * len(sents)) and dev[-1] == sents[-1]
    assert len(train) == len(sents) - len(dev) - DOC_GAP and train[-1] == sents[len(train) - 1]
    seen = entity_surfaces(train)
    golds, texts = [], []
    for s in dev:
        t, g = gold_entities(s)
        texts.append(t)
        golds.append(set(g))
    r = seen_unseen(seen, texts, golds, golds)  # perfect predictions
    assert r["seen"]["micro"]["f1"] == 100.0 and r["unseen"]["micro"]["f1"] == 100.0
    n = r["seen"]["micro"]["support"] + r["unseen"]["micro"]["support"]
    print(f"ANERcorp: {len(sents)} sents, docs split train {len(train)} dev {len(dev)}; "
          f"dev entities {n}, unseen {r['unseen']['micro']['support']} ({r['unseen_gold_share']}%), "
          + ", ".join(f"{k} {r['unseen'][k]['support']}/{r['unseen'][k]['support'] + r['seen'][k]['support']}"
                      for k in ("PER", "LOC", "ORG", "MISC")) + " unseen")


if __name__ == "__main__":
    test_split_docs()
    test_map_labels()
    test_surface()
    test_seen_unseen()
    test_unseen_misses()
    test_parse_extra()
    test_replace_mentions()
    test_add_proclitics()
    test_mask_entities()
    test_org_supplement()
    test_silver_confident_tags()
    test_word_ngrams()
    test_with_repeats()
    test_char_ngram_input()
    path = sys.argv[1] if len(sys.argv) > 1 else "/work/shared/data/anercorp/train.txt"
    if os.path.exists(path):
        test_anercorp(path)
    print("ok")
