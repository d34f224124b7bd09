#!/usr/bin/env python3
"""Make the NER model's int8 matmuls batch-independent (MatMulNBits, 8 bits).

The committed NER model was made by ONNX Runtime's dynamic quantization: each
weight MatMul is DynamicQuantizeLinear(x) -> MatMulInteger -> Cast -> Mul by
(activation scale x per-channel weight scale). DynamicQuantizeLinear computes
one uint8 scale over the whole activation tensor, i.e. over every window of a
batch, so a window's labels depend on its batch neighbours and on padding.

This tool rewrites each such chain into one `com.microsoft.MatMulNBits`
(bits=8, block_size=--block-size, accuracy_level=4). Its weights are the same
int8 values: each block of a column gets that column's scale and the codes
are stored as q + 128 with the default zero point 128, so the dequantized
weights are bit-for-bit the old ones (asserted). With accuracy_level=4 the
activations are quantized to int8 per row and per K-block, so every row (every
token of every window) is quantized on its own: batching cannot change it.
The 19 weight-only DequantizeLinear MatMuls (fp32 activations) stay as they are.

    python requant_ner.py --in models/ner-ar/model.onnx --out model.onnx
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import numpy as np
import onnx
from onnx import helper, numpy_helper

sys.path.insert(0, str(Path(__file__).resolve().parent))
from rowquant import graph_maps, replace_graph  # noqa: E402


def rewrite(model: onnx.ModelProto, block_size: int, fp32: bool = False) -> tuple[onnx.ModelProto, int]:
    g = model.graph
    inits, prod, cons = graph_maps(g)

    def only_consumer(name: str, op: str) -> onnx.NodeProto:
        users = cons[name]
        if len(users) != 1 or users[0].op_type != op:
            raise ValueError(f"{name}: expected one {op} consumer, found {[u.op_type for u in users]}")
        return users[0]

    replacements: dict[str, onnx.NodeProto | list[onnx.NodeProto]] = {}  # output name of the old chain -> new node
    new_inits: list[onnx.TensorProto] = []
    count = 0
    for n in g.node:
        if n.op_type != "MatMulInteger":
            continue
        xq, wq_name, _xzp, wzp_name = n.input
        dql = prod[xq]
        if dql.op_type != "DynamicQuantizeLinear":
            raise ValueError(f"{n.name}: activation is not dynamically quantized")
        x = dql.input[0]
        cast = only_consumer(n.output[0], "Cast")
        mul = only_consumer(cast.output[0], "Mul")
        scale_mul = prod[[i for i in mul.input if i != cast.output[0]][0]]
        w_scale_name = [i for i in scale_mul.input if i in inits][0]
        wq = numpy_helper.to_array(inits[wq_name]).astype(np.int32)  # [K, N]
        wzp = numpy_helper.to_array(inits[wzp_name]).astype(np.int32)  # [N]
        ws = numpy_helper.to_array(inits[w_scale_name]).astype(np.float32)  # [N]
        if wq.ndim != 2 or ws.shape != (wq.shape[1],) or wzp.shape != ws.shape:
            raise ValueError(f"{n.name}: weights are not per-channel [K, N]")
        K, N = wq.shape
        if K % block_size:
            raise ValueError(f"{n.name}: K={K} is not a multiple of block size {block_size}")
        blocks = K // block_size
        codes = (wq - wzp[None, :] + 128)  # stored with the default zero point 128
        if codes.min() < 0 or codes.max() > 255:
            raise ValueError(f"{n.name}: int8 codes do not fit uint8 after re-centering")
        b = codes.T.astype(np.uint8).reshape(N, blocks, block_size)  # [N, blocks, blob]
        scales = np.repeat(ws[:, None], blocks, axis=1).reshape(-1).astype(np.float32)
        old = (wq - wzp[None, :]).astype(np.float32) * ws[None, :]
        new = ((b.reshape(N, K).astype(np.float32) - 128.0) * scales.reshape(N, blocks).repeat(block_size, axis=1)).T
        assert np.array_equal(old, new), f"{n.name}: re-packed weights differ"
        base = n.name.replace("/", "_").strip("_")
        count += 1
        if fp32:
            # weight-only int8: DequantizeLinear (folded at load) + fp32 MatMul
            dq = helper.make_node("DequantizeLinear", [wq_name, w_scale_name, wzp_name], [f"{base}_dq"],
                                  name=f"{n.name}_dq", axis=1)
            mm = helper.make_node("MatMul", [x, f"{base}_dq"], [mul.output[0]], name=f"{n.name}_fp32")
            replacements[mul.output[0]] = [dq, mm]
            continue
        b_name, s_name = f"{base}_nbits_B", f"{base}_nbits_scales"
        new_inits += [numpy_helper.from_array(b, b_name), numpy_helper.from_array(scales, s_name)]
        replacements[mul.output[0]] = helper.make_node(
            "MatMulNBits", [x, b_name, s_name], [mul.output[0]], name=f"{n.name}_nbits",
            domain="com.microsoft", K=K, N=N, bits=8, block_size=block_size, accuracy_level=4)

    nodes = []
    for n in g.node:
        if n.output and n.output[0] in replacements:
            r = replacements[n.output[0]]
            nodes.extend(r if isinstance(r, list) else [r])
        else:
            nodes.append(n)
    # drop what no longer feeds anything (the quantize/cast/scale chains)
    replace_graph(model, nodes, new_inits)
    if not any(o.domain == "com.microsoft" for o in model.opset_import):
        model.opset_import.append(helper.make_opsetid("com.microsoft", 1))
    return model, count


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--in", dest="src", required=True, type=Path)
    ap.add_argument("--out", required=True, type=Path)
    ap.add_argument("--block-size", type=int, default=128)
    ap.add_argument("--fp32", action="store_true", help="weight-only int8 with fp32 activations instead")
    a = ap.parse_args()
    model, count = rewrite(onnx.load(str(a.src)), a.block_size, a.fp32)
    onnx.checker.check_model(model)
    tmp = a.out.with_name(a.out.name + ".tmp")
    onnx.save(model, str(tmp))
    os.replace(tmp, a.out)
    print(f"{count} MatMulInteger chains -> MatMulNBits(bits=8, block {a.block_size}, accuracy_level 4); "
          f"{len(model.graph.node)} nodes, {a.out.stat().st_size / 1e6:.1f} MB")


if __name__ == "__main__":
    main()
