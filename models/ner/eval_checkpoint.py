"""Score torch checkpoints of train.py on the document-level DEV, one sentence
per text and as N-sentence texts (windows spanning sentences, as the service
reads articles), before any export: how the ablation rows that compare
training runs were scored.

    eval_checkpoint.py CORPUS RUN/best.pt [RUN2/best.pt ...] [--docs 1,5] [--threads 2]

CORPUS is the file the runs trained on (ANERcorp, or the newsroom supplement's
output for newsroom labels); its docs split gives DEV and the TRAIN surfaces
for seen/unseen. A run trained with --crf decodes with its CRF's transitions,
one with --char-ngrams adds its CharEmission's scores, one with --char-input
reads the n-grams at the input.
Needs torch (the training venv).
"""
from __future__ import annotations

import argparse
import os
import sys

import numpy as np
import torch
from tokenizers import Tokenizer

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from evaluate import dev_set, join_docs, summary, train_surfaces  # noqa: E402
from model import E5Ner  # noqa: E402
from train import CRF, CharEmission, evaluate_texts  # noqa: E402


def load(ckpt, vocab_size):
    """The model (mean head), its CRF and its CharEmission (None for a run
    without --crf / --char-ngrams)."""
    state = torch.load(ckpt, map_location="cpu", weights_only=False)
    model = E5Ner(vocab_size, heads=["mean"], char_buckets=state.get("char_input", 0),
                  char_source="piece" if state.get("char_pieces") else "word")
    model.load_state_dict(state["state"])
    crf = None
    if state.get("crf") is not None:
        crf = CRF()
        crf.load_state_dict(state["crf"])
    chars = None
    if state.get("chars") is not None:
        chars = CharEmission(state["char_buckets"])
        chars.load_state_dict(state["chars"])
    return model, crf, chars


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("corpus")
    ap.add_argument("checkpoints", nargs="+")
    ap.add_argument("--vocab", default=os.path.expanduser("~/ner/vocab"), help="train.py's VOCAB_DIR")
    ap.add_argument("--docs", default="1,5", help="sentences per text, comma-separated")
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    tok = Tokenizer.from_file(os.path.join(a.vocab, "tokenizer.json"))
    vocab_size = len(np.load(os.path.join(a.vocab, "rows.npy")))
    _, texts1, golds1 = dev_set(a.corpus, "docs")
    seen = train_surfaces(a.corpus)
    for ckpt in a.checkpoints:
        model, crf, chars = load(ckpt, vocab_size)
        name = os.path.basename(os.path.dirname(os.path.abspath(ckpt)))
        for n in (int(x) for x in a.docs.split(",")):
            texts, golds = (texts1, golds1) if n == 1 else join_docs(texts1, golds1, n)
            res = evaluate_texts(model, tok, texts, golds, 256, ["mean"], seen_surfaces=seen, crf=crf,
                                 chars=chars)["mean"]
            print(f"{name} docs{n}{' crf' if crf else ''}{' chars' if chars else ''} {summary(res, res['_seen_unseen'])}", flush=True)


if __name__ == "__main__":
    main()
