#!/usr/bin/env python3
"""Write the manifest of a model variant built from another model directory.

    python variant_manifest.py models/ner-ar/manifest.json models/variants/ner-ar-fp32 \
        --version-suffix -fp32 --note "what differs"

Keeps what describes the model's interface (kind, labels, limits, licence,
source), appends the note to the description and the suffix to the version,
drops the original's evaluation figures (they belong to the original's
weights and arithmetic), and lists the variant's own files with their sha256.
Standard library only.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from fetch_wheel import sha256_file  # noqa: E402

INTERFACE = ("name", "kind", "version", "description", "max_tokens", "hidden_size", "labels", "languages",
             "passage_prefix", "query_prefix", "source", "license", "max_batch_rows")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("original", type=Path, help="the original's manifest.json")
    ap.add_argument("variant_dir", type=Path, help="the variant's directory (its files already in place)")
    ap.add_argument("--version-suffix", required=True)
    ap.add_argument("--note", required=True)
    a = ap.parse_args()
    original = json.loads(a.original.read_text(encoding="utf-8"))
    manifest = {k: original[k] for k in INTERFACE if k in original}
    manifest["version"] = f"{original['version']}{a.version_suffix}"
    manifest["description"] = f"{original.get('description', '')} Variant: {a.note}."
    manifest["files"] = {rel: sha256_file(a.variant_dir / rel) for rel in sorted(original["files"])}
    dest = a.variant_dir / "manifest.json"
    tmp = dest.with_name(dest.name + ".tmp")
    tmp.write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    os.replace(tmp, dest)
    print(f"{dest}: {len(manifest['files'])} files")


if __name__ == "__main__":
    main()
