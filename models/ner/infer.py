"""Python mirror of the Khulasa NER pipeline (contract steps 1-6).

    words -> normalize -> pieces (<=32 per word) -> windows (a quarter overlap,
    never across a sentence of the service's segmenter) -> token logits
    -> word logits (first/last/mean pooling) -> log-softmax + IOB2-constrained
    Viterbi -> repeats of tagged names -> entities with char spans.

`NerOnnx(model_dir)` runs an exported model directory with onnxruntime;
`predict_words` takes any `logits_fn(list_of_windows_ids) -> list of [T,L]`
so training can evaluate a torch model the same way.
"""
from __future__ import annotations

import bisect
import json
import os
import sys

import numpy as np

_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, _HERE)
sys.path.append(os.path.join(os.path.dirname(_HERE), "summarizer"))
from chars import word_ngrams  # noqa: E402
from words import normalize_word, split_words  # noqa: E402
import segment  # noqa: E402  (models/summarizer/segment.py: the service's segmenter's twin)

LABELS = ["O", "B-PER", "I-PER", "B-LOC", "I-LOC", "B-ORG", "I-ORG", "B-MISC", "I-MISC"]
BOS, PAD, EOS = 0, 1, 2


def word_pieces(tokenizer, norm_words, max_pieces=32):
    """Piece ids per word: one encode call over the whole word list."""
    if not norm_words:
        return []
    enc = tokenizer.encode(norm_words, is_pretokenized=True, add_special_tokens=False)
    per = [[] for _ in norm_words]
    for pid, wid in zip(enc.ids, enc.word_ids):
        if wid is not None:
            per[wid].append(pid)
    half = max_pieces // 2
    return [p if len(p) <= max_pieces else p[:half] + p[-half:] for p in per]


def make_windows(counts, max_tokens=256):
    """Word windows [(s, e)] per contract step 4."""
    n = len(counts)
    B = max_tokens - 2
    if sum(counts) <= B:
        return [(0, n)]
    out, s = [], 0
    while True:
        e, tot = s, 0
        while e < n and tot + counts[e] <= B:
            tot += counts[e]
            e += 1
        if e == s:  # cannot happen with <=32 pieces per word, kept for safety
            e = s + 1
            tot = counts[s]
        out.append((s, e))
        if e == n:
            break
        s2 = s + 1
        tot -= counts[s]
        while tot > B / 4:
            tot -= counts[s2]
            s2 += 1
        s = s2
    return out


def windows_within(counts, segment_starts, max_tokens=256):
    """make_windows inside each segment, so that no window crosses one (twin
    of windows::plan_within): segment k runs from word segment_starts[k] to
    the next start; word 0 always starts one, starts past the end are ignored."""
    n = len(counts)
    starts = sorted({0, *(s for s in segment_starts if s < n)}) if n else []
    out = []
    for a, b in zip(starts, starts[1:] + [n]):
        out += [(s + a, e + a) for s, e in make_windows(counts[a:b], max_tokens)]
    return out


def sentence_starts(text, word_spans):
    """The word indices (into word_spans, text_words' spans) where the
    service's sentences of `text` begin: the first word that starts at or
    after each sentence's start (segment.sentences, the twin of
    src/text/segment.rs). The service's NER windows never cross them."""
    starts = [s for s, _ in word_spans]
    return [bisect.bisect_left(starts, a) for a, _ in segment.sentences(text)]


def owners(windows, n):
    """For each word the window where min(i-s, e-1-i) is largest (ties: earlier)."""
    best = [-1] * n
    bestv = [-1] * n
    for k, (s, e) in enumerate(windows):
        for i in range(s, e):
            v = min(i - s, e - 1 - i)
            if v > bestv[i]:
                bestv[i], best[i] = v, k
    return best


def window_inputs(pieces, windows):
    """Per window: token ids and, per word in the window, its token positions."""
    out = []
    for s, e in windows:
        ids = [BOS]
        pos = []
        for i in range(s, e):
            pos.append(list(range(len(ids), len(ids) + len(pieces[i]))))
            ids.extend(pieces[i])
        ids.append(EOS)
        out.append((ids, pos))
    return out


def pool(tok_logits, positions, pooling):
    if pooling == "first":
        return tok_logits[positions[0]]
    if pooling == "last":
        return tok_logits[positions[-1]]
    return tok_logits[positions].mean(axis=0)


def log_softmax(x):
    m = x.max(axis=-1, keepdims=True)
    y = x - m
    return y - np.log(np.exp(y).sum(axis=-1, keepdims=True))


def allowed_matrix(labels=LABELS):
    L = len(labels)
    allow = np.ones((L, L), dtype=bool)
    start = np.ones(L, dtype=bool)
    for j, lj in enumerate(labels):
        if lj.startswith("I-"):
            start[j] = False
            for i, li in enumerate(labels):
                if li[2:] != lj[2:] or li == "O":
                    allow[i, j] = False
    return allow, start


def viterbi(logp, transitions=None, start_transitions=None, labels=LABELS):
    n, L = logp.shape
    if n == 0:
        return []
    allow, start = allowed_matrix(labels)
    trans = np.where(allow, 0.0, -np.inf)
    if transitions is not None:
        trans = trans + np.asarray(transitions, dtype=np.float64)
    st = np.where(start, 0.0, -np.inf)
    if start_transitions is not None:
        st = st + np.asarray(start_transitions, dtype=np.float64)
    score = st + logp[0]
    back = np.zeros((n, L), dtype=np.int64)
    for t in range(1, n):
        cand = score[:, None] + trans  # from, to
        back[t] = cand.argmax(axis=0)
        score = cand.max(axis=0) + logp[t]
    path = [int(score.argmax())]
    for t in range(n - 1, 0, -1):
        path.append(int(back[t, path[-1]]))
    return path[::-1]


def decode(word_logits, cfg_k=None, labels=LABELS):
    """Word logits [n,L] -> list of (label_type, i, j, score) word ranges."""
    cfg_k = cfg_k or {}
    logp = log_softmax(np.asarray(word_logits, dtype=np.float64))
    path = viterbi(logp, cfg_k.get("transitions"), cfg_k.get("start_transitions"), labels)
    tags = [labels[k] for k in path]
    ents, i, n = [], 0, len(tags)
    while i < n:
        if tags[i].startswith("B-"):
            typ = tags[i][2:]
            j = i + 1
            while j < n and tags[j] == "I-" + typ:
                j += 1
            sc = float(np.mean([np.exp(logp[k, path[k]]) for k in range(i, j)]))
            ents.append((typ, i, j, sc))
            i = j
        else:
            i += 1
    return ents


# Names longer than this (words) are not repeated: a recurrence of a long
# name is rare, and the bound keeps the search to a few passes over the words.
MAX_REPEATED_WORDS = 8
# A name's type tallies are compared at this precision, so that float32 (the
# service) and float64 (here) sums that differ only by rounding tie alike.
TALLY_DECIMALS = 3


def with_repeats(ents, words, labels=LABELS):
    """Document-level consistency, the twin of with_repeats in
    src/tasks/entities.rs: a name (its normalized words) the model tagged
    somewhere is also a mention wherever the same words recur outside every
    other mention. Longer names first, then by first position; a name tagged
    with several types gets, for its repeats, the one whose mentions' scores
    sum highest (on a tie, the type listed first in `labels`), and the best
    score of those mentions; names of more than MAX_REPEATED_WORDS words are
    not repeated. ents: decode's (type, i, j, score); returns them with the
    repeats, by start."""
    order = {}
    for lab in labels:
        if lab[:2] in ("B-", "I-"):
            order.setdefault(lab[2:], len(order))
    names = {}  # words -> (first start, {type: [sum, best]})
    for typ, i, j, sc in ents:
        _, kinds = names.setdefault(tuple(words[i:j]), (i, {}))
        k = kinds.setdefault(typ, [0.0, sc])
        k[0] += sc
        k[1] = max(k[1], sc)
    covered = [False] * len(words)
    for _, i, j, _ in ents:
        covered[i:j] = [True] * (j - i)
    out = list(ents)
    for name, (_, kinds) in sorted(names.items(), key=lambda kv: (-len(kv[0]), kv[1][0])):
        n = len(name)
        if not 0 < n <= MAX_REPEATED_WORDS:
            continue
        typ = max(kinds, key=lambda t: (round(kinds[t][0], TALLY_DECIMALS), -order.get(t, len(order))))
        best, i = kinds[typ][1], 0
        while i + n <= len(words):
            if not any(covered[i:i + n]) and tuple(words[i:i + n]) == name:
                covered[i:i + n] = [True] * n
                out.append((typ, i, i + n, best))
                i += n
            else:
                i += 1
    return sorted(out, key=lambda e: e[1])


def text_words(text):
    """Service words of `text`: (orig spans, normalized strings) of the non-empty ones."""
    spans, norm = [], []
    for s, e in split_words(text):
        w = normalize_word(text[s:e])
        if w:
            spans.append((s, e))
            norm.append(w)
    return spans, norm


def word_logits_many(tokenizer, docs_norm_words, logits_fn, poolings, max_tokens=256,
                     max_pieces=32, with_words=False, segment_starts=None):
    """Word logits for many docs; logits_fn(list of id lists) -> list of arrays [T, H, L]
    (H = number of heads, matching `poolings`). with_words: logits_fn also gets,
    per window, each word's token positions and normalized form. segment_starts:
    per doc, the word indices no window may cross (windows_within)."""
    jobs = []  # (doc, window index)
    metas = []
    all_ids = []
    for d, words in enumerate(docs_norm_words):
        pieces = word_pieces(tokenizer, words, max_pieces)
        cuts = segment_starts[d] if segment_starts else []
        wins = windows_within([len(p) for p in pieces], cuts, max_tokens)
        inputs = window_inputs(pieces, wins)
        metas.append((wins, owners(wins, len(words)), inputs))
        for k, (ids, _) in enumerate(inputs):
            jobs.append((d, k))
            all_ids.append(ids)
    if with_words:
        win_words = [[(p, docs_norm_words[d][metas[d][0][k][0] + i]) for i, p in enumerate(metas[d][2][k][1])]
                     for d, k in jobs]
        outs = logits_fn(all_ids, win_words) if all_ids else []
    else:
        outs = logits_fn(all_ids) if all_ids else []
    by = {}
    for (d, k), o in zip(jobs, outs):
        by[(d, k)] = o
    results = []
    for d, words in enumerate(docs_norm_words):
        wins, own, inputs = metas[d]
        per_head = []
        for h, pooling in enumerate(poolings):
            wl = np.zeros((len(words), len(LABELS)), dtype=np.float32)
            for i in range(len(words)):
                k = own[i]
                s = wins[k][0]
                wl[i] = pool(by[(d, k)][:, h, :], inputs[k][1][i - s], pooling)
            per_head.append(wl)
        results.append(per_head)
    return results


def span_piece_sums(text, spans, tok, run, dim, max_tokens=256, max_pieces=32):
    """Per (start, end) code-point span of `text`: the sum of run(window ids)'s
    rows for the pieces of the words that start inside it, each word read from
    its owner window as the service reads it (windows inside the service's
    sentences), and how many pieces that was. `run(ids, words)` returns one
    row of `dim` values per token of a window; words = the window's (token
    positions, normalized word) per word."""
    wspans, norm = text_words(text)
    pieces = word_pieces(tok, norm, max_pieces)
    wins = windows_within([len(p) for p in pieces], sentence_starts(text, wspans), max_tokens)
    own = owners(wins, len(norm))
    inputs = window_inputs(pieces, wins)
    outs = [run(ids, list(zip(pos, norm[s:e]))) for (ids, pos), (s, e) in zip(inputs, wins)]
    sums = np.zeros((len(spans), dim))
    counts = np.zeros(len(spans), dtype=np.int64)
    starts = [s for s, _ in wspans]
    for j, (a, b) in enumerate(spans):
        for i in range(int(np.searchsorted(starts, a)), int(np.searchsorted(starts, b))):
            k = own[i]
            rows = inputs[k][1][i - wins[k][0]]
            sums[j] += outs[k][rows].sum(axis=0)
            counts[j] += len(rows)
    return sums, counts


class CharNgramInput:
    """The model input of hashed character n-grams of each token's word
    (`khulasa.char_ngrams` in config.json; models trained with train.py
    --char-input): int64 [batch, tokens, K], each of a token's word's
    chars.word_ngrams buckets + 1, padded with 0; special and padding tokens
    get none. Twin of the service's char n-gram rows
    (src/models/token_classifier.rs)."""

    def __init__(self, cfg):
        self.name = cfg["input"]
        self.buckets = int(cfg["buckets"])
        self.min_n, self.max_n = int(cfg.get("min_n", 2)), int(cfg.get("max_n", 4))

    @classmethod
    def of(cls, khulasa_cfg):
        """The model's char n-gram input, or None when it has none."""
        cfg = khulasa_cfg.get("char_ngrams")
        return cls(cfg) if cfg else None

    def feed(self, rows, width):
        """{input name: array} for a batch: rows = per window, (token
        positions, normalized word) of its words; width = padded tokens."""
        per_row = []
        for words in rows:
            bags = {}
            for positions, w in words:
                ng = word_ngrams(w, self.buckets, self.min_n, self.max_n)
                for p in positions:
                    bags[p] = ng
            per_row.append(bags)
        k = max([len(b) for bags in per_row for b in bags.values()] + [1])
        x = np.zeros((len(rows), width, k), dtype=np.int64)
        for r, bags in enumerate(per_row):
            for p, ng in bags.items():
                x[r, p, : len(ng)] = np.asarray(ng, dtype=np.int64) + 1
        return {self.name: x}


def session_feed(chars, ids, mask, rows):
    """A token classifier's feed for padded ids / mask; with a char n-gram
    input `chars` (CharNgramInput or None), also its array, from rows = per
    window, its words' (token positions, normalized word)."""
    feed = {"input_ids": ids, "attention_mask": mask}
    if chars is not None:
        feed.update(chars.feed(rows, ids.shape[1]))
    return feed


class NerOnnx:
    def __init__(self, model_dir, model_file="model.onnx", threads=2, batch=1):
        # batch=1 mirrors the service exactly: with int8 (DynamicQuantizeLinear)
        # the activation ranges are per tensor over the whole batch, so batched
        # results differ slightly on borderline words.
        self.batch = batch
        import onnxruntime as ort
        from tokenizers import Tokenizer

        self.cfg = json.load(open(os.path.join(model_dir, "config.json"), encoding="utf-8"))
        self.k = self.cfg.get("khulasa", {})
        self.labels = [self.cfg["id2label"][str(i)] for i in range(len(self.cfg["id2label"]))]
        assert self.labels == LABELS, self.labels
        self.tok = Tokenizer.from_file(os.path.join(model_dir, "tokenizer.json"))
        so = ort.SessionOptions()
        so.intra_op_num_threads = threads
        so.inter_op_num_threads = 1
        self.sess = ort.InferenceSession(os.path.join(model_dir, model_file), so,
                                         providers=["CPUExecutionProvider"])
        self.pooling = self.k.get("word_pooling", "first")
        self.max_tokens = int(self.k.get("max_tokens", 256))
        self.max_pieces = int(self.k.get("max_pieces_per_word", 32))
        # The sentence head (src/models/token_classifier.rs): a second output
        # with one vector per token.
        self.head = self.k.get("sentence_vectors")
        self.chars = CharNgramInput.of(self.k)

    def logits_fn(self, all_ids, win_words=None, batch=None):
        batch = batch or self.batch
        order = sorted(range(len(all_ids)), key=lambda i: len(all_ids[i]))
        outs = [None] * len(all_ids)
        for b in range(0, len(order), batch):
            idx = order[b : b + batch]
            T = max(len(all_ids[i]) for i in idx)
            ids = np.full((len(idx), T), PAD, dtype=np.int64)
            mask = np.zeros((len(idx), T), dtype=np.int64)
            for r, i in enumerate(idx):
                ids[r, : len(all_ids[i])] = all_ids[i]
                mask[r, : len(all_ids[i])] = 1
            rows = [win_words[i] for i in idx] if win_words is not None else None
            lg = self.sess.run(["logits"], session_feed(self.chars, ids, mask, rows))[0]
            for r, i in enumerate(idx):
                outs[i] = lg[r, : len(all_ids[i])][:, None, :]
        return outs

    def sentence_vectors(self, text, spans):
        """Twin of ArticleReading::sentence_vectors (src/tasks/entities.rs):
        per (start, end) code-point span of `text`, the L2-normalized sum of
        the head vectors of the pieces of the words that start inside it,
        each word read from its owner window; zeros for a span without
        words."""
        def head(ids, words):
            feed = session_feed(self.chars, np.array([ids], np.int64), np.ones((1, len(ids)), np.int64), [words])
            return self.sess.run([self.head["output"]], feed)[0][0]
        sums, _ = span_piece_sums(text, spans, self.tok, head, int(self.head["dim"]),
                                  self.max_tokens, self.max_pieces)
        norms = np.linalg.norm(sums, axis=1, keepdims=True)
        return (sums / np.where(norms > 0, norms, 1)).astype(np.float32)

    def predict(self, texts):
        """texts -> list of [ {label,start,end,score,text} ]"""
        words = [text_words(t) for t in texts]
        wl = word_logits_many(self.tok, [w[1] for w in words], self.logits_fn, [self.pooling],
                              self.max_tokens, self.max_pieces, with_words=self.chars is not None,
                              segment_starts=[sentence_starts(t, w[0]) for t, w in zip(texts, words)])
        out = []
        for t, (spans, norm), per_head in zip(texts, words, wl):
            ents = []
            found = decode(per_head[0], self.k, self.labels)
            for typ, i, j, sc in with_repeats(found, norm, self.labels):
                s, e = spans[i][0], spans[j - 1][1]
                ents.append({"label": typ, "start": s, "end": e, "score": sc, "text": t[s:e]})
            out.append(ents)
        return out


def batch_independent_predict(model_dir, texts, threads=2):
    """(label, start, end) entities of `texts` run one window per call, and
    how many texts get other entities or scores (to the bit) with eight
    windows per call: the service batches windows of different articles
    together, so a window's numbers must not depend on its neighbours."""
    scored = {}
    for batch in (1, 8):
        ner = NerOnnx(model_dir, batch=batch, threads=threads)
        scored[batch] = [{(e["label"], e["start"], e["end"], e["score"]) for e in ents}
                         for ents in ner.predict(texts)]
    differing = sum(p1 != p8 for p1, p8 in zip(scored[1], scored[8]))
    return [{t[:3] for t in ents} for ents in scored[1]], differing


def prf(gold, pred, labels=("PER", "LOC", "ORG", "MISC")):
    """gold/pred: lists (per sentence) of sets of (label, start, end)."""
    res = {}
    tp_all = fp_all = fn_all = 0
    for lab in labels:
        tp = fp = fn = 0
        for g, p in zip(gold, pred):
            gs = {x for x in g if x[0] == lab}
            ps = {x for x in p if x[0] == lab}
            tp += len(gs & ps)
            fp += len(ps - gs)
            fn += len(gs - ps)
        res[lab] = _prf(tp, fp, fn)
        tp_all, fp_all, fn_all = tp_all + tp, fp_all + fp, fn_all + fn
    res["micro"] = _prf(tp_all, fp_all, fn_all)
    return res


def _prf(tp, fp, fn):
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    f = 2 * p * r / (p + r) if p + r else 0.0
    return {"precision": round(100 * p, 2), "recall": round(100 * r, 2), "f1": round(100 * f, 2),
            "support": tp + fn}
