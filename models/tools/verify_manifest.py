#!/usr/bin/env python3
"""Verify model directories against their manifest.json.

    python3 models/tools/verify_manifest.py models/e5-small/manifest.json [more manifests...]

Each manifest's "files" map ({"relative/path": "<sha256 hex>"}, paths relative
to the manifest's folder) is checked: every file must exist and hash to the
listed sha256. Standard library only. Prints one line per manifest; exit status
1 (with the offending files named) on any missing file or mismatch.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path


sys.path.insert(0, str(Path(__file__).resolve().parent))
from fetch_wheel import sha256_file  # noqa: E402


def verify(manifest: Path) -> list[str]:
    """Return a list of problems (empty when the folder matches its manifest)."""
    try:
        data = json.loads(manifest.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        return [f"{manifest}: cannot read manifest ({e})"]
    files = data.get("files") if isinstance(data, dict) else None
    if not isinstance(files, dict) or not files:
        return [f"{manifest}: no \"files\" map of path -> sha256"]
    base = manifest.parent.resolve()
    problems = []
    for rel, want in sorted(files.items()):
        path = (base / rel).resolve()
        if base not in path.parents:
            problems.append(f"{manifest}: {rel!r} points outside {base}")
            continue
        if not isinstance(want, str) or len(want) != 64:
            problems.append(f"{manifest}: {rel}: {want!r} is not a sha256 hex digest")
            continue
        if not path.is_file():
            problems.append(f"{manifest.parent / rel}: missing (listed in {manifest})")
            continue
        got = sha256_file(path)
        if got != want.lower():
            problems.append(f"{manifest.parent / rel}: sha256 {got} does not match {want} in {manifest}")
    return problems


def main(argv: list[str]) -> int:
    if not argv:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    failed = False
    for arg in argv:
        problems = verify(Path(arg))
        if problems:
            failed = True
            for p in problems:
                print(f"error: {p}", file=sys.stderr)
        else:
            n = len(json.loads(Path(arg).read_text(encoding="utf-8"))["files"])
            print(f"{arg}: {n} file(s) match their sha256")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
