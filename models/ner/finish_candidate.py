"""Score an exported per-row int8 NER model directory on both DEV splits and
write its manifest: dev scores (docs split with seen/unseen entities, random
split for comparison), batch independence (batch 1 vs 8 windows per call),
training runs, file hashes.

    finish_candidate.py MODEL_DIR ANERCORP_TRAIN --runs RUN_DIR[,RUN_DIR...] [--note TEXT]
        [--meta models/ner/ship_meta.json] [--baseline BASELINE_MODEL_DIR]
    finish_candidate.py MODEL_DIR ANERCORP_TRAIN --labels newsroom --runs ... --chosen-by MANIFEST
    finish_candidate.py MODEL_DIR ANERCORP_TRAIN --labels newsroom --rescore KEY

--rescore KEY scores a shipped model again after a change to the decoding
the Python mirror shares with the service (infer.py), and changes nothing
else: the manifest's int8_per_row_docs moves to dev_scores.KEY (unless KEY
is there already: a second rescore keeps the figures from before the first),
and the DEV figures are replaced by the new ones.

The manifest keeps export.py's fields, overrides the top-level ones found in
--meta (name, version, description, source, license, data), and adds
`dev_scores.int8_per_row_docs` (what models/tools/check_ner.py and
check_served.py reproduce), `dev_scores.int8_per_row_docs_texts5` (the DEV
as texts of 5 sentences, the way the service reads articles: check_served.py
reproduces it through the server), `dev_scores.int8_per_row` (the old random split,
for comparison), `batch_independent` and, with --baseline, that model's docs
figures (scored on the same DEV labels) as `dev_scores.baseline_int8_per_row_docs`.

--chosen-by is for the chosen recipe retrained on all of ANERcorp train
(train.py --split none), which issue #11 permits once the recipe is chosen:
such a model has trained on the DEV, so its own DEV figures only check that
the service reproduces it, and the figures that chose it, those of the
docs-split run in MANIFEST, are kept whole as `dev_scores.chosen_recipe`
(its baseline also as `dev_scores.baseline_int8_per_row_docs`) and its
training runs as `training.chosen_recipe_runs`.
"""
from __future__ import annotations

import argparse
import datetime
import hashlib
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from evaluate import (LABEL_CONVENTIONS, LABS, dev_set, eval_onnx, join_docs, seen_unseen, summary,  # noqa: E402
                      train_surfaces)
from infer import batch_independent_predict, prf  # noqa: E402


def sha256(p):
    h = hashlib.sha256()
    with open(p, "rb") as f:
        for b in iter(lambda: f.read(1 << 20), b""):
            h.update(b)
    return h.hexdigest()


TEXT_SENTENCES = 5
TEXTS_NOTE = (f"int8_per_row_docs_texts5: the same DEV joined into texts of {TEXT_SENTENCES} sentences "
              "(evaluate.py --docs 5), as the service reads articles (windows inside each sentence of its "
              "segmenter, and a name tagged in one sentence repeated where it recurs).")


def docs_scores(model_dir, anercorp, labels, sentences_per_text=1):
    """Docs-DEV scores with seen/unseen parts (evaluate.eval_onnx), without
    its timing; the DEV joined into texts of sentences_per_text sentences
    (evaluate.py --docs N) when that is more than 1."""
    _, texts, golds = dev_set(anercorp, "docs", labels)
    if sentences_per_text > 1:
        texts, golds = join_docs(texts, golds, sentences_per_text)
    res = eval_onnx(model_dir, texts, golds, seen_surfaces=train_surfaces(anercorp, "docs", labels))
    res.pop("_seconds")
    return res


def dev_figures(model_dir, anercorp, labels, threads):
    """Every DEV figure of the manifest: dev_scores key -> scores, and
    whether batch 1 and batch 8 agreed to the bit on both splits."""
    out, ok = {}, True
    for split_kind, key in (("docs", "int8_per_row_docs"), ("random", "int8_per_row")):
        _, texts, golds = dev_set(anercorp, split_kind, labels)
        preds, differing = batch_independent_predict(model_dir, texts, threads)
        ok &= differing == 0
        res = prf(golds, preds, LABS)
        res["batch1_vs_batch8_differing_sentences"] = differing
        if split_kind == "docs":
            res["_seen_unseen"] = seen_unseen(train_surfaces(anercorp, "docs", labels), texts, golds, preds)
        out[key] = res
        print(f"{split_kind}: {summary(res, res.get('_seen_unseen'))}; batch 1 vs 8: {differing} sentences differ",
              flush=True)
    out["int8_per_row_docs_texts5"] = docs_scores(model_dir, anercorp, labels, TEXT_SENTENCES)
    print(f"docs as {TEXT_SENTENCES}-sentence texts: "
          f"{summary(out['int8_per_row_docs_texts5'], out['int8_per_row_docs_texts5']['_seen_unseen'])}")
    if labels != "anercorp":
        # The same model against ANERcorp's own labels, for comparison with figures published on them.
        out["int8_per_row_docs_anercorp_labels"] = docs_scores(model_dir, anercorp, "anercorp")
        res = out["int8_per_row_docs_anercorp_labels"]
        print(f"docs, ANERcorp's labels: {summary(res, res['_seen_unseen'])}")
    return out, ok


def rescore(model_dir, anercorp, labels, threads, key):
    mpath = os.path.join(model_dir, "manifest.json")
    m = json.load(open(mpath, encoding="utf-8"))
    if m["dev_scores"].get("labels", "anercorp") != labels:
        sys.exit(f"error: the manifest's DEV labels are {m['dev_scores'].get('labels')!r}, not {labels!r}")
    figures, ok = dev_figures(model_dir, anercorp, labels, threads)
    if key in m["dev_scores"]:
        # Scored again since: the figures from before that change stay as they were.
        print(f"dev_scores.{key} is kept as it is")
    else:
        m["dev_scores"][key] = m["dev_scores"]["int8_per_row_docs"]
        m["dev_scores"]["note"] += (
            f" {key}: int8_per_row_docs as recorded before the decoding shared with the service changed "
            f"(finish_candidate.py --rescore). {TEXTS_NOTE}")
    m["dev_scores"].update(figures)
    m["batch_independent"] = ok
    with open(mpath, "w", encoding="utf-8") as f:
        json.dump(m, f, ensure_ascii=False, indent=1)
    print(f"wrote {mpath}; the figures from before are dev_scores.{key}")
    if not ok:
        sys.exit(1)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model_dir")
    ap.add_argument("anercorp")
    ap.add_argument("--runs", default="", help="training run dirs (history.json), in order")
    ap.add_argument("--note", default="")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--labels", choices=LABEL_CONVENTIONS, default="anercorp",
                    help="the DEV's label convention, the one the model was trained to (evaluate.py --labels)")
    ap.add_argument("--meta", help="JSON of top-level manifest fields describing the recipe")
    ap.add_argument("--baseline", help="the baseline's model dir, scored on the same docs DEV labels")
    ap.add_argument("--chosen-by", metavar="MANIFEST",
                    help="the manifest of the docs-split model that chose this recipe, for a model retrained on "
                         "all of train (--split none): its DEV figures are kept as dev_scores.chosen_recipe")
    ap.add_argument("--rescore", metavar="KEY",
                    help="only score the shipped model again; its int8_per_row_docs moves to dev_scores.KEY")
    a = ap.parse_args()
    if a.rescore:
        return rescore(a.model_dir, a.anercorp, a.labels, a.threads, a.rescore)
    if a.chosen_by and a.baseline:
        ap.error("--chosen-by keeps the chosen run's baseline: no --baseline with it")
    chosen = json.load(open(a.chosen_by, encoding="utf-8")) if a.chosen_by else None
    if chosen and chosen["dev_scores"].get("labels", "anercorp") != a.labels:
        sys.exit(f"error: {a.chosen_by}'s DEV labels are {chosen['dev_scores'].get('labels')!r}, not {a.labels!r}")
    out, ok = dev_figures(a.model_dir, a.anercorp, a.labels, a.threads)
    mpath = os.path.join(a.model_dir, "manifest.json")
    m = json.load(open(mpath, encoding="utf-8"))
    if a.meta:
        m.update(json.load(open(a.meta, encoding="utf-8")))
    # export.py's dev_scores are the random split's, of its intermediate hybrid int8 model: replaced.
    m["dev_scores"] = {}
    if a.baseline:
        # Scored here, on the same DEV labels, rather than copied from its manifest.
        base = docs_scores(a.baseline, a.anercorp, a.labels)
        m["dev_scores"]["baseline_int8_per_row_docs"] = base
        print(f"baseline {a.baseline}: {summary(base, base['_seen_unseen'])}", flush=True)
    m["dev_scores"]["labels"] = a.labels
    m["dev_scores"].update(out)
    m["dev_scores"]["note"] = (
        "int8_per_row_docs: DEV = contiguous last 10% of ANERcorp train (414 sentences, whole later documents), "
        "TRAIN = the sentences before it minus a 20-sentence gap; _seen_unseen splits entities by whether their "
        "normalized surface is a gold entity of that TRAIN. int8_per_row: the old seeded random 10% DEV, whose "
        "sentences are inside the docs split's TRAIN part: for comparison only. baseline_int8_per_row_docs: the "
        "recipe shipped before (ANERcorp only: 3 epochs, then 24 packed steps) retrained on the docs TRAIN and "
        "exported the same way, scored on the same labels. labels: the DEV's label convention (evaluate.py "
        "--labels): anercorp = as annotated; newsroom = with models/ner/org_supplement.py applied, as the model "
        "was trained; int8_per_row_docs_anercorp_labels then gives the docs figures on ANERcorp's own labels. "
        + TEXTS_NOTE)
    if chosen:
        m["dev_scores"]["chosen_recipe"] = {k: v for k, v in chosen["dev_scores"].items() if k != "labels"}
        # The targets are measured against it, so it stays beside the chosen figures.
        m["dev_scores"]["baseline_int8_per_row_docs"] = chosen["dev_scores"]["baseline_int8_per_row_docs"]
        m["dev_scores"]["note"] = (
            "This model is the chosen recipe retrained on all of ANERcorp train, the DEV included "
            "(train.py --split none): its own DEV figures below only check that the service and the Python "
            "mirror reproduce it (models/tools/check_ner.py, check_served.py), they measure nothing. "
            "chosen_recipe: the DEV figures of the docs-split run that chose the recipe, as its manifest "
            "recorded them (its own note inside). " + m["dev_scores"]["note"])
    m["batch_independent"] = ok
    m["quantization"] = {
        "scheme": ("int8 per-row activations (MatMulInteger, uint8 activations with zero point 128 and one scale "
                   "per token, symmetric per-channel int8 weights), from the weight-only int8 model by "
                   "models/tools/rowquant.py --keep /mean/MatMul"),
        "history": ["export.py hybrid int8", "weight-only int8 (models/tools/requant_ner.py --fp32)",
                    "int8 per-row activations (models/tools/rowquant.py)"],
        "word_embeddings": "int8, one scale per row", "classifier": "fp32"}
    runs = []
    for r in filter(None, a.runs.split(",")):
        h = json.load(open(os.path.join(r, "history.json")))
        runs.append({"run": os.path.basename(r.rstrip("/")), "args": {k: v for k, v in h["args"].items()
                                                                      if k not in ("bench",)},
                     "train_seconds": h["train_seconds"], "wall_seconds": h["wall_seconds"],
                     "epochs": [{"epoch": e["epoch"], "train_s": e["train_s"],
                                 "dev_micro_f1": {k: v["micro"]["f1"] for k, v in e["dev"].items()}}
                                for e in h["history"]]})
    # export.py's `training` describes only the last run; the runs list is the whole recipe.
    m["training"] = {"runs": runs, "date": datetime.date.today().isoformat(),
                     "train_seconds_total": round(sum(r["train_seconds"] for r in runs), 1),
                     "dev_split": "docs (data.split_dev_docs); everything chosen on it"}
    if chosen:
        m["training"]["dev_split"] = ("none: all of ANERcorp train, the docs DEV included; the recipe was chosen "
                                      "on the docs split (dev_scores.chosen_recipe, training.chosen_recipe_runs)")
        m["training"]["chosen_recipe_runs"] = chosen["training"]["runs"]
    if a.note:
        m["training"]["note"] = a.note
    m["files"] = {f: sha256(os.path.join(a.model_dir, f)) for f in ("model.onnx", "tokenizer.json", "config.json")}
    m["size_mb"] = round(os.path.getsize(os.path.join(a.model_dir, "model.onnx")) / 1e6, 2)
    with open(mpath, "w", encoding="utf-8") as f:
        json.dump(m, f, ensure_ascii=False, indent=1)
    print(f"wrote {mpath}; model.onnx {m['size_mb']} MB sha256 {m['files']['model.onnx']}; "
          f"batch independent: {ok}")
    if not ok:
        sys.exit(1)


if __name__ == "__main__":
    main()
