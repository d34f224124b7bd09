"""Fits the NER model's sentence-vector head and writes it into the model
(issue #14, "one encoder pass per article").

The head is one linear map on the hidden states of encoder layer LAYER, added
to model.onnx as a second output, `sentence_vectors` ([batch, tokens, 384]).
The service (src/models/token_classifier.rs) sums it over the pieces of each
sentence's words and L2-normalizes: since the map is linear, that is the map
of the sentence's mean hidden state. It is fitted by ridge regression so that
this vector reproduces e5-small's `passage:` embedding of the sentence alone,
the vector the summary scorer was trained on. The NER output is untouched.

Fit sentences: ANT training articles (not the summarizer's 500 dev articles)
and, for other registers, pseudo-articles of six consecutive sentences from
AQMAR and WikiFANEGold (Arabic Wikipedia) and ANERcorp (news). Reported: the
mean cosine to e5 on the ANT dev articles' sentences, written to the manifest.

    .venv/bin/python models/ner/sentence_head.py [--model-dir models/ner-ar]
"""
from __future__ import annotations

import argparse
import hashlib
import json
import random
import re
import sys
import time
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
from onnx import helper, numpy_helper
from tokenizers import Tokenizer

REPO = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(REPO / "models" / "ner"), str(REPO / "models" / "summarizer")]
from data import read_conll  # noqa: E402
from infer import CharNgramInput, session_feed, span_piece_sums  # noqa: E402
from common import load_articles, split_order  # noqa: E402
import segment  # noqa: E402
from embed import Encoder  # noqa: E402

OUTPUT = "sentence_vectors"
DIM = 384


def layer_output(layer: int) -> str:
    return f"/layers.{layer}/oln/LayerNormalization_output_0"


def without_head(model: onnx.ModelProto) -> onnx.ModelProto:
    """The model with any earlier head (nodes, weights, output) removed."""
    g = model.graph
    for o in [o for o in g.output if o.name == OUTPUT]:
        g.output.remove(o)
    for n in [n for n in g.node if n.name.startswith("sentence_head/")]:
        g.node.remove(n)
    for t in [t for t in g.initializer if t.name.startswith("sentence_head/")]:
        g.initializer.remove(t)
    return model


def detokenize(tokens) -> str:
    t = " ".join(tokens)
    t = re.sub(r"([(\[«]) ", r"\1", t)
    return re.sub(r" ([.،؛:؟!,)\]»])", r"\1", t)


def extra_texts(data: Path):
    """Pseudo-articles: six consecutive sentences, a seeded sample per corpus."""
    out = []
    for path, n in [(data / "ner_extra/aqmar/train.txt", 450),
                    (data / "ner_extra/wikifane_gold/train.txt", 700),
                    (data / "anercorp/train.txt", 500)]:
        sents = [detokenize([word for word, _ in s]) for s in read_conll(str(path))]
        chunks = [" ".join(sents[i:i + 6]) for i in range(0, len(sents), 6)]
        random.Random(1).shuffle(chunks)
        out += chunks[:n]
    return out


class Features:
    """Per sentence: the mean of layer LAYER's hidden states over the pieces
    of its words (each word read from its owner window, as the service does)."""

    def __init__(self, model: onnx.ModelProto, model_dir: Path, layer: int):
        m = onnx.ModelProto()
        m.CopyFrom(model)
        self.name = layer_output(layer)
        m.graph.output.append(helper.make_tensor_value_info(self.name, onnx.TensorProto.FLOAT, None))
        so = ort.SessionOptions()
        so.intra_op_num_threads = 2
        so.inter_op_num_threads = 1
        self.sess = ort.InferenceSession(m.SerializeToString(), so, providers=["CPUExecutionProvider"])
        self.tok = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
        k = json.loads((model_dir / "config.json").read_text())["khulasa"]
        self.max_tokens = int(k.get("max_tokens", 256))
        self.chars = CharNgramInput.of(k)

    def __call__(self, text, spans):
        def layer(ids, words):
            feed = session_feed(self.chars, np.array([ids], np.int64), np.ones((1, len(ids)), np.int64), [words])
            return self.sess.run([self.name], feed)[0][0]
        sums, counts = span_piece_sums(text, spans, self.tok, layer, DIM, self.max_tokens)
        keep = counts > 0
        return sums[keep] / counts[keep][:, None], keep


def collect(texts, feats, enc, label):
    xs, ys = [], []
    t0 = time.time()
    for n, text in enumerate(texts):
        spans = segment.sentences(text)
        if not spans:
            continue
        x, keep = feats(text, spans)
        xs.append(x)
        ys.append(enc.embed([text[a:b] for (a, b), k in zip(spans, keep) if k]))
        if n % 500 == 0:
            print(f"{label}: {n}/{len(texts)} texts, {time.time() - t0:.0f}s", file=sys.stderr, flush=True)
    return np.concatenate(xs), np.concatenate(ys).astype(np.float64)


def ridge(x, y, lam):
    x1 = np.hstack([x, np.ones((len(x), 1))])
    a = x1.T @ x1 + lam * np.eye(x1.shape[1])
    a[-1, -1] -= lam  # the bias is not shrunk
    w = np.linalg.solve(a, x1.T @ y)
    return w[:-1], w[-1]


def cosines(x, w, b, y):
    p = x @ w + b
    p /= np.linalg.norm(p, axis=1, keepdims=True)
    return (p * y).sum(axis=1)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model-dir", type=Path, default=REPO / "models" / "ner-ar")
    ap.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data")
    ap.add_argument("--layer", type=int, default=5)
    ap.add_argument("--lam", type=float, default=10.0)
    ap.add_argument("--ant-train", type=int, default=3000)
    a = ap.parse_args()

    model = without_head(onnx.load(str(a.model_dir / "model.onnx")))
    feats = Features(model, a.model_dir, a.layer)
    enc = Encoder(2)
    arts = load_articles()
    dev, train = split_order(len(arts))
    fit_texts = [arts[i]["text"] for i in train[:a.ant_train]] + extra_texts(a.data)
    x, y = collect(fit_texts, feats, enc, "fit")
    w, b = ridge(x, y, a.lam)
    xd, yd = collect([arts[i]["text"] for i in dev], feats, enc, "dev")
    cos_dev = float(cosines(xd, w, b, yd).mean())
    cos_fit = float(cosines(x, w, b, y).mean())
    print(f"layer {a.layer}, lambda {a.lam}: {len(x)} fit sentences (cos {cos_fit:.4f}), "
          f"{len(xd)} ANT dev sentences, mean cosine to e5 {cos_dev:.4f}", file=sys.stderr)

    g = model.graph
    g.initializer.extend([numpy_helper.from_array(w.astype(np.float32), "sentence_head/weight"),
                          numpy_helper.from_array(b.astype(np.float32), "sentence_head/bias")])
    g.node.extend([
        helper.make_node("MatMul", [layer_output(a.layer), "sentence_head/weight"],
                         ["sentence_head/matmul"], name="sentence_head/MatMul"),
        helper.make_node("Add", ["sentence_head/matmul", "sentence_head/bias"], [OUTPUT],
                         name="sentence_head/Add"),
    ])
    g.output.append(helper.make_tensor_value_info(OUTPUT, onnx.TensorProto.FLOAT, ["batch", "tokens", DIM]))
    onnx.checker.check_model(model)
    onnx.save(model, str(a.model_dir / "model.onnx"))

    cfg_path = a.model_dir / "config.json"
    cfg = json.loads(cfg_path.read_text(encoding="utf-8"))
    cfg["khulasa"]["sentence_vectors"] = {"output": OUTPUT, "dim": DIM, "mimics": "e5-small"}
    cfg_path.write_text(json.dumps(cfg, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    man_path = a.model_dir / "manifest.json"
    man = json.loads(man_path.read_text(encoding="utf-8"))
    man["sentence_head"] = {
        "recipe": "models/ner/sentence_head.py",
        "output": OUTPUT, "mimics": "e5-small (passage: embedding of the sentence alone)",
        "layer": a.layer, "ridge_lambda": a.lam,
        "fit": f"{len(x)} sentences: {a.ant_train} ANT training articles, 450 AQMAR, 700 WikiFANEGold "
               f"and 500 ANERcorp six-sentence chunks",
        "mean_cosine_to_e5": {"ant_dev_500": round(cos_dev, 4), "fit": round(cos_fit, 4)},
    }
    for name in ("model.onnx", "config.json"):
        man["files"][name] = hashlib.sha256((a.model_dir / name).read_bytes()).hexdigest()
    man["size_mb"] = round((a.model_dir / "model.onnx").stat().st_size / 1e6, 2)
    man_path.write_text(json.dumps(man, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {a.model_dir}/model.onnx with output {OUTPUT}", file=sys.stderr)


if __name__ == "__main__":
    main()
