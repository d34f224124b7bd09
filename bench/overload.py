#!/usr/bin/env python3
"""Overload check (issue #14): many long articles at once, each with a deadline,
against one running server; how every call ends, how fast refusals come, and
whether the server stays SERVING.

    bench/overload.py --endpoint 127.0.0.1:50051 [--requests 96] [--chars 150000] [--deadline 60]

Articles are ANT news texts (../shared/data/ant_articles.jsonl) joined until
each is --chars code points long, a different starting article for each
request. Every request is one unary Analyze (summary + entities) sent at once
from its own thread, without retries. Prints a Markdown summary; --json
writes every call's outcome.

Needs grpcio and grpcio-tools (models/ner/requirements-eval.txt: `make eval-ner`'s venv).
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "models" / "summarizer"))
from common import stubs  # noqa: E402

PUSHBACK = "grpc-retry-pushback-ms"
SERVING_STATUS = {0: "UNKNOWN", 1: "SERVING", 2: "NOT_SERVING", 3: "SERVICE_UNKNOWN"}


def long_texts(path, n, chars):
    """n texts of exactly `chars` code points (cut at a space), from joined articles."""
    arts = [json.loads(line)["text"] for line in open(path, encoding="utf-8")]
    arts = [a for a in arts if a.strip()]
    out = []
    for i in range(n):
        parts, total, k = [], 0, i * 37
        while total < chars + 1000:
            a = arts[k % len(arts)]
            parts.append(a)
            total += len(a) + 2
            k += 1
        text = "\n\n".join(parts)[:chars]
        out.append(text[: text.rfind(" ")] if " " in text else text)
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--endpoint", required=True)
    ap.add_argument("--requests", type=int, default=96)
    ap.add_argument("--chars", type=int, default=150_000)
    ap.add_argument("--deadline", type=float, default=60.0, help="seconds, per request")
    ap.add_argument("--ant", default=str(REPO.parent / "shared" / "data" / "ant_articles.jsonl"))
    ap.add_argument("--json", help="write every call's outcome here")
    a = ap.parse_args()

    import grpc

    pb, rpc = stubs()
    texts = long_texts(a.ant, a.requests, a.chars)
    channel = grpc.insecure_channel(a.endpoint, options=[("grpc.max_send_message_length", 64 << 20),
                                                          ("grpc.max_receive_message_length", 64 << 20)])
    stub = rpc.SummarizerStub(channel)
    # grpc.health.v1.Health/Check with the overall service (""), without the
    # grpcio-health-checking package: the request is empty, the answer one varint.
    check = grpc.insecure_channel(a.endpoint).unary_unary(
        "/grpc.health.v1.Health/Check", request_serializer=lambda _: b"", response_deserializer=lambda b: b)
    stub.GetInfo(pb.GetInfoRequest(), timeout=30)  # connected and loaded

    statuses, stop = [], threading.Event()

    def watch():
        while not stop.is_set():
            try:
                raw = check(None, timeout=2)
                status = raw[1] if len(raw) >= 2 and raw[0] == 0x08 else 0
                statuses.append(SERVING_STATUS.get(status, str(status)))
            except grpc.RpcError as e:
                statuses.append(f"error {e.code().name}")
            stop.wait(1.0)

    barrier = threading.Barrier(a.requests)

    def one(i):
        req = pb.AnalyzeRequest(id=f"overload-{i}", text=texts[i], language="ar")
        barrier.wait()
        t0 = time.monotonic()
        try:
            stub.Analyze(req, timeout=a.deadline)
            return {"i": i, "code": "OK", "seconds": time.monotonic() - t0}
        except grpc.RpcError as e:
            trailers = dict(e.trailing_metadata() or ())
            return {"i": i, "code": e.code().name, "seconds": time.monotonic() - t0,
                    "pushback_ms": trailers.get(PUSHBACK), "message": e.details()}

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    t0 = time.monotonic()
    with ThreadPoolExecutor(max_workers=a.requests) as pool:
        results = list(pool.map(one, range(a.requests)))
    wall = time.monotonic() - t0
    time.sleep(1.5)
    stop.set()
    watcher.join()

    by = {}
    for r in results:
        by.setdefault(r["code"], []).append(r)
    print(f"{a.requests} requests of {a.chars:,} code points, deadline {a.deadline:.0f} s, "
          f"all sent at once to {a.endpoint}; wall {wall:.1f} s\n")
    print("| outcome | calls | share | seconds: min / median / max |")
    print("| --- | ---: | ---: | --- |")
    for code, rs in sorted(by.items(), key=lambda kv: -len(kv[1])):
        s = sorted(r["seconds"] for r in rs)
        print(f"| {code} | {len(rs)} | {100 * len(rs) / a.requests:.1f}% | "
              f"{s[0]:.2f} / {statistics.median(s):.2f} / {s[-1]:.2f} |")
    refused = by.get("RESOURCE_EXHAUSTED", [])
    with_pushback = sum(1 for r in refused if r.get("pushback_ms"))
    print(f"\nRESOURCE_EXHAUSTED with a {PUSHBACK} trailer: {with_pushback} of {len(refused)}"
          + (f"; e.g. {refused[0]['message']!r}" if refused else ""))
    serving = sum(s == "SERVING" for s in statuses)
    print(f"health during the run: {serving} of {len(statuses)} checks SERVING"
          + ("" if serving == len(statuses) else f" (others: {sorted(set(statuses) - {'SERVING'})})"))
    if a.json:
        Path(a.json).write_text(json.dumps({"results": results, "health": statuses}, ensure_ascii=False, indent=1))


if __name__ == "__main__":
    main()
