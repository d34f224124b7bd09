"""Throughput of an exported NER model with onnxruntime (default: 2 threads,
batch 8 x 128 tokens, random piece ids; random n-gram bags for a model with
a char n-gram input).

usage: bench.py MODEL_DIR [--batch 8] [--seq 128] [--threads 2] [--seconds 20]
"""
import argparse
import json
import os
import time

import numpy as np
import onnxruntime as ort

ap = argparse.ArgumentParser()
ap.add_argument("model_dir")
ap.add_argument("--model-file", default="model.onnx")
ap.add_argument("--batch", type=int, default=8)
ap.add_argument("--seq", type=int, default=128)
ap.add_argument("--threads", type=int, default=2)
ap.add_argument("--seconds", type=float, default=20)
a = ap.parse_args()
cfg = json.load(open(os.path.join(a.model_dir, "config.json")))
vocab = cfg["vocab_size"]
chars = cfg.get("khulasa", {}).get("char_ngrams")
so = ort.SessionOptions()
so.intra_op_num_threads = a.threads
so.inter_op_num_threads = 1
s = ort.InferenceSession(os.path.join(a.model_dir, a.model_file), so, providers=["CPUExecutionProvider"])
rng = np.random.default_rng(0)
ids = rng.integers(5, vocab, size=(a.batch, a.seq), dtype=np.int64)
ids[:, 0], ids[:, -1] = 0, 2
mask = np.ones_like(ids)
feed = {"input_ids": ids, "attention_mask": mask}
if chars:
    # A char n-gram model: each token's bag of its word's 2-4-grams, 6 to 36 of
    # them (words of 2 to 12 letters), padded to the longest, as the service pads.
    k = 36
    sizes = rng.integers(6, k + 1, size=(a.batch, a.seq, 1))
    bags = rng.integers(1, chars["buckets"] + 1, size=(a.batch, a.seq, k), dtype=np.int64)
    bags[np.arange(k)[None, None, :] >= sizes] = 0
    bags[:, 0], bags[:, -1] = 0, 0
    feed[chars["input"]] = bags
s.run(["logits"], feed)
n, t0 = 0, time.time()
while time.time() - t0 < a.seconds:
    s.run(["logits"], feed)
    n += 1
dt = time.time() - t0
print(json.dumps({"batches": n, "seconds": round(dt, 2), "tokens_per_s": round(n * a.batch * a.seq / dt, 1),
                  "ms_per_batch": round(1000 * dt / n, 1), "batch": a.batch, "seq": a.seq, "threads": a.threads}))
