"""Checks of train.py's CRF against brute force (needs torch: run it with the
training venv, requirements-train.txt):

    python models/ner/test_crf.py

- its loss is the exact negative log-likelihood of the gold paths;
- the service's decoding (infer.decode: log-softmax of the emissions, then
  Viterbi with config.json's `transitions`) returns the CRF's best path, so
  exporting the learned scores is all serving needs;
- gold that starts inside an entity (a window cut) or breaks IOB2 is repaired
  to the nearest valid path instead of costing the -1e4 mask.
"""
from __future__ import annotations

import itertools
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from data import LABELS  # noqa: E402
from infer import decode  # noqa: E402
from train import CRF  # noqa: E402


def random_crf(seed):
    torch.manual_seed(seed)
    crf = CRF()
    with torch.no_grad():
        crf.trans.normal_()
        crf.start.normal_()
    return crf


def path_score(crf, em, y):
    T = (crf.trans + crf.trans_mask).detach()
    S = (crf.start + crf.start_mask).detach()
    return S[y[0]] + em[0, y[0]] + sum(T[y[t - 1], y[t]] + em[t, y[t]] for t in range(1, len(y)))


def test_nll_is_exact():
    crf = random_crf(0)
    em = torch.randn(2, 3, len(LABELS))
    lab = torch.tensor([[1, 2, 0], [3, 4, -100]])
    want, words = 0.0, 0
    for b, n in ((0, 3), (1, 2)):
        paths = itertools.product(range(len(LABELS)), repeat=n)
        log_z = torch.logsumexp(torch.stack([path_score(crf, em[b], y) for y in paths]), 0)
        want += float(log_z - path_score(crf, em[b], lab[b, :n].tolist()))
        words += n
    got = float(crf.nll(em, lab).detach())
    assert abs(got - want / words) < 1e-4, (got, want / words)


def test_decode_is_the_crf_argmax():
    crf = random_crf(1)
    cfg = crf.config()
    for seed in range(5):
        em = torch.randn(4, len(LABELS), generator=torch.Generator().manual_seed(seed))
        best = max(itertools.product(range(len(LABELS)), repeat=4), key=lambda y: float(path_score(crf, em, y)))
        ents = decode(em.numpy(), cfg)
        tags = ["O"] * 4
        for typ, i, j, _ in ents:
            tags[i:j] = ["B-" + typ] + ["I-" + typ] * (j - i - 1)
        assert tags == [LABELS[k] for k in best], (tags, [LABELS[k] for k in best])


def test_repair():
    crf = CRF()
    y = torch.tensor([[2, 2, 0, 4, 6]])
    m = torch.tensor([[True, True, True, True, False]])
    assert crf.repair(y, m).tolist() == [[1, 2, 0, 3, 6]]
    # uniform scores: the loss is log(#valid paths) / 4, not the -1e4 mask
    loss = float(crf.nll(torch.zeros(1, 4, len(LABELS)), torch.tensor([[2, 2, 0, 4]])).detach())
    assert 0 < loss < np.log(len(LABELS)), loss


if __name__ == "__main__":
    test_nll_is_exact()
    test_decode_is_the_crf_argmax()
    test_repair()
    print("ok")
