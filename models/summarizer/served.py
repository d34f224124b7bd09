"""Optional check of the integration: the k=1 and k=3 picks of a running
service that loads models/summarizer-ext (the learned scorer + MMR in Rust),
for the dev articles, cached to $SUMM_WORK/served.jsonl; `evaluate.py
--served` adds them as a column.

    python models/summarizer/served.py --endpoint 127.0.0.1:50072
"""
import argparse
import json
import sys

import grpc

from common import WORK, load_articles, read_jsonl, split_order, stubs


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--endpoint", default="127.0.0.1:50072")
    ap.add_argument("--out", default=str(WORK / "served.jsonl"))
    args = ap.parse_args()
    pb, rpc = stubs()
    arts = load_articles()
    dev, _ = split_order(len(arts))
    segs = read_jsonl(WORK / "segments.jsonl")
    todo = [i for i in dev if segs.get(arts[i]["docno"], {}).get("spans")]

    def requests():
        for i in todo:
            for k in (1, 3):
                yield pb.AnalyzeRequest(id=f"{i}|{k}", text=arts[i]["text"], language="ar",
                                        summary=pb.SummaryOptions(max_sentences=k),
                                        tasks=[pb.TASK_SUMMARY])

    stub = rpc.SummarizerStub(grpc.insecure_channel(args.endpoint))
    recs, left = {}, 2 * len(todo)
    call = stub.AnalyzeStream(requests())
    for resp in call:
        i, k = map(int, resp.id.split("|"))
        doc = arts[i]["docno"]
        pos = {tuple(s): j for j, s in enumerate(segs[doc]["spans"])}
        recs.setdefault(doc, {"docno": doc})[f"k{k}"] = [
            pos[(s.start, s.end)] for s in resp.summary.sentences]
        left -= 1
        if left == 0:
            call.cancel()  # every answer is in; do not wait for the stream's end
            break
    with open(args.out, "w", encoding="utf-8") as f:
        for r in recs.values():
            f.write(json.dumps(r) + "\n")
    info = stub.GetInfo(pb.GetInfoRequest(), timeout=10)
    models = [f"{m.name} {m.version} {m.sha256[:12]}" for m in info.models]
    print(f"{len(recs)} articles; service models: {models}", file=sys.stderr)


if __name__ == "__main__":
    main()
