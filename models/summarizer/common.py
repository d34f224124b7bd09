"""Shared pieces of the summarizer recipe: data, dev split, Arabic-aware
ROUGE, the greedy oracle, the sentence features and the gRPC stubs."""
from __future__ import annotations

import json
import math
import os
import random
import re
import sys
import tempfile
import unicodedata
from collections import Counter
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[2]
DATA = Path(os.environ.get("ANT_JSONL", "/work/shared/data/ant_articles.jsonl"))
WORK = Path(os.environ.get("SUMM_WORK", "/tmp/summ"))
PROTO = REPO / "proto" / "khulasa" / "v1" / "summarizer.proto"
DEV_SEED = 13
DEV_SIZE = 500


# ---------------------------------------------------------------- data / split
def load_articles():
    """Articles in file order (list of dicts)."""
    with open(DATA, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def split_order(n_articles: int):
    """Dev = the first DEV_SIZE indices of range(n) shuffled by
    random.Random(13); train = the rest, in that shuffled order (so any
    prefix of train is a random subset)."""
    idx = list(range(n_articles))
    random.Random(DEV_SEED).shuffle(idx)
    return idx[:DEV_SIZE], idx[DEV_SIZE:]


# ---------------------------------------------------------------- ROUGE
_MARKS = re.compile("[\u064B-\u065F\u0670\u0640]")
_UNIFY = str.maketrans({"أ": "ا", "إ": "ا", "آ": "ا", "ى": "ي", "ة": "ه"})


def normalize(text: str) -> str:
    text = _MARKS.sub("", text).translate(_UNIFY).lower()
    return "".join(" " if unicodedata.category(c).startswith("P") else c for c in text)


def tokens(text: str):
    return normalize(text).split()


def _ngrams(toks, n):
    return Counter(tuple(toks[i:i + n]) for i in range(len(toks) - n + 1))


def _f1(overlap, n_cand, n_ref):
    if overlap == 0 or n_cand == 0 or n_ref == 0:
        return 0.0
    p, r = overlap / n_cand, overlap / n_ref
    return 2 * p * r / (p + r)


def rouge_n(cand, ref, n):
    c, r = _ngrams(cand, n), _ngrams(ref, n)
    return _f1(sum((c & r).values()), sum(c.values()), sum(r.values()))


def lcs(a, b):
    if not a or not b:
        return 0
    prev = [0] * (len(b) + 1)
    for x in a:
        cur = [0]
        for j, y in enumerate(b):
            cur.append(prev[j] + 1 if x == y else max(prev[j + 1], cur[j]))
        prev = cur
    return prev[-1]


def rouge_l(cand, ref):
    return _f1(lcs(cand, ref), len(cand), len(ref))


def rouge_all(cand_toks, ref_toks):
    """(R-1, R-2, R-L) F1 of token lists (the summary is one token sequence)."""
    return (rouge_n(cand_toks, ref_toks, 1), rouge_n(cand_toks, ref_toks, 2),
            rouge_l(cand_toks, ref_toks))


def greedy_oracle(sent_toks, ref_toks, k):
    """Greedily add the sentence that most raises R-1 + R-2 F1 of the summary
    (sentences in article order) against ref; stop at k or when nothing helps."""
    return greedy_oracle_multi(sent_toks, [ref_toks], k)


def greedy_oracle_multi(sent_toks, refs, k):
    """greedy_oracle against several references at once: the mean over refs of
    R-1 + R-2 F1, the quantity a multi-reference evaluation averages."""
    chosen, best = [], 0.0
    while len(chosen) < k:
        pick, pick_val = None, best
        for i in range(len(sent_toks)):
            if i in chosen:
                continue
            cand = [t for j in sorted(chosen + [i]) for t in sent_toks[j]]
            v = sum(rouge_n(cand, r, 1) + rouge_n(cand, r, 2) for r in refs) / len(refs)
            if v > pick_val + 1e-12:
                pick, pick_val = i, v
        if pick is None:
            break
        chosen.append(pick)
        best = pick_val
    return sorted(chosen)


# ---------------------------------------------------------------- features
FEATURES = ["rel_pos", "inv_sqrt_pos", "is_first", "log_chars", "log_words",
            "short", "log_n", "centroid_cos", "first_cos"]
# Quotation marks and reporting verbs (with and without the conjunction):
# a sentence that quotes or attributes.
QUOTE_MARKS = set("«»\"“”")
REPORTING = {"قال", "وقال", "أضاف", "وأضاف", "أكد", "وأكد", "صرح", "وصرح", "أوضح", "وأوضح"}


def quotes(sentence: str) -> bool:
    return any(c in QUOTE_MARKS for c in sentence) or any(
        w.strip("،,.:؛!?؟()«»\"") in REPORTING for w in sentence.split())


def has_digit(sentence: str) -> bool:
    return any(unicodedata.category(c) == "Nd" for c in sentence)


def features(sentences, emb: np.ndarray, names=FEATURES) -> np.ndarray:
    """[n, F] float32 features of an article's sentences (emb: [n, 384],
    L2-normalized). Exactly the formulas of the manifest."""
    n = len(sentences)
    emb = emb.astype(np.float32)
    mean = emb.mean(axis=0)
    mean = mean / max(float(np.linalg.norm(mean)), 1e-12)
    cen = emb @ mean
    first = emb @ emb[0]
    cols = []
    for name in names:
        if name == "rel_pos":
            v = [i / n for i in range(n)]
        elif name == "inv_sqrt_pos":
            v = [1 / math.sqrt(i + 1) for i in range(n)]
        elif name == "is_first":
            v = [1.0 if i == 0 else 0.0 for i in range(n)]
        elif name == "log_chars":
            v = [math.log1p(len(s)) / 6 for s in sentences]
        elif name == "log_words":
            v = [math.log1p(len(s.split())) / 4 for s in sentences]
        elif name == "short":
            v = [1.0 if len(s.split()) < 4 else 0.0 for s in sentences]
        elif name == "log_n":
            v = [math.log1p(n) / 4] * n
        elif name == "centroid_cos":
            v = cen
        elif name == "first_cos":
            v = first
        elif name == "mean_cos":
            v = (emb @ emb.sum(axis=0) - (emb * emb).sum(axis=1)) / max(n - 1, 1)
        elif name == "quote":
            v = [1.0 if quotes(s) else 0.0 for s in sentences]
        elif name == "digit":
            v = [1.0 if has_digit(s) else 0.0 for s in sentences]
        else:
            raise ValueError(name)
        cols.append(np.asarray(v, dtype=np.float32))
    return np.stack(cols, axis=1)


# ---------------------------------------------------------------- gRPC
def stubs():
    """Generate the Python stubs from the repo's proto into a temp dir."""
    out = Path(tempfile.mkdtemp(prefix="khulasa_pb_"))
    from grpc_tools import protoc
    import grpc_tools
    inc = str(Path(grpc_tools.__file__).parent / "_proto")
    rc = protoc.main(["protoc", f"-I{REPO / 'proto'}", f"-I{inc}", f"--python_out={out}",
                      f"--grpc_python_out={out}", str(PROTO)])
    if rc != 0:
        raise RuntimeError("protoc failed")
    sys.path.insert(0, str(out))
    from khulasa.v1 import summarizer_pb2 as pb, summarizer_pb2_grpc as rpc
    return pb, rpc


def analyze_all(endpoint, rpc, requests):
    """{request id: AnalyzeResponse} for `requests` (a list) sent over one
    AnalyzeStream; exits on an in-band error or a missing answer."""
    import grpc
    stub = rpc.SummarizerStub(grpc.insecure_channel(endpoint))
    out = {}
    for resp in stub.AnalyzeStream(iter(requests)):
        if resp.HasField("error"):
            sys.exit(f"{endpoint}: {resp.id} failed: {resp.error.message}")
        out[resp.id] = resp
    if len(out) != len(requests):
        sys.exit(f"{endpoint}: {len(out)} answers for {len(requests)} requests")
    return out


def summary_spans(endpoint, pb, rpc, items):
    """{request id: [(start, end) code-point spans of the summary]} for
    `items`, (id, text, pb.SummaryOptions) triples, sent over one stream."""
    reqs = [pb.AnalyzeRequest(id=rid, text=text, language="ar", summary=opts, tasks=[pb.TASK_SUMMARY])
            for rid, text, opts in items]
    return {rid: [(s.start, s.end) for s in resp.summary.sentences]
            for rid, resp in analyze_all(endpoint, rpc, reqs).items()}


def every_sentence(pb):
    """Summary options under which the service returns all of its sentences
    (ratio 1.0): how the evaluations get the service's own segmentation."""
    return pb.SummaryOptions(ratio=1.0, mode=1)


def read_easc(path):
    """EASC articles (dicts with id, article, summaries A..E), in file order."""
    return [json.loads(line) for line in Path(path).read_text(encoding="utf-8").splitlines()
            if line.strip()]


def shares(doc):
    """Per sentence of an EASC doc (`toks`, `refs`: token lists), the
    fraction of the five references that chose it. A reference "chose" a
    sentence when at least half of the sentence's token bigrams occur in it:
    the references are normalized, re-joined and sometimes cut, so exact
    containment misses most choices."""
    def chosen(toks, ref_bigrams):
        bigrams = list(zip(toks, toks[1:]))
        return bool(bigrams) and np.mean([b in ref_bigrams for b in bigrams]) >= 0.5
    refs = [set(zip(r, r[1:])) for r in doc["refs"]]
    return np.array([np.mean([chosen(t, r) for r in refs]) for t in doc["toks"]])


def read_jsonl(path):
    out = {}
    if Path(path).exists():
        with open(path, encoding="utf-8") as f:
            for line in f:
                try:
                    d = json.loads(line)
                except json.JSONDecodeError:
                    continue  # a torn last line of an interrupted run
                out[d["docno"]] = d
    return out
