"""Step 2: e5 sentence embeddings of the dev articles (service spans from
prepare.py) and of the training articles (segmented by segment.py), in the
seeded order: dev first, then training articles in shuffled order, in chunks
of 250 articles cached under $SUMM_WORK/emb/ (resumable; stop it any time and
train on the chunks that exist).

    python models/summarizer/embed.py [--train-limit N]
"""
import argparse
import sys
import time

import numpy as np
import onnxruntime as ort
from tokenizers import Tokenizer

from common import REPO, WORK, load_articles, read_jsonl, split_order
import segment

E5 = REPO / "models" / "e5-small"
BATCH_TOKENS = 8192
MAX_TOKENS = 512


class Encoder:
    def __init__(self, threads=2):
        so = ort.SessionOptions()
        so.intra_op_num_threads = threads
        so.inter_op_num_threads = 1
        self.sess = ort.InferenceSession(str(E5 / "model.onnx"), so,
                                         providers=["CPUExecutionProvider"])
        self.tok = Tokenizer.from_file(str(E5 / "tokenizer.json"))
        self.tok.no_padding()
        self.tok.no_truncation()

    def embed(self, texts):
        enc = []
        for t in texts:
            ids = self.tok.encode("passage: " + t, add_special_tokens=True).ids
            if len(ids) > MAX_TOKENS:
                ids = ids[:MAX_TOKENS - 1] + [2]
            enc.append(ids)
        order = sorted(range(len(enc)), key=lambda i: len(enc[i]))
        out = np.zeros((len(texts), 384), dtype=np.float32)
        s = 0
        while s < len(order):
            e = s + 1
            while e < len(order) and len(enc[order[e]]) * (e + 1 - s) <= BATCH_TOKENS:
                e += 1
            rows = [enc[i] for i in order[s:e]]
            w = max(map(len, rows))
            ids = np.ones((len(rows), w), dtype=np.int64)
            mask = np.zeros((len(rows), w), dtype=np.int64)
            for r, row in enumerate(rows):
                ids[r, :len(row)] = row
                mask[r, :len(row)] = 1
            emb = self.sess.run(["sentence_embedding"],
                                {"input_ids": ids, "attention_mask": mask})[0]
            out[order[s:e]] = emb
            s = e
        return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--train-limit", type=int, default=None)
    ap.add_argument("--chunk", type=int, default=250)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--only", choices=["dev", "train"], default=None,
                    help="embed only this split's chunks")
    ap.add_argument("--check", action="store_true",
                    help="only report segment.py's agreement with the service on dev")
    args = ap.parse_args()
    arts = load_articles()
    dev, train = split_order(len(arts))
    if args.train_limit is not None:
        train = train[:args.train_limit]
    if args.check:
        segs = read_jsonl(WORK / "segments.jsonl")
        have = [i for i in dev if arts[i]["docno"] in segs]
        agree = sum(segment.sentences(arts[i]["text"]) == segs[arts[i]["docno"]]["spans"]
                    for i in have)
        print(f"segment.py == service spans on {agree}/{len(have)} dev articles")
        return
    out_dir = WORK / "emb"
    out_dir.mkdir(parents=True, exist_ok=True)
    enc = Encoder(args.threads)
    order = [("dev", i) for i in dev] + [("train", i) for i in train]
    t0 = time.time()
    n_sent = 0
    starts = list(range(0, len(order), args.chunk))
    # Training chunks first while prepare.py may still be fetching dev spans.
    starts = [c for c in starts if order[c][0] == "train"] + \
        [c for c in starts if order[c][0] == "dev"]
    if args.only:
        starts = [c for c in starts if order[c][0] == args.only]
    for c in starts:
        path = out_dir / f"chunk_{c // args.chunk:04d}.npz"
        if path.exists():
            continue
        part = order[c:c + args.chunk]
        if any(s == "dev" for s, _ in part):
            while True:
                segs = read_jsonl(WORK / "segments.jsonl")
                if all(arts[i]["docno"] in segs for s, i in part if s == "dev"):
                    break
                print("waiting for prepare.py (dev spans)", file=sys.stderr, flush=True)
                time.sleep(30)
        docnos, splits, offsets, spans, texts = [], [], [0], [], []
        for split, i in part:
            a = arts[i]
            sp = segs[a["docno"]]["spans"] if split == "dev" else segment.sentences(a["text"])
            docnos.append(a["docno"])
            splits.append(split)
            spans.extend(sp)
            texts.extend(a["text"][s:e] for s, e in sp)
            offsets.append(len(spans))
        emb = enc.embed(texts) if texts else np.zeros((0, 384), np.float32)
        tmp = path.with_suffix(".tmp.npz")
        np.savez(tmp, docnos=np.array(docnos), splits=np.array(splits),
                 offsets=np.array(offsets, dtype=np.int64),
                 spans=np.array(spans, dtype=np.int64).reshape(-1, 2),
                 emb=emb.astype(np.float16))
        tmp.rename(path)
        n_sent += len(texts)
        el = time.time() - t0
        print(f"{path.name}: {c + len(part)}/{len(order)} articles, {n_sent} sentences, "
              f"{el:.0f}s, {n_sent / el:.1f} sent/s", file=sys.stderr, flush=True)


if __name__ == "__main__":
    main()
