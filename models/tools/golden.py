#!/usr/bin/env python3
"""Golden outputs for tests/golden.rs, from the Python reference pipelines
and the shipped model files (`make golden` re-runs it after a model changes).

For each article (tests/data/*.txt and tests/data/ant/*.txt) it writes
tests/data/golden/<name>.json with

  * entities: what models/ner/infer.py (NerOnnx, one window per call, as the
    service runs) finds, after `postprocess_entities` (the service's
    post-processing of decoded entities; extend it when the service's changes);
  * sentences: the sentence spans of models/summarizer/segment.py (the Python
    twin of src/text/segment.rs);
  * summary k=1 and k=3: the indices the service should pick and their scores,
    by the summarizer's Python twin: the sentence vectors the server uses by
    default (the NER model's sentence head, NerOnnx.sentence_vectors, when it
    has one; else e5 embeddings of "passage: " + sentence,
    models/summarizer/embed.py), the learned scorer of models/summarizer-ext
    on the manifest's features (common.features), min-max scaled, then MMR
    (evaluate.mmr, lambda 0.7, sentences under 4 words last).

All offsets are code points. The file records each model's sha256, so a stale
fixture names the model it was made from.

    python models/tools/golden.py [--check]   # --check: fail if a fixture would change

`make test` runs --check, and tests/golden.rs checks that the fixtures name the
ner-ar and summarizer-ext files the server loads.
"""
from __future__ import annotations

import argparse
import hashlib
import importlib.util
import json
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "models" / "ner"))
sys.path.insert(0, str(REPO / "models" / "summarizer"))

sys.path.insert(0, str(REPO / "models" / "lexicon"))
from infer import NerOnnx, text_words  # noqa: E402
from clitics import STRIPPED, decide as clitics_decide, load_lexicon, match_key  # noqa: E402
import segment  # noqa: E402
from common import features  # noqa: E402
from embed import Encoder  # noqa: E402

# models/ner and models/summarizer both have an evaluate.py: load the summarizer's by path.
_spec = importlib.util.spec_from_file_location(
    "summarizer_evaluate", REPO / "models" / "summarizer" / "evaluate.py")
_summ_eval = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_summ_eval)
min_max, mmr = _summ_eval.min_max, _summ_eval.mmr

LEXICON = load_lexicon()
DATA = REPO / "tests" / "data"
OUT = DATA / "golden"
KS = (1, 3)
NER_DIR = REPO / "models" / "ner-ar"
SCORER_DIR = REPO / "models" / "summarizer-ext"
E5_DIR = REPO / "models" / "e5-small"


def articles():
    """(name, repo-relative path, text) of every fixture article, in a fixed order."""
    paths = sorted(DATA.glob("*.txt")) + sorted((DATA / "ant").glob("*.txt"))
    out = []
    for p in paths:
        with open(p, encoding="utf-8", newline="") as f:  # offsets count every character
            out.append((p.stem, str(p.relative_to(REPO)), f.read()))
    return out


def postprocess_entities(text: str, entities: list[dict]) -> list[dict]:
    """The service's post-processing of the decoded entities (word ranges
    already mapped to code-point spans of `text`), as src/tasks/entities.rs:
    a leading proclitic of the first word leaves the span when
    models/lexicon/clitics.py (the twin of src/text/arabic.rs) says so, with
    the article's words as evidence."""
    spans, norm = text_words(text)
    article = {match_key(w) for w in norm}
    word_end = dict(spans)
    out = []
    for e in entities:
        start = e["start"]
        word = text[start:word_end[start]]
        letters, _ = clitics_decide(word, article, LEXICON)
        kept = [i for i, c in enumerate(word) if not STRIPPED.match(c)]
        start += kept[letters] if letters else 0
        out.append({"label": e["label"], "start": start, "end": e["end"],
                    "text": text[start:e["end"]], "score": round(e["score"], 4)})
    return out


def comparable(doc: dict) -> dict:
    """A fixture without the e5 hash: models/e5-small is built by `make
    models`, not tracked, so only its outputs (the picks) are compared."""
    doc = json.loads(json.dumps(doc))
    doc["models"].pop("e5-small", None)
    return doc


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def summary_picks(scorer, feat_names, vectors, text):
    """Sentence spans and, per k, the picked indices and their scores;
    `vectors(text, spans, sentences)` gives the sentence vectors."""
    spans = segment.sentences(text)
    sents = [text[a:b] for a, b in spans]
    emb = vectors(text, spans, sents)
    raw = scorer.run(["scores"], {"embeddings": emb[None],
                                  "features": features(sents, emb, feat_names)[None]})[0][0]
    scaled = min_max(raw)
    picks = {}
    for k in KS:
        idx = mmr(scaled, emb, sents, k)
        picks[f"k{k}"] = {"indices": [int(i) for i in idx],
                          "scores": [round(float(scaled[i]), 5) for i in idx]}
    return [list(s) for s in spans], picks


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true",
                    help="write nothing; fail if any fixture differs from what would be written")
    a = ap.parse_args()

    import onnxruntime as ort
    so = ort.SessionOptions()
    so.intra_op_num_threads = 2
    scorer = ort.InferenceSession(str(SCORER_DIR / "model.onnx"), so,
                                  providers=["CPUExecutionProvider"])
    feat_names = json.loads((SCORER_DIR / "manifest.json").read_text())["features"]
    ner = NerOnnx(str(NER_DIR), batch=1)
    if ner.head:  # the server's default (--sentence-vectors auto): one pass, the NER model's head
        def vectors(text, spans, sents):
            return ner.sentence_vectors(text, spans)
    else:
        enc = Encoder()

        def vectors(text, spans, sents):
            return enc.embed(sents)
    models = {"ner-ar": sha256(NER_DIR / "model.onnx"),
              "e5-small": sha256(E5_DIR / "model.onnx"),
              "summarizer-ext": sha256(SCORER_DIR / "model.onnx")}

    OUT.mkdir(parents=True, exist_ok=True)
    stale = []
    for name, rel, text in articles():
        ents = postprocess_entities(text, ner.predict([text])[0])
        spans, picks = summary_picks(scorer, feat_names, vectors, text)
        doc = {"article": rel, "generated_by": "models/tools/golden.py", "models": models,
               "entities": ents, "sentences": spans, "summary": picks}
        body = json.dumps(doc, ensure_ascii=False, indent=1) + "\n"
        path = OUT / f"{name}.json"
        if a.check:
            if not path.exists() or comparable(json.loads(path.read_text(encoding="utf-8"))) \
                    != comparable(json.loads(body)):
                stale.append(path.name)
        else:
            path.write_text(body, encoding="utf-8")
            print(f"{path.relative_to(REPO)}: {len(ents)} entities, {len(spans)} sentences, "
                  f"k1 {picks['k1']['indices']} k3 {picks['k3']['indices']}", file=sys.stderr)
    if stale:
        sys.exit(f"error: golden fixtures out of date (run `make golden`): {', '.join(stale)}")


if __name__ == "__main__":
    main()
