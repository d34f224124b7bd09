"""Step 3: train the sentence scorer on greedy-oracle labels (BCE), plus an
auxiliary BCE on soft labels (each sentence's ROUGE-1 F1 vs the headline,
divided by the article's best), select the epoch on dev.

    python models/summarizer/train.py --epochs 12 [--max-train N]
"""
import argparse
import json
import random
import sys
import time

import numpy as np
import torch

from common import FEATURES, WORK, rouge_all, tokens
from data import load
from model import Scorer

MAX_TRAIN_SENT = 128  # training sees at most the first 128 sentences of an article


def batches(items, bs, rng, soft_raw_target=False, raw=None):
    items = items[:]
    rng.shuffle(items)
    for s in range(0, len(items), bs):
        part = items[s:s + bs]
        n = max(min(len(it["sents"]), MAX_TRAIN_SENT) for it in part)
        B = len(part)
        emb = torch.zeros(B, n, 384)
        feat = torch.zeros(B, n, len(FEATURES))
        hard = torch.zeros(B, n)
        soft = torch.zeros(B, n)
        mask = torch.zeros(B, n, dtype=torch.bool)
        rawr = torch.zeros(B, n)
        for b, it in enumerate(part):
            m = min(len(it["sents"]), MAX_TRAIN_SENT)
            emb[b, :m] = torch.from_numpy(it["emb"][:m])
            feat[b, :m] = torch.from_numpy(it["feat"][:m])
            for j in it["oracle"]:
                if j < m:
                    hard[b, j] = 1
            s_ = it["soft"][:m]
            soft[b, :m] = torch.from_numpy(s_ if soft_raw_target else s_ / max(float(s_.max()), 1e-6))
            mask[b, :m] = True
            rawr[b, :m] = torch.from_numpy(it["soft"][:m])
        if raw is not None:  # the raw ROUGE-1 targets of this batch, for the k=1 losses
            raw[:] = [rawr]
        yield emb, feat, hard, soft, mask


def soft_raw(soft, mask):
    """The per-article-normalized soft labels (in [0, 1]); 0 where masked."""
    return soft * mask


@torch.no_grad()
def predict(model, it):
    model.eval()
    return model(torch.from_numpy(it["emb"])[None], torch.from_numpy(it["feat"])[None])[0].numpy()


def dev_score(model, dev):
    tot = np.zeros(6)
    for it in dev:
        sc = predict(model, it)
        order = list(np.argsort(-sc, kind="stable"))
        ref = it["_tt"]
        for k, off in ((1, 0), (3, 3)):
            pick = sorted(order[:k])
            cand = [t for j in pick for t in it["_st"][j]]
            tot[off:off + 3] += rouge_all(cand, ref)
    return tot / len(dev)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--epochs", type=int, default=12)
    ap.add_argument("--max-train", type=int, default=None)
    ap.add_argument("--soft-weight", type=float, default=0.5)
    ap.add_argument("--hard-weight", type=float, default=1.0)
    ap.add_argument("--soft-raw", action="store_true",
                    help="soft target = raw ROUGE-1 F1 vs the headline (its BCE optimum is the "
                         "expected ROUGE-1 of the sentence) instead of divided by the article's best")
    ap.add_argument("--listwise-weight", type=float, default=0.0,
                    help="weight of a listwise softmax cross-entropy over each article's "
                         "sentences towards softmax(soft / tau)")
    ap.add_argument("--tau", type=float, default=0.1)
    ap.add_argument("--expected-weight", type=float, default=0.0,
                    help="weight of a k=1 loss: minus the expected raw ROUGE-1 F1 of a "
                         "sentence drawn from softmax(logits / expected-temp) (a policy-gradient "
                         "view of picking one sentence)")
    ap.add_argument("--expected-temp", type=float, default=1.0)
    ap.add_argument("--mse-weight", type=float, default=0.0,
                    help="weight of a per-sentence regression (MSE) of the raw ROUGE-1 F1 "
                         "against the headline on the logits")
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--bs", type=int, default=32)
    ap.add_argument("--seed", type=int, default=13)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", default=str(WORK / "model.pt"))
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    rng = random.Random(args.seed)
    data = load()
    train, dev = data["train"], data["dev"]
    if args.max_train:
        train = train[:args.max_train]
    for it in dev:
        it["_st"] = [tokens(s) for s in it["sents"]]
        it["_tt"] = tokens(it["title"])
    print(f"train {len(train)} articles ({sum(len(i['sents']) for i in train)} sentences), "
          f"dev {len(dev)}", file=sys.stderr)
    model = Scorer(len(FEATURES))
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=0.01)
    steps = args.epochs * ((len(train) + args.bs - 1) // args.bs)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=args.lr, total_steps=steps,
                                                pct_start=0.1)
    bce = torch.nn.BCEWithLogitsLoss(reduction="none")
    best, best_ep, t0, hist = -1, -1, time.time(), []
    for ep in range(1, args.epochs + 1):
        model.train()
        tl = 0.0
        raws = []
        for emb, feat, hard, soft, mask in batches(train, args.bs, rng, args.soft_raw, raws):
            logits = model(emb, feat, mask)
            m = mask.float()
            loss = ((args.hard_weight * bce(logits, hard) + args.soft_weight * bce(logits, soft)) * m).sum() / m.sum()
            if args.listwise_weight > 0:
                neg = torch.finfo(logits.dtype).min / 2
                raw = soft_raw(soft, mask)
                target = torch.softmax((raw / args.tau).masked_fill(~mask, neg), -1)
                logp = torch.log_softmax(logits.masked_fill(~mask, neg), -1)
                has = (raw.max(-1).values > 0).float()
                lw = -(target * logp.masked_fill(~mask, 0)).sum(-1)
                loss = loss + args.listwise_weight * (lw * has).sum() / has.sum().clamp(min=1)
            if args.expected_weight > 0 or args.mse_weight > 0:
                rr = raws[-1]
                neg = torch.finfo(logits.dtype).min / 2
                if args.expected_weight > 0:
                    pol = torch.softmax((logits / args.expected_temp).masked_fill(~mask, neg), -1)
                    loss = loss - args.expected_weight * (pol * rr).sum(-1).mean()
                if args.mse_weight > 0:
                    loss = loss + args.mse_weight * (((logits - rr) ** 2) * m).sum() / m.sum()
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            sched.step()
            tl += loss.item()
        d = dev_score(model, dev)
        sel = d[0] + d[2] + d[3] + d[5]  # R-1 + R-L at k=1 and k=3
        hist.append({"epoch": ep, "loss": round(tl, 3), "dev": [round(x, 4) for x in d]})
        print(f"ep {ep} loss {tl:.2f} dev k1 R1/R2/RL {d[0]:.4f}/{d[1]:.4f}/{d[2]:.4f} "
              f"k3 {d[3]:.4f}/{d[4]:.4f}/{d[5]:.4f} {time.time() - t0:.0f}s",
              file=sys.stderr, flush=True)
        if sel > best:
            best, best_ep = sel, ep
            torch.save({"state": model.state_dict(), "features": FEATURES, "epoch": ep,
                        "train_articles": len(train), "args": vars(args)}, args.out)
    meta = {"train_articles": len(train),
            "train_sentences": sum(len(i["sents"]) for i in train),
            "epochs": args.epochs, "best_epoch": best_ep,
            "train_seconds": round(time.time() - t0), "history": hist, "args": vars(args)}
    json.dump(meta, open(args.out + ".json", "w"), indent=1)
    print(f"best epoch {best_ep}; saved {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
