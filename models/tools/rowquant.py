#!/usr/bin/env python3
"""Rewrite an ONNX model's weight MatMuls into int8 with per-row activation scales.

ONNX Runtime's dynamic quantization (DynamicQuantizeLinear) computes one scale
over the whole activation tensor, i.e. over every row of every item of a
batch: an item's result then depends on its batch neighbours and on padding,
so a service that batches cannot use it without giving different answers under
load. This tool quantizes each row (each token) on its own instead:

    s   = max(|x|, over the last axis) / 127          # one scale per token
    q   = QuantizeLinear(x, s, 128)                    # uint8 codes, one block per row
    y   = MatMulInteger(q, W_int8, 128) * s * w_scale  # exact int32 products

The integer products are exact, so a row's output depends only on that row:
batched and single-item runs give the same numbers, and int8 kernels (u8 x s8,
VNNI) do the matrix work. Weights are int8 per output channel, symmetric.

A MatMul is rewritten when its second input is a constant: an fp32
initializer (quantized here: scale = max |w| per column / 127), or a
DequantizeLinear of int8 weights with per-column scales and zero point 0
(used as they are). The quantization of an activation feeding several
MatMuls (Q, K and V) is computed once.

    python rowquant.py --in model_fp32.onnx --out model_int8.onnx [--keep NAME ...]
    python rowquant.py --fp32 --in model_int8.onnx --out model_fp32.onnx   # the fp32 reference
"""
from __future__ import annotations

import argparse
import collections
import os
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OPSET = 21  # QuantizeLinear with block_size: one scale per row, in one kernel
IR_VERSION = 10  # the lowest IR that carries opset 21


def _int8_weights(mm: onnx.NodeProto, inits: dict, prod: dict) -> tuple[np.ndarray, np.ndarray] | None:
    """The (int8 [K, N], fp32 scale [N]) weights of a MatMul, or None if its B is not a constant."""
    b = mm.input[1]
    if b in inits:
        w = numpy_helper.to_array(inits[b]).astype(np.float32)
        if w.ndim != 2:
            return None
        scale = np.maximum(np.abs(w).max(axis=0), 1e-12) / 127.0
        q = np.clip(np.round(w / scale[None, :]), -127, 127).astype(np.int8)
        return q, scale.astype(np.float32)
    dq = prod.get(b)
    if dq is None or dq.op_type != "DequantizeLinear" or dq.input[0] not in inits:
        return None
    q = numpy_helper.to_array(inits[dq.input[0]])
    scale = numpy_helper.to_array(inits[dq.input[1]]).astype(np.float32)
    zp = numpy_helper.to_array(inits[dq.input[2]]) if len(dq.input) > 2 and dq.input[2] else np.zeros(1)
    axis = next((a.i for a in dq.attribute if a.name == "axis"), 1)
    if q.dtype != np.int8 or q.ndim != 2 or axis != 1 or scale.shape != (q.shape[1],) or np.any(zp != 0):
        raise ValueError(f"{dq.name}: expected symmetric int8 weights with one scale per column")
    return q, scale


def graph_maps(g: onnx.GraphProto) -> tuple[dict, dict, dict]:
    """Initializers by name, the producer of each value, the consumers of each value."""
    inits = {i.name: i for i in g.initializer}
    prod = {o: n for n in g.node for o in n.output}
    cons: dict[str, list[onnx.NodeProto]] = collections.defaultdict(list)
    for n in g.node:
        for x in n.input:
            cons[x].append(n)
    return inits, prod, cons


def replace_graph(model: onnx.ModelProto, nodes: list[onnx.NodeProto], new_inits: list[TensorProto]) -> None:
    """Installs `nodes`, minus whatever no longer feeds an output, and the initializers still used."""
    g = model.graph
    outputs = {o.name for o in g.output}
    while True:
        used = {x for n in nodes for x in n.input} | outputs
        kept = [n for n in nodes if any(o in used for o in n.output)]
        if len(kept) == len(nodes):
            break
        nodes = kept
    used = {x for n in nodes for x in n.input}
    initializers = [i for i in list(g.initializer) + new_inits if i.name in used]
    del g.node[:]
    g.node.extend(nodes)
    del g.initializer[:]
    g.initializer.extend(initializers)


def rewrite(model: onnx.ModelProto, keep: set[str] = frozenset()) -> tuple[onnx.ModelProto, int]:
    g = model.graph
    inits = {i.name: i for i in g.initializer}
    prod = {o: n for n in g.node for o in n.output}
    new_inits: list[TensorProto] = [
        numpy_helper.from_array(np.array([-1], dtype=np.int64), "rowq_last_axis"),
        numpy_helper.from_array(np.array(128, dtype=np.uint8), "rowq_zero_point"),
        numpy_helper.from_array(np.array(127.0, dtype=np.float32), "rowq_127"),
        numpy_helper.from_array(np.array(1e-12, dtype=np.float32), "rowq_eps"),
    ]
    quantized: dict[str, tuple[str, str]] = {}  # activation -> (uint8 codes, per-row scale)
    replacements: dict[str, list[onnx.NodeProto]] = collections.defaultdict(list)
    count = 0

    def quantize_rows(x: str, hidden: int, before: str) -> tuple[str, str]:
        if x in quantized:
            return quantized[x]
        p = f"rowq/{x}"
        nodes = [
            helper.make_node("Abs", [x], [f"{p}/abs"]),
            helper.make_node("ReduceMax", [f"{p}/abs", "rowq_last_axis"], [f"{p}/max"], keepdims=1),
            helper.make_node("Max", [f"{p}/max", "rowq_eps"], [f"{p}/max_eps"]),
            helper.make_node("Div", [f"{p}/max_eps", "rowq_127"], [f"{p}/scale"]),
            helper.make_node("Shape", [f"{p}/scale"], [f"{p}/scale_shape"]),
            helper.make_node("Expand", ["rowq_zero_point", f"{p}/scale_shape"], [f"{p}/zero_points"]),
            helper.make_node("QuantizeLinear", [x, f"{p}/scale", f"{p}/zero_points"], [f"{p}/codes"],
                             axis=-1, block_size=hidden),
        ]
        for n in nodes:
            n.name = n.output[0]
        replacements[before].extend(nodes)
        quantized[x] = (f"{p}/codes", f"{p}/scale")
        return quantized[x]

    for mm in g.node:
        if mm.op_type != "MatMul" or mm.name in keep:
            continue
        weights = _int8_weights(mm, inits, prod)
        if weights is None:
            continue
        q, scale = weights
        x, out = mm.input[0], mm.output[0]
        base = f"rowq/{mm.name.strip('/')}"
        codes, row_scale = quantize_rows(x, q.shape[0], out)
        new_inits += [numpy_helper.from_array(q, f"{base}/w_int8"),
                      numpy_helper.from_array(scale, f"{base}/w_scale")]
        nodes = [
            helper.make_node("MatMulInteger", [codes, f"{base}/w_int8", "rowq_zero_point"], [f"{base}/int32"]),
            helper.make_node("Cast", [f"{base}/int32"], [f"{base}/float"], to=TensorProto.FLOAT),
            helper.make_node("Mul", [f"{base}/float", row_scale], [f"{base}/row_scaled"]),
            helper.make_node("Mul", [f"{base}/row_scaled", f"{base}/w_scale"], [out]),
        ]
        for n in nodes:
            n.name = n.output[0]
        replacements[out].extend(nodes)
        count += 1

    nodes = []
    for n in g.node:
        if n.op_type == "MatMul" and n.output[0] in replacements:
            nodes.extend(replacements[n.output[0]])
        else:
            nodes.append(n)
    replace_graph(model, nodes, new_inits)
    # QuantizeLinear with block_size (one scale per row) and ReduceMax with axes as an input need opset 21
    for o in model.opset_import:
        if o.domain in ("", "ai.onnx"):
            o.version = max(o.version, OPSET)
    model.ir_version = max(model.ir_version, IR_VERSION)
    return model, count


def to_fp32(model: onnx.ModelProto) -> tuple[onnx.ModelProto, int]:
    """The same weights in fp32: each int8 weight MatMul (a chain made by
    `rewrite`, or a DequantizeLinear of int8 weights) becomes a plain fp32
    MatMul over the dequantized weights. The reference that int8 is measured
    against: identical weights, fp32 arithmetic."""
    g = model.graph
    inits, prod, cons = graph_maps(g)
    replacements: dict[str, onnx.NodeProto] = {}
    new_inits: list[TensorProto] = []
    count = 0
    for n in g.node:
        if n.op_type == "MatMulInteger":
            quantize = prod[n.input[0]]
            x, q = quantize.input[0], numpy_helper.to_array(inits[n.input[1]]).astype(np.float32)
            to_float = cons[n.output[0]][0]
            by_row = cons[to_float.output[0]][0]
            by_column = cons[by_row.output[0]][0]
            scale = numpy_helper.to_array(inits[by_column.input[1]])
            out = by_column.output[0]
        elif n.op_type == "MatMul" and prod.get(n.input[1]) is not None and prod[n.input[1]].op_type == "DequantizeLinear":
            x, out = n.input[0], n.output[0]
            q, scale = _int8_weights(n, inits, prod)
            q = q.astype(np.float32)
        else:
            continue
        w = f"fp32/{out}/weight"
        new_inits.append(numpy_helper.from_array((q * scale[None, :]).astype(np.float32), w))
        replacements[out] = helper.make_node("MatMul", [x, w], [out], name=f"fp32/{out}")
        count += 1
    nodes = [replacements.get(n.output[0], n) if n.output else n for n in g.node]
    replace_graph(model, nodes, new_inits)
    return model, count


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--in", dest="src", required=True, type=Path)
    ap.add_argument("--out", required=True, type=Path)
    ap.add_argument("--keep", nargs="*", default=[], help="MatMul node names to leave as they are")
    ap.add_argument("--fp32", action="store_true",
                    help="the reverse: every int8 weight MatMul as an fp32 MatMul over the same weights")
    a = ap.parse_args()
    src = onnx.load(str(a.src))
    model, count = to_fp32(src) if a.fp32 else rewrite(src, set(a.keep))
    onnx.checker.check_model(model)
    tmp = a.out.with_name(a.out.name + ".tmp")
    onnx.save(model, str(tmp))
    os.replace(tmp, a.out)
    what = "int8 MatMuls -> fp32 MatMul" if a.fp32 else "MatMuls -> MatMulInteger with per-row int8 activations"
    print(f"{count} {what}; "
          f"{len(model.graph.node)} nodes, {a.out.stat().st_size / 1e6:.1f} MB")


if __name__ == "__main__":
    main()
