"""Step 1: sentence spans, v1 scores and v1 picks (k=3 from the service;
k=1 = MMR's first pick, recovered exactly from the service's scores) of the
dev articles from the running Khulasa service, cached to
$SUMM_WORK/segments.jsonl (resumable).

    python models/summarizer/prepare.py --endpoint 127.0.0.1:50071
"""
import argparse
import json
import sys
import time

import grpc

from common import WORK, load_articles, read_jsonl, split_order, stubs


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--endpoint", default="127.0.0.1:50071")
    ap.add_argument("--train-limit", type=int, default=0,
                    help="also segment the first N training articles of the seeded shuffle "
                         "with the service (default 0: embed.py segments them itself)")
    ap.add_argument("--out", default=str(WORK / "segments.jsonl"))
    args = ap.parse_args()
    WORK.mkdir(parents=True, exist_ok=True)
    pb, rpc = stubs()
    arts = load_articles()
    dev, train = split_order(len(arts))
    train = train[:args.train_limit]
    done = read_jsonl(args.out)
    todo = [(i, True) for i in dev] + [(i, False) for i in train]
    todo = [(i, d) for i, d in todo if arts[i]["docno"] not in done]
    print(f"{len(done)} cached, {len(todo)} to do", file=sys.stderr)

    def requests():
        for i, is_dev in todo:
            text = arts[i]["text"]
            yield pb.AnalyzeRequest(id=f"{i}|all", text=text, language="ar",
                                    summary=pb.SummaryOptions(ratio=1.0),
                                    tasks=[pb.TASK_SUMMARY])
            if is_dev:
                yield pb.AnalyzeRequest(id=f"{i}|v1_3", text=text, language="ar",
                                        summary=pb.SummaryOptions(max_sentences=3),
                                        tasks=[pb.TASK_SUMMARY])

    need = {i: (2 if d else 1) for i, d in todo}
    partial = {}
    stub = rpc.SummarizerStub(grpc.insecure_channel(
        args.endpoint, options=[("grpc.max_receive_message_length", 64 << 20),
                                ("grpc.max_send_message_length", 64 << 20)]))
    t0, n_done = time.time(), 0
    with open(args.out, "a", encoding="utf-8") as out:
        for resp in stub.AnalyzeStream(requests()):
            i, kind = resp.id.split("|")
            i = int(i)
            rec = partial.setdefault(i, {"docno": arts[i]["docno"]})
            if resp.HasField("error") and resp.error.code != 0:
                rec["error_" + kind] = resp.error.message
                spans = []
            else:
                spans = [[s.start, s.end] for s in resp.summary.sentences]
                if kind == "all":
                    rec["v1_scores"] = [round(s.score, 6) for s in resp.summary.sentences]
            rec[kind] = spans
            need[i] -= 1
            if need[i] == 0:
                r = partial.pop(i)
                allspans = r["all"]
                pos = {tuple(s): j for j, s in enumerate(allspans)}
                if "v1_3" in r:
                    r["v1_3"] = [pos[tuple(s)] for s in r["v1_3"]]
                    # v1 with k=1 is MMR's first pick: the best-scored sentence
                    # of >= 4 words (first on ties), else the best-scored one.
                    text = arts[i]["text"]
                    sc = r.get("v1_scores", [])
                    full = [j for j, (a, b) in enumerate(allspans)
                            if len(text[a:b].split()) >= 4]
                    pool = full or list(range(len(allspans)))
                    r["v1_1"] = [max(pool, key=lambda j: (sc[j], -j))] if pool else []
                r["spans"] = r.pop("all")
                out.write(json.dumps(r) + "\n")
                n_done += 1
                if n_done % 200 == 0:
                    out.flush()
                    el = time.time() - t0
                    print(f"{n_done}/{len(todo)} {el:.0f}s {n_done / el:.1f} art/s",
                          file=sys.stderr, flush=True)
    print(f"done {n_done} in {time.time() - t0:.0f}s", file=sys.stderr)


if __name__ == "__main__":
    main()
