#!/usr/bin/env python3
"""Check the NER model against its manifest: dev F1 and batch independence.

Runs the ONNX model through the service's Python mirror (models/ner/infer.py)
on the document-level ANERcorp dev split (its last 10%, whole later documents:
the split the model was chosen on), once one window per call and once eight
windows per call, and requires

  * the same entities with the same scores, to the bit, for every dev
    sentence both ways (a window's numbers must not depend on its batch
    neighbours: the server batches windows of different articles together),
    and
  * dev micro F1 equal to the `int8_per_row_docs` figure recorded in manifest.json
    (to the 0.01 it is rounded to).

    python models/tools/check_ner.py --model-dir models/ner-ar ../shared/data/anercorp/train.txt
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "ner"))
from evaluate import LABS, dev_set  # noqa: E402
from infer import batch_independent_predict, prf  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("anercorp", type=Path)
    ap.add_argument("--model-dir", type=Path, default=Path("models/ner-ar"))
    ap.add_argument("--split", choices=("docs", "random"), default="docs", help="dev split (evaluate.py --split)")
    ap.add_argument("--scores-key", default="int8_per_row_docs", help="manifest dev_scores entry to reproduce")
    a = ap.parse_args()
    manifest = json.loads((a.model_dir / "manifest.json").read_text(encoding="utf-8"))
    want = manifest["dev_scores"][a.scores_key]["micro"]["f1"]
    # The convention the model was trained to: ANERcorp's, or with the newsroom ORG supplement.
    labels = manifest["dev_scores"].get("labels", "anercorp")
    _, texts, golds = dev_set(str(a.anercorp), a.split, labels)
    preds, differing = batch_independent_predict(str(a.model_dir), texts)
    f1 = prf(golds, preds, LABS)["micro"]["f1"]
    print(f"{len(texts)} {a.split}-split dev sentences ({labels} labels): micro F1 {f1} (manifest {want}); "
          f"{differing} differ between 1 and 8 windows per call")
    problems = []
    if differing:
        problems.append(f"{differing} sentences change when windows share a call")
    if abs(f1 - want) > 0.01:
        problems.append(f"dev micro F1 {f1} is not the manifest's {want}")
    if problems:
        sys.exit("error: " + "; ".join(problems))
    print("check passed")


if __name__ == "__main__":
    main()
