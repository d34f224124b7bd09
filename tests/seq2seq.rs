//! The seq2seq engine against `transformers`' own `generate()`: tiny random
//! mT5 (split decoder) and mBART (merged decoder) exports with ids recorded
//! by `models/seq2seq/build_fixtures.py` must be reproduced token for token,
//! greedy and beam search.

use std::{
    path::PathBuf,
    sync::OnceLock,
    time::{Duration, Instant},
};

use khulasa::{
    models::{
        seq2seq::{EarlyStopping, GenerationError, GenerationParams, Seq2SeqModel},
        Runtime, SessionLayout,
    },
    stop::{StopSignal, Stopped},
};
use serde_json::Value;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// One ONNX Runtime environment per process.
fn runtime() -> &'static Runtime {
    static RUNTIME: OnceLock<Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        let models = repo().join("models");
        Runtime::load(&Runtime::library_path(&models)).expect("ONNX Runtime (run `make models`)")
    })
}

fn fixture_dir(family: &str) -> PathBuf {
    repo().join("models/seq2seq/fixtures").join(family)
}

fn load(family: &str) -> Seq2SeqModel {
    let layout = SessionLayout {
        sessions: 1,
        intra_threads: 1,
    };
    Seq2SeqModel::load(runtime(), &fixture_dir(family), layout).expect("load fixture model")
}

fn expected(family: &str) -> Value {
    let text = std::fs::read_to_string(fixture_dir(family).join("expected.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

fn ids(v: &Value) -> Vec<u32> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_u64().unwrap() as u32)
        .collect()
}

/// The recorded `generate()` keyword arguments over the model's defaults.
fn params(model: &Seq2SeqModel, p: &Value) -> GenerationParams {
    let mut params = model.default_params();
    let usize_of = |k: &str| p.get(k).and_then(Value::as_u64).map(|n| n as usize);
    if let Some(n) = usize_of("num_beams") {
        params.num_beams = n;
    }
    if let Some(n) = usize_of("max_new_tokens") {
        params.max_new_tokens = n;
    }
    if let Some(n) = usize_of("no_repeat_ngram_size") {
        params.no_repeat_ngram_size = n;
    }
    if let Some(lp) = p.get("length_penalty").and_then(Value::as_f64) {
        params.length_penalty = lp as f32;
    }
    match p.get("early_stopping") {
        Some(Value::Bool(true)) => params.early_stopping = EarlyStopping::True,
        Some(Value::Bool(false)) => params.early_stopping = EarlyStopping::False,
        Some(Value::String(s)) if s == "never" => params.early_stopping = EarlyStopping::Never,
        None => {}
        Some(other) => panic!("early_stopping {other}"),
    }
    params
}

/// Replays every recorded case; returns (cases, how many used beams).
fn check_family(family: &str) -> (usize, usize) {
    let model = load(family);
    let fixture = expected(family);
    let never = StopSignal::never();
    let cases = fixture["cases"].as_array().unwrap();
    let mut beams = 0;
    let mut failures = Vec::new();
    for case in cases {
        let name = case["name"].as_str().unwrap();
        let text = case["text"].as_str().unwrap();
        let input = ids(&case["input_ids"]);
        let want = ids(&case["output_ids"]);
        let params = params(&model, &case["params"]);
        if params.num_beams > 1 {
            beams += 1;
        }
        let (encoded, truncated) = model.encode(text, params.max_input_tokens).unwrap();
        assert_eq!(encoded, input, "{family}: tokenizer differs for {text}");
        assert!(!truncated);
        let got = model.generate(text, &params, &never).unwrap();
        if got.ids != want {
            failures.push(format!(
                "{family} {name} {text}\n  want {want:?}\n  got  {:?}",
                got.ids
            ));
        }
        assert_eq!(got.input_tokens, input.len());
        let from_ids = model.generate_from_ids(&input, &params, &never).unwrap();
        assert_eq!(from_ids, got.ids, "{family} {name}: ids path differs");
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    (cases.len(), beams)
}

#[test]
fn mt5_split_decoder_matches_transformers_token_for_token() {
    let (cases, beams) = check_family("mt5");
    assert!(cases >= 10 && beams >= 5, "{cases} cases, {beams} beam");
}

#[test]
fn mbart_merged_decoder_matches_transformers_token_for_token() {
    let (cases, beams) = check_family("mbart");
    assert!(cases >= 10 && beams >= 5, "{cases} cases, {beams} beam");
}

#[test]
fn defaults_come_from_generation_config() {
    let model = load("mbart");
    let p = model.default_params();
    let lang = model.config().forced_bos_token_id;
    assert!(lang.is_some(), "mBART forces its language token");
    assert_eq!(p.forced_bos_token_id, lang);
    assert_eq!(p.num_beams, 1);
    assert_eq!(p.max_new_tokens, 63, "max_length 64 minus the start token");
    assert_eq!(p.max_input_tokens, Some(128));
    let never = StopSignal::never();
    let out = model
        .generate("خبر قصير", &p, &never)
        .expect("generate with defaults");
    assert_eq!(out.ids.first().copied(), lang);
    assert!(out.ids.len() <= 63);

    let t5 = load("mt5");
    assert_eq!(t5.config().decoder_start_token_id, 0, "T5 starts from pad");
    assert_eq!(t5.default_params().forced_bos_token_id, None);
    assert_eq!(
        t5.default_params().max_input_tokens,
        Some(khulasa::models::seq2seq::config::T5_MAX_INPUT_TOKENS),
        "a T5 input is capped although its positions are relative"
    );
}

#[test]
fn long_input_is_cut_keeping_trailing_special_tokens() {
    let model = load("mbart");
    let text = "أعلنت وزارة الصحة عن حملة تلقيح جديدة في كل الولايات ".repeat(40);
    let (full, _) = model.encode(&text, None).unwrap();
    let (cut, truncated) = model.encode(&text, Some(128)).unwrap();
    assert!(full.len() > 128 && truncated);
    assert_eq!(cut.len(), 128);
    assert_eq!(
        cut[126..],
        full[full.len() - 2..],
        "EOS and language code kept"
    );
    let mut p = model.default_params();
    p.max_new_tokens = 4;
    let out = model.generate(&text, &p, &StopSignal::never()).unwrap();
    assert!(out.truncated && out.input_tokens == 128);
}

#[test]
fn cancelled_or_late_generation_stops_with_an_error() {
    let model = load("mt5");
    let mut p = model.default_params();
    p.num_beams = 4;
    p.max_new_tokens = 200;
    let text = "قال رئيس الحكومة إن الاقتصاد سيشهد نموا.";

    let cancelled = StopSignal::never();
    cancelled.cancel();
    let started = Instant::now();
    let err = model.generate(text, &p, &cancelled).unwrap_err();
    assert!(
        matches!(err, GenerationError::Stopped(Stopped::Cancelled)),
        "{err}"
    );
    assert!(started.elapsed() < Duration::from_millis(200));

    let late = StopSignal::new(Some(Instant::now()));
    let err = model.generate(text, &p, &late).unwrap_err();
    assert!(
        matches!(err, GenerationError::Stopped(Stopped::DeadlineExceeded)),
        "{err}"
    );

    // A signal cancelled from another thread during generation stops it
    // between steps (the tiny model alone would take a few hundred steps' worth).
    let stop = StopSignal::never();
    std::thread::scope(|s| {
        s.spawn(|| {
            std::thread::sleep(Duration::from_millis(5));
            stop.cancel();
        });
        let r = model.generate(text, &p, &stop);
        // Either it finished first (EOS early) or it was stopped.
        if let Err(e) = r {
            assert!(
                matches!(e, GenerationError::Stopped(Stopped::Cancelled)),
                "{e}"
            );
        }
    });
}

#[test]
fn invalid_params_are_rejected() {
    let model = load("mt5");
    let never = StopSignal::never();
    for bad in [
        GenerationParams {
            num_beams: 0,
            ..model.default_params()
        },
        GenerationParams {
            max_new_tokens: 0,
            ..model.default_params()
        },
        GenerationParams {
            length_penalty: f32::NAN,
            ..model.default_params()
        },
        GenerationParams {
            forced_bos_token_id: Some(u32::MAX),
            ..model.default_params()
        },
    ] {
        let err = model.generate("نص", &bad, &never).unwrap_err();
        assert!(matches!(err, GenerationError::InvalidParams(_)), "{err}");
    }
}

#[test]
fn a_directory_without_a_usable_decoder_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let src = fixture_dir("mt5");
    for name in [
        "config.json",
        "generation_config.json",
        "tokenizer.json",
        "encoder_model.onnx",
        "decoder_model.onnx",
    ] {
        std::fs::copy(src.join(name), dir.path().join(name)).unwrap();
    }
    let layout = SessionLayout {
        sessions: 1,
        intra_threads: 1,
    };
    let err = match Seq2SeqModel::load(runtime(), dir.path(), layout) {
        Ok(_) => panic!("loaded without decoder_with_past_model.onnx"),
        Err(e) => e.to_string(),
    };
    assert!(err.contains("no decoder"), "{err}");

    std::fs::remove_file(dir.path().join("config.json")).unwrap();
    let err = match Seq2SeqModel::load(runtime(), dir.path(), layout) {
        Ok(_) => panic!("loaded without config.json"),
        Err(e) => e.to_string(),
    };
    assert!(err.contains("config.json"), "{err}");
}
