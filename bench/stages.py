"""Where one article's time goes: ANT articles one at a time through a
release server, then the means of its own stage histograms
(`khulasa_stage_duration_seconds`, `khulasa_tokenize_duration_seconds`) and
of the Analyze request duration, for the default server and for each
`--variant` (extra server flags). The issue #14 profile in BENCHMARKS.md.

    .venv-ner-eval/bin/python bench/stages.py [--articles 60] \\
        [--variant '--sentence-vectors entity-head']
"""
import argparse
import re
import shlex
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import grpc

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "models" / "summarizer"))
from common import load_articles, stubs  # noqa: E402


def means(exposition, family, label):
    sums = dict(re.findall(rf'{family}_sum\{{{label}="([\w-]+)"\}} (\S+)', exposition))
    counts = dict(re.findall(rf'{family}_count\{{{label}="([\w-]+)"\}} (\S+)', exposition))
    return {k: 1000 * float(v) / float(counts[k]) for k, v in sums.items() if float(counts[k])}


def profile(server, flags, texts, port):
    proc = subprocess.Popen([str(server), "--listen", f"127.0.0.1:{port}", "--http-listen", "",
                             "--metrics-listen", f"127.0.0.1:{port + 1}",
                             "--sessions", "1", "--intra-threads", "1", *flags],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=REPO)
    try:
        pb, rpc = stubs()
        stub = rpc.SummarizerStub(grpc.insecure_channel(f"127.0.0.1:{port}"))
        for _ in range(600):
            try:
                stub.Analyze(pb.AnalyzeRequest(id="ready", text=texts[0]))
                break
            except grpc.RpcError:
                time.sleep(0.5)
        started = time.time()
        for i, text in enumerate(texts):
            stub.Analyze(pb.AnalyzeRequest(id=str(i), text=text))
        wall = 1000 * (time.time() - started) / len(texts)
        exposition = urllib.request.urlopen(f"http://127.0.0.1:{port + 1}/metrics").read().decode()
    finally:
        proc.terminate()
        proc.wait()
    stages = means(exposition, "khulasa_stage_duration_seconds", "stage")
    tokenize = means(exposition, "khulasa_tokenize_duration_seconds", "model")
    print(f"{shlex.join(flags) or 'defaults'}: client wall {wall:.1f} ms per article")
    for name, ms in sorted(stages.items(), key=lambda kv: -kv[1]):
        print(f"  stage {name}: {ms:.2f} ms")
    for name, ms in tokenize.items():
        print(f"  tokenize {name}: {ms:.2f} ms")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--server", default=str(REPO / "target" / "release" / "khulasa-server"))
    ap.add_argument("--articles", type=int, default=60)
    ap.add_argument("--variant", action="append", default=[])
    ap.add_argument("--port", type=int, default=47001)
    a = ap.parse_args()
    texts = [x["text"] for x in load_articles() if len(x["text"]) > 400][:a.articles]
    for i, flags in enumerate([""] + a.variant):
        profile(a.server, shlex.split(flags), texts, a.port + 2 * i)


if __name__ == "__main__":
    main()
