"""Fine-tune multilingual-e5-small (pruned vocab) for Arabic NER on ANERcorp.

One encoder, three linear word-labelling heads trained jointly (sum of the
word-level cross-entropies): first piece, last piece, mean of the word's
piece hidden states. After each epoch every head is evaluated on DEV with the
service pipeline (infer.py: windows, pooling, IOB2 Viterbi, char spans) and
the checkpoint with the best DEV micro F1 (best head) is kept.

usage: train.py ANERCORP_TRAIN E5_BIN VOCAB_DIR OUT_DIR [--epochs N] ...
       [--split random|docs|none] [--extra PATH[:TYPE=NEW,...]]... [--resume]

--split docs holds out the contiguous last 10% of ANERcorp train (data.
split_dev_docs) and also reports DEV F1 on entities unseen in TRAIN.
--split none trains on all of it, with no DEV: every epoch is saved as
best.pt, so the run keeps its last epoch (give it the epoch count the run
that chose the recipe kept).
--extra adds another CoNLL file to the training data (all of it; never to DEV),
with an optional entity-type map, e.g. `aqmar/train.txt:MISC=O`.
--augment-mentions, --augment-clitics and --mask-entities rebuild the training
windows each epoch from augmented sentences (augment.py); --freeze-embeddings keeps e5's
piece embeddings as pretrained.
--crf trains a linear-chain CRF with the encoder (loss: the CRF's negative
log-likelihood instead of per-word cross-entropy); DEV is decoded with its
transition scores, and OUT/transitions.json (the best epoch's) is what
export.py writes into config.json.
--char-ngrams and --char-input add character evidence from the words' hashed
2-4-grams (chars.py): a label score per n-gram added to the word's logits, or
the word's n-gram vector added to each of its pieces' input embeddings
(--char-pieces: each piece's own n-grams); both learn at --char-lr.
The run saves OUT_DIR/last.pt (weights, optimizer, position) every
--save-every steps and after each epoch; `--resume` continues from it.
"""
from __future__ import annotations

import argparse
import functools
import json
import math
import os
import random
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F
from tokenizers import Tokenizer

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from chars import piece_ngrams, word_ngrams  # noqa: E402
from augment import add_proclitics, mask_entities, mention_pool, replace_mentions  # noqa: E402
from data import LABEL2ID, LABELS, entity_surfaces, gold_entities, model_words, read_conll, split  # noqa: E402
from evaluate import seen_unseen, summary  # noqa: E402
from infer import (allowed_matrix, decode, make_windows, prf, text_words, window_inputs,  # noqa: E402
                   word_logits_many, word_pieces, BOS, EOS, PAD)
from model import E5Ner, load_pretrained  # noqa: E402


def build_examples(sents, tok, max_tokens, max_pieces=32, masker=None):
    ex = []
    for sent in sents:
        words, tags, _ = model_words(sent)
        if not words:
            continue
        pieces = word_pieces(tok, words, max_pieces)
        if masker:
            pieces = masker(pieces, tags)
        wins = make_windows([len(p) for p in pieces], max_tokens)
        for (s, e), (ids, pos) in zip(wins, window_inputs(pieces, wins)):
            ex.append((ids, pos, [LABEL2ID[t] for t in tags[s:e]], words[s:e]))
    return ex


def build_packed(sents, tok, max_tokens, max_pieces=32, masker=None):
    """Consecutive training sentences (corpus order) packed into windows of up
    to max_tokens-2 pieces, so the model also sees multi-sentence windows that
    start anywhere, as in whole articles."""
    ex, cur_ids, cur_pos, cur_lab, cur_words = [], [], [], [], []
    B = max_tokens - 2

    def flush():
        if cur_pos:
            ex.append(([0] + cur_ids + [2], [[p + 1 for p in q] for q in cur_pos], list(cur_lab), list(cur_words)))

    for sent in sents:
        words, tags, _ = model_words(sent)
        if not words:
            continue
        pieces = word_pieces(tok, words, max_pieces)
        if masker:
            pieces = masker(pieces, tags)
        n = sum(len(p) for p in pieces)
        if n > B:
            flush(); cur_ids, cur_pos, cur_lab, cur_words = [], [], [], []
            wins = make_windows([len(p) for p in pieces], max_tokens)
            for (s, e), (ids, pos) in zip(wins, window_inputs(pieces, wins)):
                ex.append((ids, pos, [LABEL2ID[t] for t in tags[s:e]], words[s:e]))
            continue
        if len(cur_ids) + n > B:
            flush(); cur_ids, cur_pos, cur_lab, cur_words = [], [], [], []
        for p, t, w in zip(pieces, tags, words):
            cur_pos.append(list(range(len(cur_ids), len(cur_ids) + len(p))))
            cur_ids.extend(p)
            cur_lab.append(LABEL2ID[t])
            cur_words.append(w)
    flush()
    return ex


def batches(ex, bsz, rng, chunk=50):
    idx = list(range(len(ex)))
    rng.shuffle(idx)
    out = []
    for c in range(0, len(idx), bsz * chunk):
        part = sorted(idx[c : c + bsz * chunk], key=lambda i: len(ex[i][0]))
        out.extend(part[b : b + bsz] for b in range(0, len(part), bsz))
    rng.shuffle(out)
    return out


def collate(ex, idx):
    B = len(idx)
    T = max(len(ex[i][0]) for i in idx)
    W = max(len(ex[i][1]) for i in idx)
    ids = torch.full((B, T), PAD, dtype=torch.long)
    mask = torch.zeros((B, T), dtype=torch.long)
    first = torch.zeros((B, W), dtype=torch.long)
    last = torch.zeros((B, W), dtype=torch.long)
    meanm = torch.zeros((B, W, T))
    lab = torch.full((B, W), -100, dtype=torch.long)
    for r, i in enumerate(idx):
        t, pos, y = ex[i][:3]
        ids[r, : len(t)] = torch.tensor(t)
        mask[r, : len(t)] = 1
        for w, p in enumerate(pos):
            first[r, w] = p[0]
            last[r, w] = p[-1]
            meanm[r, w, p[0] : p[-1] + 1] = 1.0 / len(p)
        lab[r, : len(y)] = torch.tensor(y)
    return ids, mask, first, last, meanm, lab


@functools.lru_cache(maxsize=None)
def cached_ngrams(word, buckets):
    return tuple(word_ngrams(word, buckets))


@functools.lru_cache(maxsize=None)
def piece_ngram_table(tok, buckets):
    """Per piece id, its own n-gram buckets (none for the special pieces)."""
    specials = {BOS, EOS, PAD}
    return [() if i in specials else tuple(piece_ngrams(tok.id_to_token(i) or "", buckets))
            for i in range(tok.get_vocab_size())]


def piece_char_bags(ids, tok, buckets):
    """E5Ner.encode's char_bags when the n-grams are each piece's own
    (train.py --char-pieces): a function of the piece id alone, so an export
    could fold them into the piece embeddings."""
    table = piece_ngram_table(tok, buckets)
    flat, offsets = [], []
    for i in ids.reshape(-1).tolist():
        offsets.append(len(flat))
        flat.extend(table[i])
    return torch.tensor(flat, dtype=torch.long), torch.tensor(offsets, dtype=torch.long)


def token_char_bags(rows, T, buckets):
    """E5Ner.encode's char_bags for a batch: rows = per window, (token
    positions, normalized word) of its words; T tokens per row."""
    flat, offsets = [], []
    for words in rows:
        per_token = [()] * T
        for positions, w in words:
            ng = cached_ngrams(w, buckets)
            for p in positions:
                per_token[p] = ng
        for ng in per_token:
            offsets.append(len(flat))
            flat.extend(ng)
    return torch.tensor(flat, dtype=torch.long), torch.tensor(offsets, dtype=torch.long)


def char_bags(model, tok, ids, rows):
    """E5Ner.encode's char_bags for a padded batch `ids` (None for a model
    without chars); rows = per window, (token positions, normalized word) of
    its words, read only when the n-grams are the words'."""
    if model.chars is None:
        return None
    if model.char_source == "piece":
        return piece_char_bags(ids, tok, model.chars.num_embeddings)
    return token_char_bags(rows, ids.shape[1], model.chars.num_embeddings)


def word_hidden(h, first, last, meanm, pooling):
    H = h.shape[-1]
    if pooling == "first":
        return torch.gather(h, 1, first[:, :, None].expand(-1, -1, H))
    if pooling == "last":
        return torch.gather(h, 1, last[:, :, None].expand(-1, -1, H))
    return torch.bmm(meanm, h)


class CRF(torch.nn.Module):
    """A linear-chain CRF over word labels: learned transition and start
    scores, trained with the encoder (negative log-likelihood of the gold
    path). IOB2-invalid moves are masked, as in infer.viterbi, so training
    and decoding agree; exported as config.json's `transitions`."""

    def __init__(self, labels=LABELS):
        super().__init__()
        n = len(labels)
        allow, start = allowed_matrix(labels)
        self.trans = torch.nn.Parameter(torch.zeros(n, n))
        self.start = torch.nn.Parameter(torch.zeros(n))
        self.register_buffer("trans_mask", torch.tensor(np.where(allow, 0.0, -1e4), dtype=torch.float32))
        self.register_buffer("start_mask", torch.tensor(np.where(start, 0.0, -1e4), dtype=torch.float32))
        # b_of[j] = the B- of I- label j (j itself otherwise), for repair()
        self.register_buffer("b_of", torch.tensor(
            [labels.index("B-" + lab[2:]) if lab.startswith("I-") else j for j, lab in enumerate(labels)]))

    def repair(self, y, m):
        """Gold labels as valid IOB2: an I-X not after B-X / I-X becomes B-X."""
        allow = self.trans_mask == 0
        out = y.clone()
        out[:, 0] = torch.where(self.start_mask[y[:, 0]] == 0, y[:, 0], self.b_of[y[:, 0]])
        for t in range(1, y.shape[1]):
            ok = allow[out[:, t - 1], y[:, t]] | ~m[:, t]
            out[:, t] = torch.where(ok, y[:, t], self.b_of[y[:, t]])
        return out

    def nll(self, em, lab):
        """Mean over words of the sequences' negative log-likelihood; em
        [B, W, L] emission scores, lab [B, W] gold ids with -100 padding
        after each sequence's words."""
        m = lab != -100
        y = self.repair(lab.clamp(min=0), m)
        T = self.trans + self.trans_mask
        S = self.start + self.start_mask
        e_gold = em.gather(2, y[..., None]).squeeze(2)
        gold = S[y[:, 0]] + e_gold[:, 0] + ((e_gold[:, 1:] + T[y[:, :-1], y[:, 1:]]) * m[:, 1:]).sum(1)
        alpha = S[None] + em[:, 0]
        for t in range(1, em.shape[1]):
            nxt = torch.logsumexp(alpha[:, :, None] + T[None], dim=1) + em[:, t]
            alpha = torch.where(m[:, t, None], nxt, alpha)
        return (torch.logsumexp(alpha, dim=1) - gold).sum() / m.sum()

    def config(self):
        """The learned scores for config.json (`transitions`, `start_transitions`)."""
        return {"transitions": self.trans.detach().tolist(), "start_transitions": self.start.detach().tolist()}


class CharEmission(torch.nn.Module):
    """Per-word label scores from the word's hashed character n-grams
    (chars.word_ngrams): the mean of a learned [buckets, labels] table's rows,
    added to the word's emission logits. Starts at zero, so a run that adds it
    to an --init model starts from that model's decoding."""

    def __init__(self, buckets, n_labels=len(LABELS)):
        super().__init__()
        self.buckets = buckets
        self.bag = torch.nn.EmbeddingBag(buckets, n_labels, mode="mean")
        torch.nn.init.zeros_(self.bag.weight)

    def forward(self, words_rows, W):
        """[B, W, labels] scores for rows of words (padded rows score 0)."""
        flat, offsets = [], []
        for words in words_rows:
            for w in range(W):
                offsets.append(len(flat))
                if w < len(words):
                    flat.extend(cached_ngrams(words[w], self.buckets))
        out = self.bag(torch.tensor(flat, dtype=torch.long), torch.tensor(offsets, dtype=torch.long))
        return out.view(len(words_rows), W, -1)

    def word_scores(self, words):
        """[len(words), labels] numpy scores for one text's normalized words."""
        with torch.no_grad():
            return self.forward([words], len(words))[0].numpy()


def evaluate_dev(model, tok, dev, max_tokens, heads, batch=16, seen_surfaces=None, crf=None, chars=None):
    """DEV sentences scored one per text, per head (evaluate_texts)."""
    texts, golds = [], []
    for sent in dev:
        text, g = gold_entities(sent)
        texts.append(text)
        golds.append(set(g))
    return evaluate_texts(model, tok, texts, golds, max_tokens, heads, batch, seen_surfaces, crf, chars)


@torch.no_grad()
def evaluate_texts(model, tok, texts, golds, max_tokens, heads, batch=16, seen_surfaces=None, crf=None,
                   chars=None):
    """P/R/F1 per head of the model's entities in `texts` (the service's windows,
    pooling and IOB2 Viterbi, with the CRF's transitions and the CharEmission's
    scores when given) against
    `golds` (per text, a set of (label, start, end)); with seen_surfaces, also
    the seen/unseen parts."""
    was_training = model.training
    model.eval()

    def logits_fn(all_ids, win_words=None):
        order = sorted(range(len(all_ids)), key=lambda i: len(all_ids[i]))
        outs = [None] * len(all_ids)
        for b in range(0, len(order), batch):
            idx = order[b : b + batch]
            T = max(len(all_ids[i]) for i in idx)
            ids = torch.full((len(idx), T), PAD, dtype=torch.long)
            mask = torch.zeros((len(idx), T), dtype=torch.long)
            for r, i in enumerate(idx):
                ids[r, : len(all_ids[i])] = torch.tensor(all_ids[i])
                mask[r, : len(all_ids[i])] = 1
            rows = [win_words[i] for i in idx] if win_words is not None else None
            h = model.encode(ids, mask, char_bags(model, tok, ids, rows))
            lg = torch.stack([model.heads[hd](h) for hd in heads], dim=2).numpy()
            for r, i in enumerate(idx):
                outs[i] = lg[r, : len(all_ids[i])]
        return outs

    words = [text_words(t) for t in texts]
    wl = word_logits_many(tok, [norm for _, norm in words], logits_fn, heads, max_tokens,
                          with_words=model.chars is not None and model.char_source == "word")
    res, cfg = {}, crf.config() if crf else None
    for h, hd in enumerate(heads):
        preds = []
        for (spans, norm), per_head in zip(words, wl):
            em = per_head[h] + chars.word_scores(norm) if chars is not None and norm else per_head[h]
            preds.append({(typ, spans[i][0], spans[j - 1][1])
                          for typ, i, j, _ in decode(em, cfg)})
        res[hd] = prf(golds, preds)
        if seen_surfaces is not None:
            res[hd]["_seen_unseen"] = seen_unseen(seen_surfaces, texts, golds, preds)
    model.train(was_training)
    return res


def parse_extra(spec):
    """PATH or PATH:TYPE=NEW[,TYPE=NEW...] -> (path, {TYPE: NEW})."""
    if ":" in spec and "=" in spec.rsplit(":", 1)[1]:
        path, m = spec.rsplit(":", 1)
        return path, dict(kv.split("=", 1) for kv in m.split(",") if kv)
    return spec, {}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("anercorp")
    ap.add_argument("e5_bin")
    ap.add_argument("vocab_dir")
    ap.add_argument("out")
    ap.add_argument("--epochs", type=int, default=4)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--lr", type=float, default=5e-5)
    ap.add_argument("--head-lr", type=float, default=5e-4)
    ap.add_argument("--warmup", type=float, default=0.1)
    ap.add_argument("--max-tokens", type=int, default=256)
    ap.add_argument("--heads", default="first,last,mean")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--bench", type=int, default=0, help="only time N steps")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--init", help="continue from this checkpoint (best.pt)")
    ap.add_argument("--pack", action="store_true", help="train on packed multi-sentence windows")
    ap.add_argument("--max-steps", type=int, default=0, help="stop (and evaluate) after N steps")
    ap.add_argument("--loss-heads", default="", help="heads that get a loss (default: all)")
    ap.add_argument("--split", choices=("random", "docs", "none"), default="random",
                    help="DEV split (data.split); none: all of ANERcorp trains, no DEV")
    ap.add_argument("--extra", action="append", default=[], metavar="PATH[:TYPE=NEW,...]",
                    help="more CoNLL training data (repeatable), with an optional entity-type map")
    ap.add_argument("--resume", action="store_true", help="continue from OUT/last.pt if it exists")
    ap.add_argument("--save-every", type=int, default=100, help="steps between last.pt saves")
    ap.add_argument("--augment-mentions", type=float, default=0.0, metavar="P",
                    help="each epoch, replace a training sentence by a mention-replaced copy with probability P")
    ap.add_argument("--mention-pool", action="append", default=[], metavar="PATH[:TYPE=NEW,...]",
                    help="CoNLL files whose mentions feed --augment-mentions (besides the training sentences)")
    ap.add_argument("--augment-clitics", type=float, default=0.0, metavar="P",
                    help="each epoch, give each entity's first word a proclitic (و ب ل ف ك) with probability P")
    ap.add_argument("--mask-entities", type=float, default=0.0, metavar="P",
                    help="each epoch, replace each entity's words by unknown pieces with probability P")
    ap.add_argument("--freeze-embeddings", action="store_true",
                    help="keep e5's word-piece embeddings as pretrained (the encoder layers still train)")
    ap.add_argument("--crf", action="store_true",
                    help="train a CRF (transitions) with the encoder on the loss heads' emissions; "
                         "OUT/transitions.json is the best epoch's, for export.py")
    ap.add_argument("--crf-lr", type=float, default=1e-2, help="learning rate of the CRF's transition scores")
    ap.add_argument("--char-ngrams", type=int, default=0, metavar="BUCKETS",
                    help="add a CharEmission over the words' hashed character 2-4-grams (BUCKETS buckets)")
    ap.add_argument("--char-lr", type=float, default=5e-3, help="learning rate of the char tables")
    ap.add_argument("--char-input", type=int, default=0, metavar="BUCKETS",
                    help="add each piece's word's hashed character 2-4-grams to its input embedding (E5Ner.chars)")
    ap.add_argument("--char-pieces", action="store_true",
                    help="with --char-input: each piece's own n-grams instead of its word's")
    a = ap.parse_args()
    if a.char_pieces and not a.char_input:
        ap.error("--char-pieces needs --char-input")
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    rng = random.Random(a.seed)
    heads = a.heads.split(",")
    os.makedirs(a.out, exist_ok=True)
    t_start = time.time()

    tok = Tokenizer.from_file(os.path.join(a.vocab_dir, "tokenizer.json"))
    vocab_rows = np.load(os.path.join(a.vocab_dir, "rows.npy"))
    sents = read_conll(a.anercorp)
    train, dev = split(sents, a.split)
    seen = entity_surfaces(train) if a.split == "docs" else None
    n_aner = len(train)
    for spec in a.extra:
        path, lmap = parse_extra(spec)
        more = read_conll(path, lmap)
        print(f"extra {path} map {lmap}: {len(more)} sents", flush=True)
        train = train + more
    def build(sents_, masker=None):
        return (build_packed if a.pack else build_examples)(sents_, tok, a.max_tokens, masker=masker)

    pool = None
    if a.augment_mentions:
        pool_sents = list(train)
        for spec in a.mention_pool:
            path, lmap = parse_extra(spec)
            pool_sents += read_conll(path, lmap)
        pool = mention_pool(pool_sents)
        print("mention pool: " + ", ".join(f"{k} {len(v)}" for k, v in sorted(pool.items())), flush=True)

    def augmented(s, arng):
        if pool and arng.random() < a.augment_mentions:
            s = replace_mentions(s, pool, arng)
        if a.augment_clitics:
            s = add_proclitics(s, arng, a.augment_clitics)
        return s

    def epoch_examples(ep):
        if not pool and not a.augment_clitics and not a.mask_entities:
            return ex
        arng = random.Random(a.seed * 1000 + ep)  # per epoch, so a resumed run rebuilds the same data
        masker = None
        if a.mask_entities:
            unk = tok.token_to_id("<unk>")
            masker = lambda pieces, tags: mask_entities(pieces, tags, arng, a.mask_entities, unk)  # noqa: E731
        return build([augmented(s, arng) for s in train], masker)

    ex = build(train)
    n_pieces = sum(len(e[0]) for e in ex)
    print(f"split {a.split}: train sents {len(train)} ({n_aner} ANERcorp) -> {len(ex)} windows, {n_pieces} pieces; "
          f"dev sents {len(dev)}", flush=True)

    model = E5Ner(len(vocab_rows), heads=heads, char_buckets=a.char_input,
                  char_source="piece" if a.char_pieces else "word")
    load_pretrained(model, a.e5_bin, vocab_rows)
    crf = CRF() if a.crf else None
    chars = CharEmission(a.char_ngrams) if a.char_ngrams else None
    if a.init:
        init = torch.load(a.init, map_location="cpu", weights_only=False)
        missing, unexpected = model.load_state_dict(init["state"], strict=False)
        if unexpected or [k for k in missing if not (a.char_input and k == "chars.weight")]:
            raise SystemExit(f"--init {a.init}: missing {missing}, unexpected {unexpected}")
        if crf is not None and init.get("crf"):
            crf.load_state_dict(init["crf"])
        if chars is not None and init.get("chars"):
            chars.load_state_dict(init["chars"])
    loss_heads = a.loss_heads.split(",") if a.loss_heads else heads
    model.train()
    if a.freeze_embeddings:
        model.word.weight.requires_grad_(False)
    char_params = [p for n, p in model.named_parameters() if n.startswith("chars.")]
    head_params = [p for n, p in model.named_parameters() if n.startswith("heads.")]
    nodecay = [p for n, p in model.named_parameters()
               if not n.startswith(("heads.", "chars.")) and (p.ndim == 1 or "ln" in n.split(".")[-2:][0])]
    decay = [p for n, p in model.named_parameters()
             if not n.startswith(("heads.", "chars.")) and p.requires_grad and not any(p is q for q in nodecay)]
    opt = torch.optim.AdamW([
        {"params": decay, "lr": a.lr, "weight_decay": 0.01},
        {"params": nodecay, "lr": a.lr, "weight_decay": 0.0},
        {"params": head_params, "lr": a.head_lr, "weight_decay": 0.0},
    ] + ([{"params": list(crf.parameters()), "lr": a.crf_lr, "weight_decay": 0.0}] if crf else [])
      + ([{"params": list(chars.parameters()), "lr": a.char_lr, "weight_decay": 0.0}] if chars else [])
      + ([{"params": char_params, "lr": a.char_lr, "weight_decay": 0.0}] if char_params else []))
    base_lrs = [g["lr"] for g in opt.param_groups]
    steps_per_epoch = math.ceil(len(ex) / a.batch)
    total = steps_per_epoch * a.epochs
    if a.max_steps:
        total = min(total, a.max_steps)
    warm = max(1, int(a.warmup * total))

    def set_lr(step):
        f = step / warm if step < warm else max(0.0, (total - step) / max(1, total - warm))
        for g, b in zip(opt.param_groups, base_lrs):
            g["lr"] = b * f

    history, best, step = [], -1.0, 0
    t_train = 0.0
    next_ep, next_bi, tot_loss, nb = 1, 0, 0.0, 0
    last_path = os.path.join(a.out, "last.pt")
    if a.resume and os.path.exists(last_path):
        ck = torch.load(last_path, map_location="cpu", weights_only=False)
        model.load_state_dict(ck["state"])
        if crf is not None:
            crf.load_state_dict(ck["crf"])
        if chars is not None:
            chars.load_state_dict(ck["chars"])
        opt.load_state_dict(ck["opt"])
        torch.set_rng_state(ck["torch_rng"])
        step, history, best, t_train = ck["step"], ck["history"], ck["best"], ck["t_train"]
        next_ep, next_bi, tot_loss, nb = ck["next_epoch"], ck["next_bi"], ck["tot_loss"], ck["nb"]
        print(f"resumed from {last_path}: epoch {next_ep} batch {next_bi} (step {step})", flush=True)

    def save_last(ep_next, bi_next, tl, n, t_tr):
        torch.save({"state": model.state_dict(), "crf": crf.state_dict() if crf else None,
                    "chars": chars.state_dict() if chars else None, "opt": opt.state_dict(), "torch_rng": torch.get_rng_state(),
                    "step": step, "history": history, "best": best, "t_train": t_tr,
                    "next_epoch": ep_next, "next_bi": bi_next, "tot_loss": tl, "nb": n, "args": vars(a)},
                   last_path + ".tmp")
        os.replace(last_path + ".tmp", last_path)

    for ep in range(1, a.epochs + 1):
        ex_ep = epoch_examples(ep)
        order = batches(ex_ep, a.batch, rng)  # always drawn, so a resumed run replays the same order
        if ep < next_ep:
            continue
        t0 = time.time()
        if ep > next_ep:
            tot_loss, nb = 0.0, 0
        for bi, idx in enumerate(order):
            if ep == next_ep and bi < next_bi:
                continue
            ids, mask, first, last, meanm, lab = collate(ex_ep, idx)
            set_lr(step)
            rows = [list(zip(ex_ep[i][1], ex_ep[i][3])) for i in idx] if model.chars is not None else None
            h = model.encode(ids, mask, char_bags(model, tok, ids, rows))
            loss = 0.0
            for hd in loss_heads:
                lg = model.heads[hd](word_hidden(h, first, last, meanm, hd))
                if chars is not None:
                    lg = lg + chars([ex_ep[i][3] for i in idx], lab.shape[1])
                if crf is not None:
                    loss = loss + crf.nll(lg, lab)
                else:
                    loss = loss + F.cross_entropy(lg.reshape(-1, lg.shape[-1]), lab.reshape(-1), ignore_index=-100)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            step += 1
            tot_loss += loss.item()
            nb += 1
            if bi % 20 == 0:
                el = time.time() - t0
                print(f"ep {ep} step {bi}/{steps_per_epoch} loss {tot_loss/nb:.4f} "
                      f"{el:.0f}s eta_epoch {el/(bi+1)*steps_per_epoch:.0f}s", flush=True)
            if a.save_every and step % a.save_every == 0 and not a.bench:
                save_last(ep, bi + 1, tot_loss, nb, t_train + time.time() - t0)
            if a.max_steps and step >= a.max_steps:
                break
            if a.bench and step >= a.bench:
                print(f"bench: {step} steps in {time.time()-t0:.1f}s", flush=True)
                return
        ep_time = time.time() - t0
        t_train += ep_time
        t1 = time.time()
        res = evaluate_dev(model, tok, dev, a.max_tokens, heads, seen_surfaces=seen, crf=crf, chars=chars) if dev else {}
        ev_time = time.time() - t1
        f1s = {hd: res[hd]["micro"]["f1"] for hd in heads if hd in res}
        history.append({"epoch": ep, "loss": tot_loss / nb, "train_s": round(ep_time, 1),
                        "eval_s": round(ev_time, 1), "dev": res})
        print(f"== epoch {ep} loss {tot_loss/nb:.4f} train {ep_time:.0f}s eval {ev_time:.0f}s dev F1 {f1s}", flush=True)
        for hd in res:
            print(f"   {hd}: {summary(res[hd], res[hd].get('_seen_unseen'))}", flush=True)
        # Without a DEV (--split none) each epoch outranks the one before: the last is kept.
        score = max(f1s.values()) if f1s else float(ep)
        if score > best:
            best = score
            torch.save({"state": model.state_dict(), "crf": crf.state_dict() if crf else None,
                        "chars": chars.state_dict() if chars else None, "char_buckets": a.char_ngrams,
                        "char_input": a.char_input, "char_pieces": a.char_pieces, "epoch": ep,
                        "dev": res, "heads": heads, "vocab": len(vocab_rows)}, os.path.join(a.out, "best.pt"))
            if crf is not None:
                json.dump(crf.config(), open(os.path.join(a.out, "transitions.json"), "w"))
            print(f"   saved best (epoch {ep}, {score})", flush=True)
        json.dump({"args": vars(a), "history": history, "train_seconds": round(t_train, 1),
                   "wall_seconds": round(time.time() - t_start, 1), "best_f1": best,
                   "train_windows": len(ex), "train_pieces": n_pieces, "split": a.split},
                  open(os.path.join(a.out, "history.json"), "w"), indent=1)
        save_last(ep + 1, 0, 0.0, 0, t_train)
        if a.max_steps and step >= a.max_steps:
            break
    print(f"done: train {t_train:.0f}s, wall {time.time()-t_start:.0f}s, best {best}", flush=True)


if __name__ == "__main__":
    main()
