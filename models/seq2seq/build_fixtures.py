"""Builds the seq2seq test fixtures: tiny, randomly initialised (seeded) mT5
and mBART models with a small Arabic tokenizer, exported to ONNX in the
Hugging Face Optimum layout, plus the token ids that `transformers`'
`generate()` produces for a few Arabic inputs (greedy and beam search).

The Rust engine (src/models/seq2seq) must reproduce these ids token for
token; see tests/seq2seq.rs. The weights are random, so the outputs mean
nothing as text: they only pin down the search algorithm.

Usage (from the repo root):
    python models/seq2seq/build_fixtures.py [--data ../shared/data/ant_articles.jsonl]

The corpus is only read (titles train the tokenizer); nothing of it is
written into the repo.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import sys
import tempfile
from pathlib import Path

import torch
from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers
from transformers import (
    GenerationConfig,
    MBartConfig,
    MBartForConditionalGeneration,
    MT5Config,
    MT5ForConditionalGeneration,
    PreTrainedTokenizerFast,
)

HERE = Path(__file__).resolve().parent
OUT = HERE / "fixtures"
VOCAB = 1000
TITLES = 2000
SEED = 20261129

# Hand-written inputs (not taken from the corpus).
INPUTS = [
    "أعلنت وزارة الصحة في تونس عن حملة تلقيح جديدة تشمل كل الولايات.",
    "قال رئيس الحكومة إن الاقتصاد سيشهد نموا خلال السنة القادمة.",
    "فاز المنتخب الوطني لكرة القدم على نظيره المغربي بهدفين دون رد.",
    "افتتح مهرجان قرطاج الدولي دورته الجديدة بعرض موسيقي كبير.",
    "ارتفعت أسعار النفط في الأسواق العالمية بعد قرار منظمة أوبك.",
]

# generate() keyword arguments for every recorded case.
CASES = [
    {"name": "greedy", "num_beams": 1, "max_new_tokens": 24},
    {"name": "greedy_ngram", "num_beams": 1, "max_new_tokens": 24, "no_repeat_ngram_size": 2},
    {
        "name": "beam4_lp",
        "num_beams": 4,
        "max_new_tokens": 20,
        "length_penalty": 1.5,
        "no_repeat_ngram_size": 3,
    },
    {
        "name": "beam3_early",
        "num_beams": 3,
        "max_new_tokens": 16,
        "length_penalty": 0.6,
        "no_repeat_ngram_size": 2,
        "early_stopping": True,
    },
    {
        "name": "beam4_never",
        "num_beams": 4,
        "max_new_tokens": 12,
        "length_penalty": 2.0,
        "early_stopping": "never",
    },
]


def read_titles(path: Path, limit: int) -> list[str]:
    titles = []
    with path.open(encoding="utf-8") as f:
        for line in f:
            title = json.loads(line).get("title", "").strip()
            if title:
                titles.append(title)
            if len(titles) >= limit:
                break
    if len(titles) < limit // 2:
        sys.exit(f"only {len(titles)} titles in {path}")
    return titles


def train_tokenizer(titles: list[str], specials: list[str], unk: str) -> Tokenizer:
    """A SentencePiece-like Unigram tokenizer (Metaspace), as mT5/mBART use."""
    tok = Tokenizer(models.Unigram())
    tok.normalizer = normalizers.NFKC()
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always")
    tok.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="always")
    trainer = trainers.UnigramTrainer(
        vocab_size=VOCAB, special_tokens=specials, unk_token=unk, shrinking_factor=0.75
    )
    tok.train_from_iterator(titles, trainer=trainer)
    return tok


def mt5(titles: list[str]):
    tok = train_tokenizer(titles, ["<pad>", "</s>", "<unk>"], "<unk>")
    tok.post_processor = processors.TemplateProcessing(
        single="$A </s>", special_tokens=[("</s>", tok.token_to_id("</s>"))]
    )
    hf_tok = PreTrainedTokenizerFast(
        tokenizer_object=tok, pad_token="<pad>", eos_token="</s>", unk_token="<unk>"
    )
    config = MT5Config(
        vocab_size=tok.get_vocab_size(),
        d_model=64,
        d_kv=16,
        d_ff=128,
        num_layers=2,
        num_decoder_layers=2,
        num_heads=4,
        relative_attention_num_buckets=16,
        relative_attention_max_distance=64,
        dropout_rate=0.0,
        pad_token_id=0,
        eos_token_id=1,
        decoder_start_token_id=0,
        tie_word_embeddings=False,
    )
    torch.manual_seed(SEED)
    model = MT5ForConditionalGeneration(config).eval()
    with torch.no_grad():
        # Wider logits so the argmax depends on the input, and an EOS row
        # strong enough that some (not all) hypotheses end early.
        model.lm_head.weight.mul_(3.0)
        model.lm_head.weight[config.eos_token_id].mul_(2.2)
    gen = GenerationConfig(
        decoder_start_token_id=0, eos_token_id=1, pad_token_id=0, max_length=64, num_beams=1
    )
    return model, hf_tok, gen


def mbart(titles: list[str]):
    tok = train_tokenizer(titles, ["<s>", "<pad>", "</s>", "<unk>"], "<unk>")
    tok.add_special_tokens(["ar_AR"])
    lang = tok.token_to_id("ar_AR")
    tok.post_processor = processors.TemplateProcessing(
        single="$A </s> ar_AR",
        special_tokens=[("</s>", tok.token_to_id("</s>")), ("ar_AR", lang)],
    )
    hf_tok = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        bos_token="<s>",
        pad_token="<pad>",
        eos_token="</s>",
        unk_token="<unk>",
        additional_special_tokens=["ar_AR"],
    )
    config = MBartConfig(
        vocab_size=tok.get_vocab_size(),
        d_model=64,
        encoder_layers=2,
        decoder_layers=2,
        encoder_attention_heads=4,
        decoder_attention_heads=4,
        encoder_ffn_dim=128,
        decoder_ffn_dim=128,
        max_position_embeddings=128,
        dropout=0.0,
        attention_dropout=0.0,
        activation_dropout=0.0,
        init_std=0.1,
        scale_embedding=True,
        bos_token_id=0,
        pad_token_id=1,
        eos_token_id=2,
        decoder_start_token_id=2,
        forced_bos_token_id=lang,
        forced_eos_token_id=2,
    )
    torch.manual_seed(SEED + 1)
    model = MBartForConditionalGeneration(config).eval()
    with torch.no_grad():
        # With the head tied to the embeddings, a random decoder would mostly
        # copy its last token; stronger sublayer outputs drown the residual.
        for layer in model.model.decoder.layers:
            for lin in (layer.self_attn.out_proj, layer.encoder_attn.out_proj, layer.fc2):
                lin.weight.mul_(4.0)
        model.final_logits_bias[0, config.eos_token_id] = 2.0
    gen = GenerationConfig(
        bos_token_id=0,
        decoder_start_token_id=2,
        eos_token_id=2,
        pad_token_id=1,
        forced_bos_token_id=lang,
        forced_eos_token_id=2,
        max_length=64,
        num_beams=1,
    )
    return model, hf_tok, gen


def export(model, tok, gen, out: Path, layout: str, save_hf: Path | None) -> None:
    from optimum.exporters.onnx import main_export

    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp, "hf")
        model.generation_config = gen
        model.save_pretrained(src)
        tok.save_pretrained(src)
        gen.save_pretrained(src)
        if save_hf is not None:
            # The PyTorch checkpoint, for check_generate.py (not committed).
            shutil.copytree(src, save_hf / out.name, dirs_exist_ok=True)
        onnx_dir = Path(tmp, "onnx")
        main_export(
            str(src), output=onnx_dir, task="text2text-generation-with-past", opset=17,
            do_validation=False,
        )
        if out.exists():
            shutil.rmtree(out)
        out.mkdir(parents=True)
        keep = ["encoder_model.onnx", "tokenizer.json", "config.json", "generation_config.json"]
        if layout == "merged":
            keep.append("decoder_model_merged.onnx")
        else:
            keep += ["decoder_model.onnx", "decoder_with_past_model.onnx"]
        for name in keep:
            shutil.copy(onnx_dir / name, out / name)


def record(model, tok, gen, out: Path, family: str, layout: str) -> dict:
    cases = []
    for text in INPUTS:
        ids = tok(text, return_tensors="pt").input_ids
        for case in CASES:
            kwargs = {k: v for k, v in case.items() if k != "name"}
            with torch.no_grad():
                seq = model.generate(
                    input_ids=ids, attention_mask=torch.ones_like(ids), generation_config=gen,
                    do_sample=False, **kwargs,
                )[0].tolist()
            cases.append({
                "name": case["name"],
                "text": text,
                "input_ids": ids[0].tolist(),
                "params": kwargs,
                # Without the decoder start token, which every sequence has first.
                "output_ids": seq[1:],
            })
    return {"family": family, "layout": layout, "cases": cases}


def check_ort(out: Path, fixture: dict) -> int:
    """Replays the cases with Optimum's own ONNX Runtime model; returns mismatches."""
    from optimum.onnxruntime import ORTModelForSeq2SeqLM

    model = ORTModelForSeq2SeqLM.from_pretrained(out, use_cache=True, use_merged=fixture["layout"] == "merged")
    bad = 0
    for case in fixture["cases"]:
        ids = torch.tensor([case["input_ids"]])
        seq = model.generate(input_ids=ids, attention_mask=torch.ones_like(ids), do_sample=False, **case["params"])
        if seq[0].tolist()[1:] != case["output_ids"]:
            bad += 1
            print(f"  ORT mismatch: {case['name']}: {case['text'][:30]}", file=sys.stderr)
    return bad


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", type=Path, default=HERE.parents[2] / "shared" / "data" / "ant_articles.jsonl")
    ap.add_argument("--no-ort-check", action="store_true")
    ap.add_argument("--only", choices=["mt5", "mbart"])
    ap.add_argument("--save-hf", type=Path, help="also keep the PyTorch checkpoints here")
    args = ap.parse_args()
    random.seed(SEED)
    torch.manual_seed(SEED)
    titles = read_titles(args.data, TITLES)
    for family, build, layout in (("mt5", mt5, "split"), ("mbart", mbart, "merged")):
        if args.only and args.only != family:
            continue
        model, tok, gen = build(titles)
        out = OUT / family
        export(model, tok, gen, out, layout, args.save_hf)
        fixture = record(model, tok, gen, out, family, layout)
        (out / "expected.json").write_text(json.dumps(fixture, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
        summary = {}
        for c in fixture["cases"]:
            n = c["output_ids"]
            summary.setdefault(c["name"], []).append(f"{len(n)}{'e' if n and n[-1] == gen.eos_token_id else ''}")
        print(family, summary)
        if not args.no_ort_check:
            bad = check_ort(out, fixture)
            print(f"{family}: ORT replay mismatches: {bad}")


if __name__ == "__main__":
    main()
