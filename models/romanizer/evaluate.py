#!/usr/bin/env python3
"""Measure arabic-name-romanizer==0.2.0 on tests/data/latin_names.tsv (issue #12, `latin`).

Two systems are scored on every name of the reference list:

* ``model``   -- the shipped ONNX encoder/decoder alone, run here through onnxruntime
                 directly (no package code on the inference path): name -> units ->
                 one beam search per unit -> units joined by a space. This is what a
                 Rust port with `ort` would run.
* ``package`` -- the package's own public API, ``Transliterator().transliterate``:
                 its SQLite dictionary of Wikidata spellings first, the same ONNX model
                 only for units the dictionary lacks, rules last. No country hint.

A prediction counts when it equals one of the `|`-separated reference spellings,
case-insensitively, with runs of whitespace collapsed (the issue's rule). A looser
"typography" score that also ignores hyphens, apostrophes, spaces and Latin accents is
printed for information only; the verdict uses the strict score.

The script also checks that its own onnxruntime beam search gives the package's beam-search
output on every name unit (batch of one), prints a few information-only numbers (batch
dependence of the package, a top-5 oracle), writes every miss to a TSV, and measures
per-name latency (one name per call, after warm-up, one intra-op thread).

Usage: python models/romanizer/evaluate.py [--data tests/data/latin_names.tsv]
       [--errors /tmp/romanizer-errors.tsv] [--model-dir DIR] [--threads 1]
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import re
import statistics
import sys
import tempfile
import time
import unicodedata
from pathlib import Path

import numpy as np
import onnxruntime as ort

REPO = Path(__file__).resolve().parents[2]

# ---------------------------------------------------------------------------------------------
# Model-only inference through onnxruntime. Mirrors the package's contract (see README.md):
# vocab.json {"tokens": [...]}, ids = index in that list; PAD=0 BOS=1 EOS=2 UNK=3.
# Source: [<UNK_COUNTRY>, <ROLE_x>, one id per character..., EOS]; src_mask is True on padding.
# Decoder: fed the whole prefix (BOS + tokens so far) plus memory, src_mask and hidden; returns
# log-probabilities over the vocabulary and the next hidden state. Beam width 2, at most 32 steps,
# EOS forbidden at step 0, hypotheses ranked by sum(logprob) / length (tokens incl. EOS).
# ---------------------------------------------------------------------------------------------

PAD, BOS, EOS, UNK = 0, 1, 2, 3

# Same as arabic_name_romanizer.normalize (conservative form, the model's input).
_TATWEEL = "\u0640"
_DIACRITICS_RE = re.compile("[\u0610-\u061a\u064b-\u065f\u0670\u06d6-\u06ed]")
_INVISIBLE_RE = re.compile("[\u200b-\u200f\u061c\ufeff]")
_CHAR_MAP = str.maketrans({"\u06a9": "\u0643", "\u06cc": "\u064a", "\u06c1": "\u0647", "\u0671": "\u0627"})
_PUNCT_TO_SPACE = str.maketrans({c: " " for c in '\u060c\u061b\u061f,.;:!?"()[]{}/\\_-\u2010\u2011\u2012\u2013\u2014\u00ab\u00bb\u201c\u201d'})
_DROP = str.maketrans({c: None for c in "'\u2018\u2019\u02bc`\u00b4"})
PARTICLES = {"عبد", "أبو", "أبي", "ابو", "ابي", "بن", "ابن", "بنت", "آل", "ذو", "ذي"}
SUFFIX_PARTICLES = {"الله", "الدين"}


def normalize_arabic(text: str) -> str:
    text = unicodedata.normalize("NFKC", text)
    text = _INVISIBLE_RE.sub("", text).replace(_TATWEEL, "")
    text = _DIACRITICS_RE.sub("", text).translate(_CHAR_MAP).translate(_DROP).translate(_PUNCT_TO_SPACE)
    return re.sub(r"\s+", " ", text).strip()


def split_units(norm: str) -> list[str]:
    """Whitespace tokens; a particle (عبد, بن, آل, أبو...) joins the following token, and
    الله / الدين join the preceding unit; عبدالX (>= 7 letters) is first split as عبد الX."""
    tokens: list[str] = []
    for tok in norm.split():
        if tok.startswith("عبدال") and len(tok) >= 7:
            tok = "عبد " + tok[3:]
        tokens.extend(tok.split())
    units, i = [], 0
    while i < len(tokens):
        j = i
        while tokens[j] in PARTICLES and j + 1 < len(tokens):
            j += 1
        unit = " ".join(tokens[i : j + 1])
        i = j + 1
        while i < len(tokens) and tokens[i] in SUFFIX_PARTICLES:
            unit += " " + tokens[i]
            i += 1
        units.append(unit)
    return units


def unit_roles(n: int) -> list[str]:
    return ["<ROLE_UNKNOWN>"] if n == 1 else ["<ROLE_GIVEN>"] * (n - 1) + ["<ROLE_SURNAME>"]


class OrtRomanizer:
    def __init__(self, model_dir: Path, threads: int = 1):
        meta = json.loads((model_dir / "meta.json").read_text(encoding="utf-8"))
        self.tokens: list[str] = json.loads((model_dir / "vocab.json").read_text(encoding="utf-8"))["tokens"]
        self.index = {t: i for i, t in enumerate(self.tokens)}
        self.beam = int(meta["beam_width"])
        self.max_len = int(meta["max_tgt_len"])
        self.alpha = float(meta.get("length_alpha", 1.0))
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
        opts.log_severity_level = 3
        prov = ["CPUExecutionProvider"]
        self.enc = ort.InferenceSession(str(model_dir / "encoder.onnx"), opts, providers=prov)
        self.dec = ort.InferenceSession(str(model_dir / "decoder.onnx"), opts, providers=prov)

    def encode_ids(self, unit: str, role: str) -> list[int]:
        ids = [self.index["<UNK_COUNTRY>"], self.index[role]]
        ids += [self.index.get(ch, UNK) for ch in unit]
        return ids + [EOS]

    def decode_ids(self, ids: list[int]) -> str:
        out = []
        for i in ids:
            if i == EOS:
                break
            tok = self.tokens[i]
            if i in (PAD, BOS, UNK) or (tok.startswith("<") and tok.endswith(">")):
                continue
            out.append(tok)
        return "".join(out).strip()

    def unit(self, unit: str, role: str) -> list[tuple[str, float]]:
        """Beam search for one name unit; returns [(text, sum_logprob / len**alpha)], best first."""
        k, V = self.beam, len(self.tokens)
        src = np.array([self.encode_ids(unit, role)], dtype=np.int64)
        memory, mask, hidden = self.enc.run(None, {"src": src, "src_mask": src == PAD})
        memory, mask, hidden = (np.repeat(x, k, axis=0) for x in (memory, mask, hidden))
        prefix = np.full((k, 1), BOS, dtype=np.int64)
        scores = np.array([0.0] + [-np.inf] * (k - 1))
        finished = np.zeros(k, dtype=bool)
        lengths = np.zeros(k, dtype=np.int64)
        for t in range(self.max_len):
            logp, hidden = self.dec.run(None, {"prefix": prefix, "memory": memory, "src_mask": mask, "hidden": hidden})
            lp = logp.astype(np.float64)
            if t == 0:
                lp[:, EOS] = -np.inf
            lp[finished] = -np.inf
            lp[:, PAD] = np.where(finished, 0.0, -np.inf)  # a finished beam carries on with PAD for free
            flat = (scores[:, None] + lp).reshape(-1)
            top = np.argsort(-flat, kind="stable")[:k]
            beam_idx, tok = top // V, top % V
            prefix = np.concatenate([prefix[beam_idx], tok[:, None]], axis=1)
            hidden = hidden[beam_idx]
            was = finished[beam_idx]
            lengths = lengths[beam_idx] + (~was)
            finished = was | (tok == EOS)
            scores = flat[top]
            if finished.all():
                break
        hyps, seen = [], set()
        for j in range(k):
            if not np.isfinite(scores[j]):
                continue
            text = self.decode_ids([x for x in prefix[j, 1:].tolist() if x != PAD])
            if text and text not in seen:
                seen.add(text)
                hyps.append((text, float(scores[j]) / max(int(lengths[j]), 1) ** self.alpha))
        hyps.sort(key=lambda h: -h[1])
        return hyps

    def __call__(self, arabic: str) -> str:
        units = split_units(normalize_arabic(arabic))
        return " ".join(self.unit(u, r)[0][0] for u, r in zip(units, unit_roles(len(units))))


# ---------------------------------------------------------------------------------------------
# Scoring
# ---------------------------------------------------------------------------------------------


def strict_key(s: str) -> str:
    return re.sub(r"\s+", " ", s).strip().casefold()


def loose_key(s: str) -> str:
    s = unicodedata.normalize("NFKD", s)
    s = "".join(c for c in s if not unicodedata.combining(c))
    return re.sub(r"[\s\-'’]+", "", s).casefold()


def load(path: Path) -> list[dict]:
    with path.open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f, delimiter="\t"))


def score(rows: list[dict], preds: list[str]) -> dict:
    out = {}
    for lab in ("ALL", "PER", "LOC"):
        idx = [i for i, r in enumerate(rows) if lab == "ALL" or r["label"] == lab]
        ok = sum(strict_key(preds[i]) in {strict_key(a) for a in rows[i]["latin"].split("|")} for i in idx)
        lo = sum(loose_key(preds[i]) in {loose_key(a) for a in rows[i]["latin"].split("|")} for i in idx)
        near = sum(min(edit_distance(loose_key(preds[i]), loose_key(a)) for a in rows[i]["latin"].split("|")) <= 1 for i in idx)
        out[lab] = (ok, lo, len(idx), near)
    return out


def edit_distance(a: str, b: str) -> int:
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        prev = cur
    return prev[-1]


def pct(a: int, n: int) -> str:
    return f"{a}/{n} = {100.0 * a / n:.1f}%"


def latency(fn, names: list[str], reps: int = 3) -> tuple[float, float, float]:
    for n in names[:10]:
        fn(n)  # warm-up
    times = []
    for _ in range(reps):
        for n in names:
            t0 = time.perf_counter()
            fn(n)
            times.append((time.perf_counter() - t0) * 1000.0)
    times.sort()
    return statistics.median(times), times[int(0.95 * (len(times) - 1))], statistics.mean(times)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=REPO / "tests/data/latin_names.tsv")
    ap.add_argument("--errors", type=Path, default=Path(tempfile.gettempdir()) / "romanizer-errors.tsv")
    ap.add_argument("--model-dir", type=Path, default=None, help="default: the installed package's resources/")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--no-package", action="store_true", help="skip the package API (model-only run)")
    ap.add_argument("--no-latency", action="store_true")
    args = ap.parse_args()

    if args.model_dir is None:
        import arabic_name_romanizer

        args.model_dir = Path(arabic_name_romanizer.__file__).parent / "resources"
    for f in ("encoder.onnx", "decoder.onnx", "vocab.json", "meta.json"):
        print(f"sha256 {f}: {hashlib.sha256((args.model_dir / f).read_bytes()).hexdigest()}")
    print(f"reference: {args.data} sha256 {hashlib.sha256(args.data.read_bytes()).hexdigest()}")

    rows = load(args.data)
    names = [r["arabic"] for r in rows]
    print(f"{len(rows)} names: {sum(r['label'] == 'PER' for r in rows)} PER, {sum(r['label'] == 'LOC' for r in rows)} LOC")

    model = OrtRomanizer(args.model_dir, args.threads)
    systems = {"model": [model(n) for n in names]}

    pkg_fns = {}
    info: list[str] = []
    if not args.no_package:
        import arabic_name_romanizer.inference as inf
        from arabic_name_romanizer import Transliterator, __version__

        inf.DEFAULT_INTRA_OP_THREADS = args.threads
        print(f"arabic-name-romanizer {__version__}, onnxruntime {ort.__version__}, numpy {np.__version__}")

        # 1. Our onnxruntime loop against the package's beam search, unit by unit (batch of one).
        pkg_model = inf.OnnxModel(args.model_dir, intra_op_threads=args.threads)
        role_name = {"<ROLE_UNKNOWN>": "unknown", "<ROLE_GIVEN>": "given", "<ROLE_SURNAME>": "surname"}
        units = sorted({(u, r) for n in names for u, r in zip(split_units(normalize_arabic(n)), unit_roles(len(split_units(normalize_arabic(n)))))})
        same = 0
        for u, r in units:
            ours = model.unit(u, r)
            theirs = pkg_model.transliterate_units([u], None, model.beam, roles=[role_name[r]])[0]
            same += [t for t, _ in ours] == [t for t, _ in theirs] and all(abs(a[1] - b[1]) < 1e-4 for a, b in zip(ours, theirs))
        print(f"check: our onnxruntime beam search == package beam search on {same}/{len(units)} name units (batch of one)")

        # 2. The package API, one name per call (how the service would call it), no country hint.
        full = Transliterator()
        systems["package"] = [full.transliterate(n) for n in names]
        pkg_fns = {"package": full.transliterate}

        # Information only: batch dependence and a top-5 oracle.
        batch = full.transliterate_many(names)
        s_b = score(rows, batch)["ALL"]
        info.append(f"package, all {len(names)} names in one transliterate_many call: strict {pct(s_b[0], s_b[2])} "
                    f"({sum(a != b for a, b in zip(batch, systems['package']))} outputs differ from one-name calls: "
                    "the exported encoder does not ignore padding, so a unit's output depends on the other units in its batch)")
        mo = Transliterator(index_path="/nonexistent/names.sqlite3")  # no dictionary: model (+ rules)
        mo_single = [mo.transliterate(n) for n in names]
        s_m = score(rows, mo_single)["ALL"]
        info.append(f"package without its dictionary, one name per call: strict {pct(s_m[0], s_m[2])} "
                    f"(differs from [model] on {sum(a != b for a, b in zip(mo_single, systems['model']))} names: "
                    "the package pads a name's units into one batch; [model] decodes each unit alone)")
        top5 = full.transliterate_many(names, top_k=5)
        hit5 = sum(any(strict_key(c.text) in {strict_key(a) for a in r["latin"].split("|")} for c in cands)
                   for r, cands in zip(rows, top5))
        info.append(f"package top-5 oracle (a reference spelling among its 5 candidates): {pct(hit5, len(rows))}")

    print()
    print("strict = case-insensitive exact match, whitespace collapsed (the issue's rule; verdict)")
    print("loose  = also ignoring hyphens, apostrophes, spaces and accents (information only)")
    print("edit distance <= 1 = loose form within one letter of a reference spelling (information only)")
    for name, preds in systems.items():
        s = score(rows, preds)
        print(f"[{name}]")
        for lab in ("ALL", "PER", "LOC"):
            ok, lo, n, near = s[lab]
            print(f"  {lab:3}  strict {pct(ok, n):>16}   loose {pct(lo, n):>16}   loose edit distance <= 1 {pct(near, n):>16}")
        verdict = "SHIP (>= 80%)" if s["ALL"][0] >= 0.8 * s["ALL"][2] else "DO NOT SHIP (< 80%)"
        print(f"  verdict at 80%: {verdict}")

    args.errors.parent.mkdir(parents=True, exist_ok=True)
    with args.errors.open("w", encoding="utf-8", newline="") as f:
        w = csv.writer(f, delimiter="\t", lineterminator="\n")
        w.writerow(["system", "arabic", "label", "expected", "got", "loose_match"])
        nerr = 0
        for name, preds in systems.items():
            for r, p in zip(rows, preds):
                alts = r["latin"].split("|")
                if strict_key(p) not in {strict_key(a) for a in alts}:
                    loose = loose_key(p) in {loose_key(a) for a in alts}
                    w.writerow([name, r["arabic"], r["label"], r["latin"], p, "yes" if loose else "no"])
                    nerr += 1
    print(f"\n{nerr} mistakes written to {args.errors}")
    if info:
        print("\ninformation only:")
        for line in info:
            print("  " + line)

    if not args.no_latency:
        print(f"\nlatency per name, one call per name, {args.threads} intra-op thread(s), {len(names)} names x 3:")
        for name, fn in {"model": model, **pkg_fns}.items():
            p50, p95, mean = latency(fn, names)
            print(f"  {name:8} p50 {p50:.2f} ms   p95 {p95:.2f} ms   mean {mean:.2f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
