"""The sentence scorer: a 2-layer pre-LN transformer encoder over the
sentences of one article (d=128, 4 heads, FFN 256) on
Linear(384->128)(embedding) + Linear(F->128)(features), then a linear head.
Written with plain ops so that the ONNX export has a dynamic sentence axis."""
import math

import torch
from torch import nn


class Layer(nn.Module):
    def __init__(self, d, heads, ff, dropout):
        super().__init__()
        self.h = heads
        self.ln1 = nn.LayerNorm(d)
        self.qkv = nn.Linear(d, 3 * d)
        self.out = nn.Linear(d, d)
        self.ln2 = nn.LayerNorm(d)
        self.ff = nn.Sequential(nn.Linear(d, ff), nn.GELU(), nn.Dropout(dropout), nn.Linear(ff, d))
        self.drop = nn.Dropout(dropout)

    def forward(self, x, bias):
        # x [B, n, d]; bias [B, 1, 1, n] additive mask (0 or -1e4)
        B, n, d = x.shape
        q, k, v = self.qkv(self.ln1(x)).reshape(B, n, 3, self.h, d // self.h).permute(2, 0, 3, 1, 4)
        att = torch.matmul(q, k.transpose(-1, -2)) / math.sqrt(d // self.h) + bias
        y = torch.matmul(att.softmax(-1), v).transpose(1, 2).reshape(B, n, d)
        x = x + self.drop(self.out(y))
        return x + self.drop(self.ff(self.ln2(x)))


class Scorer(nn.Module):
    def __init__(self, n_feat, emb_dim=384, d=128, heads=4, ff=256, layers=2, dropout=0.1):
        super().__init__()
        self.emb = nn.Linear(emb_dim, d)
        self.feat = nn.Linear(n_feat, d)
        self.drop = nn.Dropout(dropout)
        self.layers = nn.ModuleList([Layer(d, heads, ff, dropout) for _ in range(layers)])
        self.ln = nn.LayerNorm(d)
        self.head = nn.Linear(d, 1)

    def forward(self, emb, feat, mask=None):
        """Logits [B, n]; mask [B, n] bool, True = real sentence."""
        x = self.drop(self.emb(emb) + self.feat(feat))
        if mask is None:
            bias = torch.zeros(1, 1, 1, 1, dtype=x.dtype)
        else:
            bias = (~mask).to(x.dtype)[:, None, None, :] * -1e4
        for layer in self.layers:
            x = layer(x, bias)
        return self.head(self.ln(x)).squeeze(-1)


class Exported(nn.Module):
    """ONNX interface: embeddings [1, n, 384], features [1, n, F] ->
    scores [1, n] = sigmoid(logits), in (0, 1)."""

    def __init__(self, scorer):
        super().__init__()
        self.scorer = scorer

    def forward(self, embeddings, features):
        return torch.sigmoid(self.scorer(embeddings, features))
