"""Entity-level evaluation (exact span + label, micro and per label) on DEV.

  evaluate.py ANERCORP_TRAIN --onnx models/ner-ar [--model-file model.onnx]
  evaluate.py ANERCORP_TRAIN --endpoint 127.0.0.1:50051 [--proto proto/khulasa/v1/summarizer.proto]
  evaluate.py ANERCORP_TRAIN --dev-out dev.txt

DEV = the seeded 10% of ANERcorp train sentences (see data.split_dev). Each
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
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from data import gold_entities, read_conll, split_dev  # noqa: E402
from infer import NerOnnx, prf  # noqa: E402

LABS = ("PER", "LOC", "ORG", "MISC")


def dev_set(anercorp):
    _, dev = split_dev(read_conll(anercorp))
    texts, golds = [], []
    for s in dev:
        t, g = gold_entities(s)
        texts.append(t)
        golds.append(set(g))
    return dev, texts, golds


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


def eval_onnx(model_dir, texts, golds, model_file="model.onnx"):
    ner = NerOnnx(model_dir, model_file=model_file)
    t0 = time.time()
    preds = [{(e["label"], e["start"], e["end"]) for e in ents} for ents in ner.predict(texts)]
    res = prf(golds, preds, LABS)
    res["_seconds"] = round(time.time() - t0, 1)
    return res


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
    return res


def table(res, title):
    lines = [title, f"{'label':6} {'P':>7} {'R':>7} {'F1':>7} {'gold':>6}"]
    for k in LABS + ("micro",):
        r = res[k]
        lines.append(f"{k:6} {r['precision']:7.2f} {r['recall']:7.2f} {r['f1']:7.2f} {r['support']:6d}")
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
    ap.add_argument("--docs", type=int, default=1,
                    help="join N consecutive DEV sentences (space) into one text, like a short article")
    a = ap.parse_args()
    dev, texts, golds = dev_set(a.anercorp)
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
    if a.onnx:
        out["onnx"] = eval_onnx(a.onnx, texts, golds, a.model_file)
    if a.endpoint:
        out["endpoint"] = eval_endpoint(a.endpoint, texts, golds, a.proto)
    if a.json:
        print(json.dumps(out, indent=1))
    else:
        for k, v in out.items():
            print(table(v, f"{k}: {len(texts)} dev texts ({a.docs} sentence(s) each; {v['_seconds']}s)"))


if __name__ == "__main__":
    main()
