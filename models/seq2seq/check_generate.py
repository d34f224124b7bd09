"""Replays the recorded cases of fixtures/*/expected.json with the PyTorch
checkpoints that `build_fixtures.py --save-hf DIR` kept, under whatever
`transformers` is installed: shows that another `transformers` version's
`generate()` gives the same ids (the fixtures are recorded with the version
Optimum's exporter supports, see requirements.txt).

Usage: python models/seq2seq/check_generate.py DIR
"""

import json
import sys
from pathlib import Path

import torch
import transformers
from transformers import AutoModelForSeq2SeqLM

HERE = Path(__file__).resolve().parent


def main() -> int:
    hf = Path(sys.argv[1])
    bad = total = 0
    for family in ("mt5", "mbart"):
        fixture = json.loads((HERE / "fixtures" / family / "expected.json").read_text(encoding="utf-8"))
        model = AutoModelForSeq2SeqLM.from_pretrained(hf / family).eval()
        for case in fixture["cases"]:
            ids = torch.tensor([case["input_ids"]])
            with torch.no_grad():
                seq = model.generate(
                    input_ids=ids, attention_mask=torch.ones_like(ids), do_sample=False, **case["params"]
                )[0].tolist()
            total += 1
            if seq[1:] != case["output_ids"]:
                bad += 1
                print(f"{family} {case['name']}: {case['text'][:30]}\n  want {case['output_ids']}\n  got  {seq[1:]}")
    print(f"transformers {transformers.__version__}: {total - bad}/{total} cases match")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
