"""Entity-level evaluation (exact span + label, micro and per label) on DEV.

  evaluate.py ANERCORP_TRAIN --onnx models/ner-ar [--model-file model.onnx]
  evaluate.py ANERCORP_TRAIN --endpoint 127.0.0.1:50051 [--proto proto/khulasa/v1/summarizer.proto]
  evaluate.py ANERCORP_TRAIN --dev-out dev.txt
  evaluate.py ANERCORP_TRAIN --split docs --onnx DIR   # + seen/unseen entity scores

DEV (--split random, default) = the seeded 10% of ANERcorp train sentences
(see data.split_dev); --split docs = the contiguous last 10% (whole later
documents, data.split_dev_docs), where entities are also scored separately by
whether their normalized surface occurs as a gold entity in that split's TRAIN. Each
sentence's text is its tokens joined by single spaces; gold spans are
code-point offsets into that text (a token's service words: first keeps the
tag, the rest become I-<type>).

Through a server (--endpoint), each entity's start, predicted and gold, is
moved to the start of the whitespace-delimited word that holds it before
spans are compared: the service may leave a leading proclitic (و ف ب ل ك ...)
out of a span, while ANERcorp tags whole tokens.
"""
from __future__ import annotations

import argparse
import collections
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from data import entity_surfaces, gold_entities, read_conll, split, surface  # noqa: E402
from infer import NerOnnx, prf  # noqa: E402

LABS = ("PER", "LOC", "ORG", "MISC")


LABEL_CONVENTIONS = ("anercorp", "newsroom")


def read_labelled(anercorp, labels="anercorp"):
    """ANERcorp's sentences under a label convention: as annotated, or with
    the newsroom ORG supplement (org_supplement.py) applied."""
    sents = read_conll(anercorp)
    if labels == "newsroom":
        import collections

        from org_supplement import relabel
        counts = collections.Counter()
        sents = [relabel(s, counts) for s in sents]
    elif labels != "anercorp":
        raise ValueError(f"unknown label convention {labels!r}; one of {LABEL_CONVENTIONS}")
    return sents


def dev_set(anercorp, split_kind="random", labels="anercorp"):
    _, dev = split(read_labelled(anercorp, labels), split_kind)
    texts, golds = [], []
    for s in dev:
        t, g = gold_entities(s)
        texts.append(t)
        golds.append(set(g))
    return dev, texts, golds


def train_surfaces(anercorp, split_kind="docs", labels="anercorp"):
    train, _ = split(read_labelled(anercorp, labels), split_kind)
    return entity_surfaces(train)


def seen_unseen(seen_surfaces, texts, golds, preds, labels=LABS):
    """Entity scores split by novelty. An entity (gold or predicted) is "unseen"
    when its normalized surface (data.surface) is not among seen_surfaces (the
    gold entity surfaces of TRAIN, any label). A correct prediction has the gold
    span, hence the same surface, so P/R/F1 per part are consistent.
    Returns {"seen": prf, "unseen": prf, "unseen_gold_share": %}."""
    parts = {"seen": ([], []), "unseen": ([], [])}
    n_gold = n_unseen = 0
    for t, g, p in zip(texts, golds, preds):
        for key in parts:
            want = key == "unseen"
            parts[key][0].append({x for x in g if (surface(t, x[1], x[2]) not in seen_surfaces) == want})
            parts[key][1].append({x for x in p if (surface(t, x[1], x[2]) not in seen_surfaces) == want})
        n_gold += len(g)
        n_unseen += len(parts["unseen"][0][-1])
    out = {k: prf(gs, ps, labels) for k, (gs, ps) in parts.items()}
    out["unseen_gold_share"] = round(100 * n_unseen / max(1, n_gold), 2)
    return out


def unseen_misses(seen_surfaces, texts, golds, preds, label="PER"):
    """The unseen gold `label` entities a model did not get exactly, and why:
    "boundary" (a prediction of that label overlaps the gold span), "label"
    (only other labels overlap it) or "missed" (nothing does). Returns
    [(why, text index, gold (label, start, end), overlapping predictions)]
    in text order; the audit behind the README's PER-unseen analysis."""
    out = []
    for n, (t, g, p) in enumerate(zip(texts, golds, preds)):
        for x in sorted(g, key=lambda x: x[1]):
            if x[0] != label or x in p or surface(t, x[1], x[2]) in seen_surfaces:
                continue
            over = sorted((y for y in p if y[1] < x[2] and x[1] < y[2]), key=lambda y: y[1])
            why = "missed" if not over else "boundary" if any(y[0] == label for y in over) else "label"
            out.append((why, n, x, over))
    return out


def summary(res, su=None):
    """One-line figures: per-label F1, micro, unseen F1, PER unseen recall."""
    s = " ".join(f"{k} {res[k]['f1']:.2f}" for k in LABS) + f" micro {res['micro']['f1']:.2f}"
    if su:
        s += (f" | seen {su['seen']['micro']['f1']:.2f} unseen {su['unseen']['micro']['f1']:.2f}"
              f" (R {su['unseen']['micro']['recall']:.2f}) PER-unseen R {su['unseen']['PER']['recall']:.2f}")
    return s


def join_docs(texts, golds, n):
    dt, dg = [], []
    for b in range(0, len(texts), n):
        off, g, parts = 0, set(), []
        for t, gs in zip(texts[b : b + n], golds[b : b + n]):
            g |= {(l, s + off, e + off) for l, s, e in gs}
            parts.append(t)
            off += len(t) + 1
        dt.append(" ".join(parts))
        dg.append(g)
    return dt, dg


def eval_onnx(model_dir, texts, golds, model_file="model.onnx", seen_surfaces=None, batch=1):
    res, _ = eval_onnx_preds(model_dir, texts, golds, model_file, seen_surfaces, batch)
    return res


def eval_onnx_preds(model_dir, texts, golds, model_file="model.onnx", seen_surfaces=None, batch=1):
    """eval_onnx's scores and the predictions they came from (per text, a set
    of (label, start, end))."""
    ner = NerOnnx(model_dir, model_file=model_file, batch=batch)
    t0 = time.time()
    preds = [{(e["label"], e["start"], e["end"]) for e in ents} for ents in ner.predict(texts)]
    res = prf(golds, preds, LABS)
    res["_seconds"] = round(time.time() - t0, 1)
    if seen_surfaces is not None:
        res["_seen_unseen"] = seen_unseen(seen_surfaces, texts, golds, preds)
    return res, preds


def _stubs(proto):
    import importlib
    import tempfile

    from grpc_tools import protoc
    import grpc_tools

    out = tempfile.mkdtemp(prefix="khulasa_pb_")
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(proto))))
    inc = os.path.join(os.path.dirname(grpc_tools.__file__), "_proto")
    rel = os.path.relpath(os.path.abspath(proto), root)
    rc = protoc.main(["protoc", f"-I{root}", f"-I{inc}", f"--python_out={out}", f"--grpc_python_out={out}", rel])
    if rc != 0:
        raise SystemExit(f"protoc failed on {proto}")
    sys.path.insert(0, out)
    mod = rel[:-len(".proto")].replace(os.sep, ".")
    return importlib.import_module(mod + "_pb2"), importlib.import_module(mod + "_pb2_grpc")


def word_starts(text):
    """For each code point of `text`, the start of the whitespace-delimited
    word that holds it (its own index for whitespace)."""
    out, start = [], 0
    for i, c in enumerate(text):
        if c.isspace():
            start = i + 1
            out.append(i)
        else:
            out.append(start)
    return out


def to_word_start(entities, text):
    """Entities (label, start, end) with each start moved to the start of the
    whitespace-delimited word that contains it: a span that leaves out a
    leading proclitic (و ف ب ل ك ...) of its first word counts as the whole
    word, as ANERcorp's gold tokens do."""
    starts = word_starts(text)
    return {(lab, starts[s] if s < len(starts) else s, e) for lab, s, e in entities}


def eval_endpoint(endpoint, texts, golds, proto):
    import grpc

    pb, pbg = _stubs(proto)
    ch = grpc.insecure_channel(endpoint, options=[("grpc.max_receive_message_length", 64 << 20)])
    stub = pbg.SummarizerStub(ch)
    preds = []
    t0 = time.time()
    mismatched = 0
    for i, t in enumerate(texts):
        r = stub.Analyze(pb.AnalyzeRequest(id=str(i), text=t, language="ar", tasks=[pb.TASK_ENTITIES]), timeout=60)
        if r.HasField("error") and r.error.message:
            raise SystemExit(f"sentence {i}: error {r.error.code} {r.error.message}")
        p = set()
        for e in r.entities:
            p.add((e.label, e.start, e.end))
            if t[e.start:e.end] != e.text:
                mismatched += 1
        preds.append(to_word_start(p, t))
    golds = [to_word_start(g, t) for g, t in zip(golds, texts)]
    res = prf(golds, preds, LABS)
    res["_seconds"] = round(time.time() - t0, 1)
    res["_text_mismatches"] = mismatched
    res["_preds"] = preds
    return res


def table(res, title):
    lines = [title, f"{'label':6} {'P':>7} {'R':>7} {'F1':>7} {'gold':>6}"]
    for k in LABS + ("micro",):
        r = res[k]
        lines.append(f"{k:6} {r['precision']:7.2f} {r['recall']:7.2f} {r['f1']:7.2f} {r['support']:6d}")
    su = res.get("_seen_unseen")
    if su:
        lines.append(f"entities unseen in TRAIN: {su['unseen_gold_share']:.1f}% of gold")
        for part in ("seen", "unseen"):
            for k in LABS + ("micro",):
                r = su[part][k]
                lines.append(f"{part[:6]:6} {k:5} {r['precision']:7.2f} {r['recall']:7.2f} {r['f1']:7.2f} "
                             f"{r['support']:6d}")
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("anercorp")
    ap.add_argument("--onnx", help="model directory (config.json, tokenizer.json, model.onnx)")
    ap.add_argument("--model-file", default="model.onnx", help="ONNX file inside/relative to --onnx dir")
    ap.add_argument("--endpoint", help="host:port of a running khulasa-server")
    ap.add_argument("--proto", default=os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                                     "..", "..", "proto", "khulasa", "v1", "summarizer.proto"))
    ap.add_argument("--dev-out", help="write the DEV sentences (text + gold entities) as JSON lines")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--split", choices=("random", "docs"), default="random",
                    help="DEV split: seeded random sentences (default) or the contiguous last 10%% (documents)")
    ap.add_argument("--labels", choices=LABEL_CONVENTIONS, default="anercorp",
                    help="gold labels as annotated, or with the newsroom ORG supplement (org_supplement.py)")
    ap.add_argument("--batch", type=int, default=1, help="windows per ONNX call")
    ap.add_argument("--misses", metavar="LABEL",
                    help="with --split docs: also list the unseen gold LABEL entities the model "
                         "did not get exactly (boundary / label / missed)")
    ap.add_argument("--docs", type=int, default=1,
                    help="join N consecutive DEV sentences (space) into one text, like a short article")
    a = ap.parse_args()
    if a.misses and a.split != "docs":
        ap.error("--misses needs --split docs (unseen = not a gold entity of the docs TRAIN)")
    dev, texts, golds = dev_set(a.anercorp, a.split, a.labels)
    seen = train_surfaces(a.anercorp, a.split, a.labels) if a.split == "docs" else None
    if a.docs > 1:
        texts, golds = join_docs(texts, golds, a.docs)
    if a.dev_out:
        with open(a.dev_out, "w", encoding="utf-8") as f:
            for t, g in zip(texts, golds):
                f.write(json.dumps({"text": t, "entities": [{"label": l, "start": s, "end": e, "text": t[s:e]}
                                                            for l, s, e in sorted(g, key=lambda x: x[1])]},
                                   ensure_ascii=False) + "\n")
        print(f"wrote {len(texts)} dev sentences to {a.dev_out}", file=sys.stderr)
    out = {}
    preds = {}
    if a.onnx:
        out["onnx"], preds["onnx"] = eval_onnx_preds(a.onnx, texts, golds, a.model_file, seen, a.batch)
    if a.endpoint:
        out["endpoint"] = eval_endpoint(a.endpoint, texts, golds, a.proto)
        preds["endpoint"] = out["endpoint"].pop("_preds")
        if seen is not None:
            out["endpoint"]["_seen_unseen"] = seen_unseen(seen, texts, golds, preds["endpoint"])
    if a.json:
        print(json.dumps(out, indent=1))
    else:
        for k, v in out.items():
            print(table(v, f"{k}: {len(texts)} {a.split}-split dev texts ({a.docs} sentence(s) each; "
                           f"{v['_seconds']}s)"))
            print("summary:", summary(v, v.get("_seen_unseen")))
    if a.misses:
        for k, p in preds.items():
            print_misses(k, unseen_misses(seen, texts, golds, p, a.misses), texts)


def print_misses(name, misses, texts):
    counts = collections.Counter(m[0] for m in misses)
    print(f"\n{name}: {len(misses)} unseen gold entities not found exactly: "
          + ", ".join(f"{k} {v}" for k, v in counts.most_common()))
    for why, n, (_, s, e), over in misses:
        t = texts[n]
        got = "; ".join(f"{lab} {t[ps:pe]}" for lab, ps, pe in over) or "-"
        print(f"{why:8} gold {t[s:e]} | predicted {got} | ...{t[max(0, s - 30):e + 30]}...")


if __name__ == "__main__":
    main()
