"""ROUGE of running services' own summaries on the dev split, at 1 and 3
sentences, with evaluate.py's metric (Arabic-normalized ROUGE F1 x 100
against the headline): to compare server configurations that must not
change summaries much, e.g. the int8 e5 against the fp32 one
(`khulasa-server --encoder models/variants/e5-small-fp32`, built by
`FP32=1 make models`).

    python models/summarizer/served_rouge.py --endpoint 127.0.0.1:50081 \
        --endpoint 127.0.0.1:50082

Needs numpy, grpcio and grpcio-tools (e.g. `.venv-soak` after `make soak`'s
venv step, plus numpy). Prints a Markdown table and, for two endpoints, how
often their picks agree. With `--baselines`, also Lead-k, the greedy oracle
(R-1 + R-2, forced to k) and, with sumy==0.11.0 installed, LexRank and
TextRank, all over the first endpoint's own sentences (a ratio-1.0 request
returns all of them), so every row picks from the same sentences.
"""
import argparse
import sys

import grpc

from common import (analyze_all, every_sentence, load_articles, rouge_all, split_order, stubs, summary_spans,
                    tokens)

KS = (1, 3)


def picks(endpoint, pb, rpc, dev):
    """{(article index, k): (summary text, span tuple)} from one service."""
    reqs = [pb.AnalyzeRequest(id=f"{i}|{k}", text=art["text"], language="ar",
                              summary=pb.SummaryOptions(max_sentences=k), tasks=[pb.TASK_SUMMARY])
            for i, art in dev for k in KS]
    out = {tuple(map(int, rid.split("|"))): (resp.summary.text, tuple((s.start, s.end) for s in resp.summary.sentences))
           for rid, resp in analyze_all(endpoint, rpc, reqs).items()}
    stub = rpc.SummarizerStub(grpc.insecure_channel(endpoint))
    info = stub.GetInfo(pb.GetInfoRequest(), timeout=10)
    models = ", ".join(f"{m.name} {m.sha256[:12]}" for m in info.models)
    return out, models


def cell(scores):
    """ "R-1 / R-2 / R-L" x 100, the means of rouge_all triples."""
    return " / ".join(f"{100 * sum(s[j] for s in scores) / len(scores):.2f}" for j in range(3))


def sentences(endpoint, pb, rpc, dev):
    """{article index: [sentence text]}: the service's own sentences."""
    text = {str(i): art["text"] for i, art in dev}
    spans = summary_spans(endpoint, pb, rpc, [(i, t, every_sentence(pb)) for i, t in text.items()])
    return {int(i): [text[i][s:e] for s, e in sp] for i, sp in spans.items()}


def baseline_rows(endpoint, pb, rpc, dev):
    """{system: [cell per k]} for Lead-k, LexRank, TextRank and the oracle."""
    # Imported here: check_served.py imports this module with models/ner,
    # which has an evaluate.py of its own, earlier on the path.
    from evaluate import oracle_forced, sumy_pick
    texts = sentences(endpoint, pb, rpc, dev)
    toks = {i: ([tokens(t) for t in texts[i]], tokens(art["title"])) for i, art in dev}
    systems = {"Lead-k": lambda st, tt, texts, k: list(range(min(k, len(st)))),
               "oracle (greedy, forced to k)": lambda st, tt, texts, k: oracle_forced(st, tt, k)}
    try:
        import sumy  # noqa: F401
        systems["LexRank (sumy)"] = lambda st, tt, texts, k: sumy_pick("lexrank", texts, k)
        systems["TextRank (sumy)"] = lambda st, tt, texts, k: sumy_pick("textrank", texts, k)
    except ImportError:
        print("(sumy not installed: no LexRank and TextRank rows)", file=sys.stderr)
    rows = {}
    for name, pick in systems.items():
        cells = []
        for k in KS:
            scores = []
            for i, _ in dev:
                st, tt = toks[i]
                cand = [t for j in sorted(pick(st, tt, texts[i], k)) for t in st[j]]
                scores.append(rouge_all(cand, tt))
            cells.append(cell(scores))
        rows[name] = cells
    return rows


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--endpoint", action="append", required=True)
    ap.add_argument("--limit", type=int, default=None, help="first N dev articles only")
    ap.add_argument("--baselines", action="store_true",
                    help="add Lead-k, LexRank, TextRank and the oracle over the service's sentences")
    args = ap.parse_args()
    pb, rpc = stubs()
    arts = load_articles()
    dev_idx, _ = split_order(len(arts))
    dev = [(i, arts[i]) for i in dev_idx[:args.limit] if arts[i]["text"].strip()]

    results = []
    print(f"{len(dev)} dev articles\n")
    print("| endpoint | models | k=1 R-1 / R-2 / R-L | k=3 R-1 / R-2 / R-L |")
    print("| --- | --- | --- | --- |")
    for endpoint in args.endpoint:
        got, models = picks(endpoint, pb, rpc, dev)
        results.append(got)
        cells = []
        for k in KS:
            cells.append(cell([rouge_all(tokens(got[(i, k)][0]), tokens(art["title"]))
                               for i, art in dev]))
        print(f"| {endpoint} | {models} | {cells[0]} | {cells[1]} |")
    if args.baselines:
        for name, cells in baseline_rows(args.endpoint[0], pb, rpc, dev).items():
            print(f"| {name} | (sentences of {args.endpoint[0]}) | {cells[0]} | {cells[1]} |")
    if len(results) == 2:
        for k in KS:
            same = sum(results[0][(i, k)][1] == results[1][(i, k)][1] for i, _ in dev)
            print(f"\nk={k}: identical picks on {same}/{len(dev)} articles")


if __name__ == "__main__":
    main()
