#!/usr/bin/env python3
"""Soak driver: sustained mixed load on a running Khulasa server.

A few client threads send, for a fixed time, a weighted mix of normal ANT
articles, huge and over-limit articles, empty and hostile text, invalid
options, streams with bad items, cancelled calls, calls whose deadline is
already too short and oversize messages. Every call must end with the status
its kind allows; every OK response must have spans that slice the request
text; every accepted request must get exactly one answer. The server's RSS
is sampled throughout, and its log is read at the end for panics and for the
ids it analyzed. Writes a Markdown report and a JSON summary; exits 1 on any
panic, lost result, bad result or unexpected status, or if the server is no
longer SERVING.
"""

import argparse
import collections
import json
import math
import random
import sys
import threading
import time
from pathlib import Path

import grpc

OK = "OK"

# Analyze requests get this long unless a kind says otherwise; a huge article
# on a shared 2-core machine can take minutes.
NORMAL_TIMEOUT = 120.0
HUGE_TIMEOUT = 300.0

# What a valid article may get: its answer, or DEADLINE_EXCEEDED when it
# waited behind huge ones longer than its deadline (the documented answer to
# a deadline). Anything else (UNAVAILABLE, INTERNAL, UNKNOWN, ...) is a fault.
VALID = frozenset({OK, "DEADLINE_EXCEEDED"})

# Any call with a deadline may also be refused at once when the server
# predicts it would finish after that deadline (admission by cost, issue
# #14): RESOURCE_EXHAUSTED with a `grpc-retry-pushback-ms` trailer, so a
# client can try another replica. Without the trailer it is a fault.
PUSHBACK = "grpc-retry-pushback-ms"


def allowed_for(e, allowed):
    """`allowed`, plus RESOURCE_EXHAUSTED when `e` is an admission refusal."""
    if e.code() == grpc.StatusCode.RESOURCE_EXHAUSTED and any(
            key == PUSHBACK for key, _ in (e.trailing_metadata() or ())):
        return set(allowed) | {"RESOURCE_EXHAUSTED"}
    return allowed


# What admission says when it refuses (src/transport/admission.rs).
ADMISSION_REFUSALS = ("server busy:", "server overloaded:")


def allowed_for_item(message, allowed):
    """`allowed`, plus RESOURCE_EXHAUSTED when a stream item's error is an
    admission refusal: an item's error has no trailers, so its message is
    what tells."""
    if message.startswith(ADMISSION_REFUSALS):
        return set(allowed) | {"RESOURCE_EXHAUSTED"}
    return allowed


def load_stubs(gen_dir):
    sys.path.insert(0, str(gen_dir))
    from khulasa.v1 import summarizer_pb2, summarizer_pb2_grpc  # noqa: E402

    return summarizer_pb2, summarizer_pb2_grpc


def load_articles(path, limit=2000):
    out = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            d = json.loads(line)
            text = d.get("text", "")
            if text.strip():
                out.append(d.get("title", "") + "\n" + text)
            if len(out) >= limit:
                break
    return out


class Inputs:
    """Request texts by kind, built once (the big ones are costly to build)."""

    def __init__(self, articles, max_chars, max_message_bytes, rng):
        self.articles = articles
        self.max_chars = max_chars
        joined = "\n".join(articles)
        while len(joined) < max_chars + 10:
            joined += "\n" + joined
        # Near the limit, and one past it (Arabic: ~2 bytes each, well under
        # the message limit, so the article limit is what answers).
        self.huge = joined[: max_chars - 1000]
        self.over_limit = joined[: max_chars + 1]
        # Over the message limit: the gRPC layer answers before any parsing.
        self.oversize = "x " * (max_message_bytes // 2 + 4096)
        # 20k tiny lines: 20k sentences, the costliest shape per code point.
        self.tiny_lines = "ا.\n" * 20000
        self.lone_marks = " ".join("\u0301\u064e\u0651" * rng.randint(1, 4) for _ in range(300))
        self.hostile_fixed = {
            "bidi": ("\u202b\u200fقال\u202c \u2067الرئيس\u2069 \u202eتونس\u202c\u200e. " * 100),
            "tiny_lines": self.tiny_lines,
            "lone_marks": self.lone_marks,
            "nul": "قال\x00 الرئيس\x00\x00 في تونس.\x00 " * 100 + "\x00",
            "zwj_emoji": "👨\u200d👩\u200d👧 🇹🇳 ❤\ufe0f خبر\u200c عاجل. " * 100,
            "crlf_tatweel": "مُحَمَّدٌ جـــميل\r\n\r\nالرَّحْمٰن.\r\n" * 100,
        }

    def random_unicode(self, rng, n):
        chars = []
        while len(chars) < n:
            cp = rng.randint(1, 0x10FFFF)
            if 0xD800 <= cp <= 0xDFFF:
                continue
            chars.append(chr(cp))
        return "".join(chars)


class Tally:
    """Thread-safe counts and the sets of ids needed to check for lost results."""

    def __init__(self):
        self.lock = threading.Lock()
        self.codes = collections.Counter()  # (kind, code) -> n
        self.unexpected = []  # (kind, code, detail)
        self.bad_results = []  # (kind, id, detail)
        self.ok_ids = set()  # the client got an OK answer
        self.dropped_ids = set()  # cancelled or deadline-exceeded on the client side
        self.stream_items = 0
        self.stream_lost = 0
        self.stream_duplicates = 0
        self.requests = 0
        self.latency = collections.defaultdict(list)

    def record(self, kind, code, allowed, detail="", req_id=None, seconds=None):
        with self.lock:
            self.requests += 1
            self.codes[(kind, code)] += 1
            if code not in allowed:
                self.unexpected.append((kind, code, detail[:300]))
            if req_id is not None:
                if code == OK:
                    self.ok_ids.add(req_id)
                elif code in ("CANCELLED", "DEADLINE_EXCEEDED"):
                    self.dropped_ids.add(req_id)
            if seconds is not None and code == OK:
                self.latency[kind].append(seconds)

    def bad(self, kind, req_id, detail):
        with self.lock:
            self.bad_results.append((kind, req_id, detail[:300]))


def check_response(text, resp):
    """Spans of an OK response must slice the request text exactly."""
    raw = text.encode("utf-8")
    for e in resp.entities:
        if text[e.start : e.end] != e.text:
            return f"entity {e.start}..{e.end} is not {e.text!r}"
        if raw[e.byte_start : e.byte_end].decode("utf-8", "replace") != e.text:
            return f"entity bytes {e.byte_start}..{e.byte_end} do not slice {e.text!r}"
    for s in resp.summary.sentences:
        if not (s.start < s.end <= len(text)) or not (s.byte_start < s.byte_end <= len(raw)):
            return f"summary span {s.start}..{s.end} out of range"
        if text[s.start : s.end] != raw[s.byte_start : s.byte_end].decode("utf-8", "replace"):
            return f"summary span {s.start}..{s.end}: chars and bytes disagree"
    return None


def code_of(err):
    return err.code().name if isinstance(err, grpc.RpcError) else type(err).__name__


class Client(threading.Thread):
    """One client: its own channel, sending the weighted mix until the end."""

    KINDS = [
        ("normal", 40),
        ("hostile", 12),
        ("empty", 6),
        ("invalid_options", 6),
        ("stream_mixed", 8),
        ("cancel", 6),
        ("short_deadline", 6),
        ("oversize", 2),
        ("over_limit", 2),
        ("huge", 1),
        ("info", 3),
    ]

    def __init__(self, n, args, pb, rpc, inputs, tally, stop_at):
        super().__init__(name=f"client-{n}", daemon=True)
        self.n = n
        self.pb, self.inputs, self.tally, self.stop_at = pb, inputs, tally, stop_at
        self.rng = random.Random(args.seed + n)
        opts = [("grpc.max_send_message_length", -1), ("grpc.max_receive_message_length", 64 << 20)]
        self.channel = grpc.insecure_channel(args.target, options=opts)
        self.stub = rpc.SummarizerStub(self.channel)
        self.seq = 0
        self.huge_allowed = args.huge
        self.only = set(args.only.split(",")) if args.only else None

    def next_id(self, kind):
        self.seq += 1
        return f"c{self.n}-{self.seq}-{kind}"

    def run(self):
        mix = [(k, w) for k, w in self.KINDS if (k != "huge" or self.huge_allowed) and (not self.only or k in self.only)]
        kinds = [k for k, _ in mix]
        weights = [w for _, w in mix]
        while time.monotonic() < self.stop_at:
            kind = self.rng.choices(kinds, weights)[0]
            try:
                getattr(self, "do_" + kind)()
            except Exception as e:  # a driver bug must not pass silently
                self.tally.record(kind, "DRIVER_ERROR", (), repr(e))
        self.channel.close()

    def unary(self, kind, text, allowed, timeout=NORMAL_TIMEOUT, **fields):
        req_id = self.next_id(kind)
        req = self.pb.AnalyzeRequest(id=req_id, text=text, **fields)
        t0 = time.monotonic()
        try:
            resp = self.stub.Analyze(req, timeout=timeout)
        except grpc.RpcError as e:
            self.tally.record(kind, code_of(e), allowed_for(e, allowed), e.details() or "", req_id)
            return
        self.tally.record(kind, OK, allowed, "", req_id, time.monotonic() - t0)
        if resp.id != req_id:
            self.tally.bad(kind, req_id, f"answer carries id {resp.id!r}")
        problem = check_response(text, resp)
        if problem:
            self.tally.bad(kind, req_id, problem)

    def article(self):
        return self.rng.choice(self.inputs.articles)

    def do_normal(self):
        opts = self.rng.choice(
            [{}, {"summary": self.pb.SummaryOptions(max_sentences=2)},
             {"summary": self.pb.SummaryOptions(ratio=0.3)},
             {"tasks": [self.pb.TASK_ENTITIES]}, {"language": "ar"}]
        )
        self.unary("normal", self.article(), VALID, **opts)

    def do_huge(self):
        self.unary("huge", self.inputs.huge, VALID, timeout=HUGE_TIMEOUT)

    def do_over_limit(self):
        self.unary("over_limit", self.inputs.over_limit, {"INVALID_ARGUMENT"})

    def do_oversize(self):
        self.unary("oversize", self.inputs.oversize, {"OUT_OF_RANGE"})

    def do_empty(self):
        text = self.rng.choice(["", " ", "\n\t \r\n", "\u200f\ufeff\u3000 \u2067\u2069"])
        self.unary("empty", text, {"INVALID_ARGUMENT"})

    def do_hostile(self):
        name = self.rng.choice(list(self.inputs.hostile_fixed) + ["random_unicode"])
        if name == "random_unicode":
            text = self.inputs.random_unicode(self.rng, self.rng.randint(1, 3000))
        else:
            text = self.inputs.hostile_fixed[name]
        # Random code points may all be space-like; then INVALID_ARGUMENT is right.
        allowed = VALID | {"INVALID_ARGUMENT"} if name == "random_unicode" else VALID
        timeout = HUGE_TIMEOUT if name == "tiny_lines" else NORMAL_TIMEOUT
        self.unary("hostile:" + name, text, allowed, timeout=timeout)

    def do_invalid_options(self):
        name, fields = self.rng.choice(
            [
                ("ratio_over_1", {"summary": self.pb.SummaryOptions(ratio=1.5)}),
                ("ratio_negative", {"summary": self.pb.SummaryOptions(ratio=-0.2)}),
                ("ratio_nan", {"summary": self.pb.SummaryOptions(ratio=math.nan)}),
                ("unknown_task", {"tasks": [99]}),
                ("bad_language", {"language": "not a tag!"}),
            ]
        )
        self.unary("invalid:" + name, self.article(), {"INVALID_ARGUMENT"}, **fields)

    def do_short_deadline(self):
        # 1 ms cannot be met; 50 ms rarely. Either way no answer may be lost.
        timeout, allowed = self.rng.choice(
            [(0.001, {"DEADLINE_EXCEEDED"}), (0.05, {"DEADLINE_EXCEEDED", OK})]
        )
        self.unary("short_deadline", self.article(), allowed, timeout=timeout)

    def do_cancel(self):
        req_id = self.next_id("cancel")
        text = "\n".join(self.rng.sample(self.inputs.articles, 6))
        fut = self.stub.Analyze.future(self.pb.AnalyzeRequest(id=req_id, text=text), timeout=NORMAL_TIMEOUT)
        time.sleep(self.rng.uniform(0.02, 0.6))
        fut.cancel()
        try:
            resp = fut.result()
        except grpc.FutureCancelledError:
            self.tally.record("cancel", "CANCELLED", {"CANCELLED"}, "", req_id)
            return
        except grpc.RpcError as e:
            self.tally.record("cancel", code_of(e), allowed_for(e, {"CANCELLED"}), e.details() or "",
                              req_id)
            return
        # Finished before the cancel landed.
        self.tally.record("cancel", OK, {OK}, "", req_id)
        problem = check_response(text, resp)
        if problem:
            self.tally.bad("cancel", req_id, problem)

    def do_stream_mixed(self):
        items = []  # (id, text, extra fields, expected error code name or None)
        for _ in range(self.rng.randint(3, 8)):
            items.append((self.next_id("stream"), self.article(), {}, None))
        bad = [
            ("", {}, "INVALID_ARGUMENT"),  # text, extra fields (None: an article), code
            (" \n ", {}, "INVALID_ARGUMENT"),
            (None, {"summary": self.pb.SummaryOptions(ratio=2.0)}, "INVALID_ARGUMENT"),
            (None, {"tasks": [42]}, "INVALID_ARGUMENT"),
            (self.inputs.over_limit, {}, "INVALID_ARGUMENT"),
        ]
        for _ in range(self.rng.randint(1, 3)):
            text, fields, code = self.rng.choice(bad)
            pos = self.rng.randint(1, len(items) - 1)  # in the middle
            items.insert(pos, (self.next_id("stream_bad"), text if text is not None else self.article(), fields, code))
        by_id = {i: (t, f, c) for i, t, f, c in items}

        def requests():
            for i, t, f, _ in items:
                yield self.pb.AnalyzeRequest(id=i, text=t, **f)

        seen = collections.Counter()
        try:
            for resp in self.stub.AnalyzeStream(requests(), timeout=NORMAL_TIMEOUT * 2):
                seen[resp.id] += 1
                if resp.id not in by_id:
                    self.tally.bad("stream", resp.id, "answer for an id never sent")
                    continue
                text, _, want = by_id[resp.id]
                got = _code_name(resp.error.code) if resp.HasField("error") else None
                kind = "stream_item_bad" if want else "stream_item"
                allowed = {want} if want else allowed_for_item(resp.error.message, VALID)
                self.tally.record(kind, got or OK, allowed, resp.error.message, resp.id)
                if got is None:
                    problem = check_response(text, resp)
                    if problem:
                        self.tally.bad("stream", resp.id, problem)
            final = OK
            detail = ""
        except grpc.RpcError as e:
            final, detail = code_of(e), e.details() or ""
        self.tally.record("stream", final, VALID, detail)
        with self.tally.lock:
            self.tally.stream_items += len(items)
            unanswered = [i for i in by_id if seen[i] == 0]
            if final == OK:
                self.tally.stream_lost += len(unanswered)
            else:
                # The stream's deadline passed: its unanswered items were dropped.
                self.tally.dropped_ids.update(unanswered)
            self.tally.stream_duplicates += sum(n - 1 for n in seen.values() if n > 1)

    def do_info(self):
        try:
            info = self.stub.GetInfo(self.pb.GetInfoRequest(), timeout=10)
            self.tally.record("info", OK, {OK})
            if info.limits.max_article_chars != self.inputs.max_chars:
                self.tally.bad("info", "", f"limit {info.limits.max_article_chars}")
        except grpc.RpcError as e:
            self.tally.record("info", code_of(e), {OK}, e.details() or "")
        status = health(self.channel)
        self.tally.record("health", status, {"SERVING"})


_CODES = {c.value[0]: c.name for c in grpc.StatusCode}


def _code_name(code):
    return _CODES.get(code, f"CODE_{code}")


def health(channel, service=""):
    """grpc.health.v1 Check without generated stubs: the request is one
    optional string field, the answer one enum field (1 = SERVING)."""
    raw = service.encode()
    req = (b"\x0a" + bytes([len(raw)]) + raw) if raw else b""
    call = channel.unary_unary(
        "/grpc.health.v1.Health/Check",
        request_serializer=lambda b: b,
        response_deserializer=lambda b: b,
    )
    try:
        resp = call(req, timeout=10)
    except grpc.RpcError as e:
        return code_of(e)
    value = resp[1] if len(resp) >= 2 and resp[0] == 0x08 else 0
    return {0: "UNKNOWN", 1: "SERVING", 2: "NOT_SERVING", 3: "SERVICE_UNKNOWN"}.get(value, f"STATUS_{value}")


def read_rss(pid):
    out = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                out[key] = int(value.split()[0])  # kB
    return out


class RssSampler(threading.Thread):
    def __init__(self, pid, every):
        super().__init__(name="rss", daemon=True)
        self.pid, self.every = pid, every
        self.samples = []  # (t, rss_kb, hwm_kb)
        self.done = threading.Event()
        self.t0 = time.monotonic()

    def sample(self):
        r = read_rss(self.pid)
        self.samples.append((time.monotonic() - self.t0, r["VmRSS"], r["VmHWM"]))

    def run(self):
        while not self.done.wait(self.every):
            try:
                self.sample()
            except OSError:
                return


def server_log_facts(path):
    """Panic lines and the ids the server logged as analyzed, from its log."""
    panics, analyzed = [], collections.Counter()
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            if "panicked" in line:
                panics.append(line.strip()[:300])
            if '"analyzed"' in line:
                try:
                    entry = json.loads(line)
                except json.JSONDecodeError:
                    continue
                # tracing's JSON layer may nest the fields or flatten them.
                fields = entry.get("fields", entry)
                if fields.get("message") == "analyzed":
                    analyzed[fields.get("id", "")] += 1
    return panics, analyzed


def mb(kb):
    return f"{kb / 1024:.1f} MiB"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--target", required=True, help="host:port of the server")
    ap.add_argument("--server-pid", type=int, required=True)
    ap.add_argument("--server-log", type=Path, required=True, help="its JSON log")
    ap.add_argument("--gen", type=Path, required=True, help="generated Python stubs")
    ap.add_argument("--articles", type=Path, required=True, help="ant_articles.jsonl")
    ap.add_argument("--seconds", type=float, default=600)
    ap.add_argument("--clients", type=int, default=4)
    ap.add_argument("--max-article-chars", type=int, default=200_000)
    ap.add_argument("--max-message-bytes", type=int, default=4 * 1024 * 1024)
    ap.add_argument("--rss-every", type=float, default=5.0)
    ap.add_argument("--no-huge", dest="huge", action="store_false", help="skip near-limit articles")
    ap.add_argument("--only", default="", help="comma-separated kinds to send (default: the whole mix)")
    ap.add_argument("--seed", type=int, default=6)
    ap.add_argument("--report", type=Path, required=True, help="Markdown report to write")
    args = ap.parse_args()

    pb, rpc = load_stubs(args.gen)
    rng = random.Random(args.seed)
    inputs = Inputs(load_articles(args.articles), args.max_article_chars, args.max_message_bytes, rng)
    tally = Tally()

    channel = grpc.insecure_channel(args.target)
    deadline = time.monotonic() + 600
    while health(channel) != "SERVING":
        if time.monotonic() > deadline:
            sys.exit("server never became SERVING")
        time.sleep(1)

    sampler = RssSampler(args.server_pid, args.rss_every)
    sampler.sample()
    sampler.start()
    started = time.monotonic()
    stop_at = started + args.seconds
    clients = [Client(n, args, pb, rpc, inputs, tally, stop_at) for n in range(args.clients)]
    for c in clients:
        c.start()
    for c in clients:
        c.join()
    elapsed = time.monotonic() - started
    sampler.done.set()
    sampler.join()
    sampler.sample()
    final_health = health(channel)
    final_health_svc = health(channel, "khulasa.v1.Summarizer")
    channel.close()
    # Let the log catch up with answers written just before the end.
    time.sleep(1)
    panics, analyzed = server_log_facts(args.server_log)

    # Lost: an OK the client got that the server never logged, an id the
    # server analyzed twice, or one it analyzed whose answer the client never
    # got although it neither cancelled nor timed out, plus stream items
    # that never got an answer.
    unlogged = sorted(tally.ok_ids - set(analyzed))
    twice = sorted(i for i, n in analyzed.items() if n > 1)
    vanished = sorted(set(analyzed) - tally.ok_ids - tally.dropped_ids)
    lost = len(unlogged) + len(twice) + len(vanished) + tally.stream_lost + tally.stream_duplicates

    samples = sampler.samples
    rss = [s[1] for s in samples]
    # Steady state: the first sample after a tenth of the run (models warm).
    warm = next((s for s in samples if s[0] >= args.seconds / 10), samples[0])
    summary = {
        "seconds": round(elapsed, 1),
        "clients": args.clients,
        "requests": tally.requests,
        "rate_per_s": round(tally.requests / elapsed, 2),
        "by_kind_and_code": {f"{k} {c}": n for (k, c), n in sorted(tally.codes.items())},
        "unexpected": len(tally.unexpected),
        "bad_results": len(tally.bad_results),
        "stream_items": tally.stream_items,
        "results_lost": lost,
        "server_analyzed": sum(analyzed.values()),
        "rss_start_kb": rss[0],
        "rss_warm_kb": warm[1],
        "rss_end_kb": rss[-1],
        "rss_max_kb": max(rss),
        "hwm_end_kb": samples[-1][2],
        "panics": len(panics),
        "health": final_health,
        "health_summarizer": final_health_svc,
    }
    by_code = collections.Counter()
    for (_, c), n in tally.codes.items():
        by_code[c] += n
    summary["by_code"] = dict(sorted(by_code.items()))

    lines = [
        "# Soak report",
        "",
        f"{elapsed:.0f} s, {args.clients} concurrent clients, {tally.requests} calls "
        f"({summary['rate_per_s']}/s), {tally.stream_items} of them inside streams counted per item too.",
        "",
        "| check | value |",
        "| --- | --- |",
        f"| panics in the server log | {len(panics)} |",
        f"| results lost | {lost} (unlogged OK {len(unlogged)}, analyzed twice {len(twice)}, "
        f"analyzed but never answered {len(vanished)}, stream items unanswered {tally.stream_lost}, "
        f"duplicated {tally.stream_duplicates}) |",
        f"| unexpected statuses | {len(tally.unexpected)} |",
        f"| OK answers whose spans do not slice the text | {len(tally.bad_results)} |",
        f"| health at the end (overall / Summarizer) | {final_health} / {final_health_svc} |",
        f"| RSS at start / after warm-up ({warm[0]:.0f} s) / end / max | {mb(rss[0])} / {mb(warm[1])} / "
        f"{mb(rss[-1])} / {mb(max(rss))} |",
        f"| VmHWM at the end | {mb(samples[-1][2])} |",
        f"| articles the server analyzed | {sum(analyzed.values())} |",
        "",
        "## Calls by status code",
        "",
        "| code | calls |",
        "| --- | --- |",
        *[f"| {c} | {n} |" for c, n in sorted(by_code.items())],
        "",
        "## Calls by kind and status code",
        "",
        "| kind | code | calls | median latency of OK |",
        "| --- | --- | --- | --- |",
    ]
    for (k, c), n in sorted(tally.codes.items()):
        lat = sorted(tally.latency.get(k, []))
        med = f"{lat[len(lat) // 2]:.2f} s" if c == OK and lat else ""
        lines.append(f"| {k} | {c} | {n} | {med} |")
    lines += ["", "## RSS samples (every ~%g s)" % args.rss_every, "", "| t (s) | VmRSS | VmHWM |", "| --- | --- | --- |"]
    step = max(1, len(samples) // 25)
    shown = samples[::step] + ([samples[-1]] if (len(samples) - 1) % step else [])
    lines += [f"| {t:.0f} | {mb(r)} | {mb(h)} |" for t, r, h in shown]
    for title, rows in [
        ("Unexpected statuses", tally.unexpected),
        ("Bad results", tally.bad_results),
        ("Panics", [(p,) for p in panics]),
        ("Lost", [(i, "unlogged OK") for i in unlogged] + [(i, "analyzed twice") for i in twice]
         + [(i, "analyzed, never answered") for i in vanished]),
    ]:
        if rows:
            lines += ["", f"## {title} (first 20)", ""] + [f"- {' | '.join(map(str, r))}" for r in rows[:20]]
    args.report.write_text("\n".join(lines) + "\n", encoding="utf-8")
    args.report.with_suffix(".json").write_text(json.dumps(summary, indent=2) + "\n")
    print("\n".join(lines[:16]))

    failed = panics or lost or tally.unexpected or tally.bad_results or final_health != "SERVING"
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
