"""Step 4: export the trained scorer to ONNX (opset 17, dynamic sentence
axis), check it against PyTorch with onnxruntime on n = 1, 7 and 2000, and
write models/summarizer-ext/{model.onnx,manifest.json}.

    python models/summarizer/export.py [--ckpt /tmp/summ/model.pt] [--eval dev.json]
"""
import argparse
import datetime
import hashlib
import json
from pathlib import Path

import numpy as np
import torch

from common import REPO, WORK
from model import Exported, Scorer

DESCRIPTION = (
    "Learned extractive sentence scorer (BertSumExt-style) for news, trained on Arabic "
    "headlines. A 2-layer pre-LN transformer encoder over the sentences of one article "
    "(d=128, 4 heads, FFN 256, GELU) on Linear(384->128)(e5 embedding) + Linear(F->128)"
    "(features), then a linear head and a sigmoid. Inputs: embeddings float32 [1, n, 384] = "
    "models/e5-small sentence_embedding of 'passage: ' + sentence (L2-normalized), in article "
    "order; features float32 [1, n, F], F = len(features), columns in the order of "
    "'features'. Output: scores float32 [1, n] in (0, 1), higher = more summary-worthy; use "
    "them as the relevance term of MMR in place of v1's centrality+position blend. "
    "Feature formulas (i = 0-based sentence index, n = sentence count, chars = code points "
    "of the sentence, words = whitespace-split tokens, ln = natural log): "
    "rel_pos = i/n; inv_sqrt_pos = 1/sqrt(i+1); is_first = 1 if i == 0 else 0; "
    "log_chars = ln(1+chars)/6; log_words = ln(1+words)/4; short = 1 if words < 4 else 0; "
    "log_n = ln(1+n)/4; centroid_cos = dot(e_i, m/|m|) with m = mean of the n embeddings; "
    "first_cos = dot(e_i, e_0). Any n >= 1 works (dynamic axis; trained on up to 128 "
    "sentences, attention is O(n^2))."
)


def labels_text(a):
    parts = []
    if a.get("hard_weight", 1.0) > 0:
        parts.append(f"{a.get('hard_weight', 1.0)} x BCE on the greedy ROUGE-1+ROUGE-2 F1 "
                     "oracle (<= 3 sentences, stops when no sentence helps) vs the headline")
    if a.get("soft_weight", 0.5) > 0:
        parts.append(f"{a.get('soft_weight', 0.5)} x BCE on each sentence's ROUGE-1 F1 vs the "
                     "headline" + ("" if a.get("soft_raw") else " divided by the article's best"))
    if a.get("listwise_weight", 0) > 0:
        parts.append(f"{a['listwise_weight']} x listwise softmax cross-entropy over the "
                     "article's sentences towards softmax(r / tau), r = each sentence's ROUGE-1 "
                     f"F1 vs the headline divided by the article's best, tau = {a.get('tau')}")
    return " + ".join(parts)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ckpt", default=str(WORK / "model.pt"))
    ap.add_argument("--out-dir", default=str(REPO / "models" / "summarizer-ext"))
    ap.add_argument("--eval", default=None, help="evaluate.py --json output for dev_scores")
    ap.add_argument("--note", default=None, help="free text stored as training.note")
    args = ap.parse_args()
    ck = torch.load(args.ckpt, weights_only=False)
    feats = ck["features"]
    scorer = Scorer(len(feats))
    scorer.load_state_dict(ck["state"])
    scorer.eval()
    model = Exported(scorer).eval()
    out = Path(args.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    onnx_path = out / "model.onnx"
    n = 7
    ex = (torch.randn(1, n, 384), torch.rand(1, n, len(feats)))
    torch.onnx.export(model, ex, str(onnx_path), input_names=["embeddings", "features"],
                      output_names=["scores"], opset_version=17, dynamo=False,
                      dynamic_axes={"embeddings": {1: "n"}, "features": {1: "n"},
                                    "scores": {1: "n"}})
    import onnxruntime as ort
    sess = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    for n in (1, 2, 7, 2000):
        e = torch.nn.functional.normalize(torch.randn(1, n, 384), dim=-1)
        f = torch.rand(1, n, len(feats))
        with torch.no_grad():
            ref = model(e, f).numpy()
        got = sess.run(["scores"], {"embeddings": e.numpy(), "features": f.numpy()})[0]
        assert got.shape == (1, n), got.shape
        err = float(np.abs(got - ref).max())
        assert err < 1e-4, (n, err)
        print(f"n={n}: max |onnx - torch| = {err:.2e}")
    sha = hashlib.sha256(onnx_path.read_bytes()).hexdigest()
    meta = json.load(open(args.ckpt + ".json")) if Path(args.ckpt + ".json").exists() else {}
    dev_scores = {}
    if args.eval:
        ev = json.load(open(args.eval))
        dev_scores = {"articles": ev["articles"],
                      "reference": "headline; ROUGE F1 x 100, Arabic-normalized",
                      **ev["results"], "gap_closed": ev["gap_closed"]}
    today = datetime.date.today().isoformat()
    manifest = {
        "name": "summarizer-ext",
        "kind": "sentence-scoring",
        "version": f"{today}-e5small-ant-headline-oracle-tf2",
        "description": DESCRIPTION,
        "max_tokens": 512,
        "labels": [],
        "features": feats,
        "source": ("trained here on ANT corpus v1.1 (Chouigui et al. 2017, Apache-2.0) "
                   "headlines via greedy ROUGE oracle; e5 embeddings from models/e5-small"),
        "license": ("Apache-2.0 (training data ANT corpus, cite Chouigui et al. 2017); "
                    "code MIT"),
        "training": {
            "articles": meta.get("train_articles", ck.get("train_articles")),
            "sentences": meta.get("train_sentences"),
            "dev_split": ("500 articles: indices of ant_articles.jsonl (file order) shuffled "
                          "by Python random.Random(13), first 500 = dev, never trained on; "
                          "training articles are a prefix of the rest of that order"),
            "labels": labels_text(ck.get("args", {})),
            "epochs": meta.get("epochs"),
            "best_epoch": ck.get("epoch"),
            "time": (f"{meta.get('train_seconds')} s training on 2 shared CPU cores"
                     if meta.get("train_seconds") is not None else None),
            **({"note": args.note} if args.note else {}),
        },
        "dev_scores": dev_scores,
        "files": {"model.onnx": sha},
    }
    json.dump(manifest, open(out / "manifest.json", "w"), ensure_ascii=False, indent=2)
    print(f"wrote {onnx_path} ({onnx_path.stat().st_size / 1e6:.2f} MB, sha256 {sha})")


if __name__ == "__main__":
    main()
