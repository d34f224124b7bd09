"""Self-check of a deliverable NER model directory (default models/ner-ar).

Checks files, sha256s against manifest.json, size <= 40 MB, config labels and
keys, the window planner on long inputs, and that predicted spans are exact
slices of the input text (also for a long multi-window article).

usage: selfcheck.py [MODEL_DIR] [--dev-jsonl FILE]
"""
import argparse
import hashlib
import json
import os
import random
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from infer import LABELS, NerOnnx, make_windows, owners  # noqa: E402

here = os.path.dirname(os.path.abspath(__file__))
ap = argparse.ArgumentParser()
ap.add_argument("model_dir", nargs="?", default=os.path.join(here, "..", "ner-ar"))
ap.add_argument("--dev-jsonl", help="output of evaluate.py --dev-out, for a long multi-window test")
a = ap.parse_args()
d = a.model_dir
ok = True


def check(cond, msg):
    global ok
    print(("ok   " if cond else "FAIL ") + msg)
    ok &= bool(cond)


man = json.load(open(os.path.join(d, "manifest.json")))
cfg = json.load(open(os.path.join(d, "config.json")))
for f, h in man["files"].items():
    check(hashlib.sha256(open(os.path.join(d, f), "rb").read()).hexdigest() == h, f"sha256 {f}")
size = os.path.getsize(os.path.join(d, "model.onnx"))
check(size <= 40e6, f"model.onnx {size/1e6:.1f} MB <= 40 MB")
check([cfg["id2label"][str(i)] for i in range(9)] == LABELS, "id2label")
check(cfg["khulasa"]["word_pooling"] in ("first", "last", "mean"), f"word_pooling={cfg['khulasa']['word_pooling']}")
check(man["max_tokens"] == cfg["khulasa"]["max_tokens"] == 256, "max_tokens 256")

# window planner properties
rng = random.Random(0)
good = True
for _ in range(2000):
    n = rng.randint(1, 400)
    c = [rng.choice([1, 1, 1, 2, 2, 3, 5, 32]) for _ in range(n)]
    mt = rng.choice([16, 40, 64, 256])
    w = make_windows(c, mt)
    B = mt - 2
    good &= w[0][0] == 0 and w[-1][1] == n
    good &= all(sum(c[s:e]) <= B or e - s == 1 for s, e in w)
    good &= all(w[k + 1][0] > w[k][0] and w[k + 1][0] <= w[k][1] for k in range(len(w) - 1))
    good &= all(o >= 0 for o in owners(w, n))
check(good, "window planner: covers all words, budget, progress")

ner = NerOnnx(d)
texts = [
    "وقال الرئيس الفلسطيني محمود عباس في رام الله إن منظمة التحرير الفلسطينية ستجتمع الأسبوع المقبل .",
    "أعلنت شركة أرامكو السعودية ارتفاع أرباحها 1.8% في 2024/05/01، بحسب وكالة رويترز.",
    "التقى الأمين العامُّ للأمم المتحدة أنطونيو غوتيريش بوزير الخارجيـــة المصري في القاهرة.",
    "",
    "   \u200b ",
]
if a.dev_jsonl:
    dev = [json.loads(l)["text"] for l in open(a.dev_jsonl, encoding="utf-8")]
    texts.append(" ".join(dev[:60]))  # a long article: many windows
res = ner.predict(texts)
for t, ents in zip(texts, res):
    check(all(t[e["start"]:e["end"]] == e["text"] and e["label"] in ("PER", "LOC", "ORG", "MISC")
              and 0 < e["score"] <= 1 for e in ents), f"{len(t)} chars -> {len(ents)} entities, exact spans")
for t, ents in list(zip(texts, res))[:3]:
    print("   ", [(e["label"], e["text"], round(e["score"], 2)) for e in ents])
if a.dev_jsonl:
    # entities of the long text vs. sentence by sentence: report agreement
    per = ner.predict(dev[:60])
    off, single = 0, set()
    for t, ents in zip(dev[:60], per):
        single |= {(e["label"], e["start"] + off, e["end"] + off) for e in ents}
        off += len(t) + 1
    long_ = {(e["label"], e["start"], e["end"]) for e in res[-1]}
    agree = len(single & long_) / max(1, len(single | long_))
    # informational: windows of a long text mix unrelated sentences, so
    # some entities legitimately differ from the sentence-by-sentence run
    print(f"info long text vs per-sentence entity agreement (Jaccard) {agree:.3f}")
print("ALL OK" if ok else "SOME CHECKS FAILED")
sys.exit(0 if ok else 1)
