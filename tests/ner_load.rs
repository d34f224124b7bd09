//! Loading the shipped NER model with a `config.json` that disagrees with
//! its `model.onnx` is a clear error at load, never a failure on some later
//! request: the character n-gram input named or left out, more n-gram
//! buckets than the model's table holds, a misspelt field.

use std::{path::Path, sync::OnceLock};

use khulasa::models::{Batching, Runtime, SessionLayout, TokenClassifier};
use serde_json::Value;

mod common;

fn runtime() -> &'static Runtime {
    static RUNTIME: OnceLock<Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        let models = common::models_dir();
        Runtime::load(&Runtime::library_path(&models)).expect("ONNX Runtime (run `make models`)")
    })
}

/// Loads a copy of `models/ner-ar` whose `config.json` is the shipped one
/// edited by `edit`; the load's error message, or None when it loaded.
fn load_with_config(edit: impl FnOnce(&mut Value)) -> Option<String> {
    let shipped = common::models_dir().join("ner-ar");
    let dir = tempfile::tempdir().expect("temp dir");
    for name in ["model.onnx", "tokenizer.json", "manifest.json"] {
        link_or_copy(&shipped.join(name), &dir.path().join(name));
    }
    let raw = std::fs::read_to_string(shipped.join("config.json")).expect("config.json");
    let mut config: Value = serde_json::from_str(&raw).expect("config.json is JSON");
    edit(&mut config);
    std::fs::write(dir.path().join("config.json"), config.to_string()).expect("write config");
    let layout = SessionLayout {
        sessions: 1,
        intra_threads: 1,
    };
    match TokenClassifier::load(runtime(), dir.path(), layout, &Batching::off()) {
        Ok(_) => None,
        Err(e) => Some(e.to_string()),
    }
}

fn link_or_copy(from: &Path, to: &Path) {
    if std::fs::hard_link(from, to).is_err() {
        std::fs::copy(from, to).expect("copy model file");
    }
}

fn char_ngrams(config: &mut Value) -> &mut Value {
    &mut config["khulasa"]["char_ngrams"]
}

#[test]
fn the_shipped_config_loads() {
    assert_eq!(load_with_config(|_| {}), None);
}

#[test]
fn a_config_without_the_ngram_input_is_refused() {
    let err = load_with_config(|c| {
        c["khulasa"]
            .as_object_mut()
            .expect("khulasa block")
            .remove("char_ngrams");
    })
    .expect("an error");
    assert!(err.contains("char_ngrams"), "{err}");
}

#[test]
fn more_buckets_than_the_models_table_are_refused() {
    let err = load_with_config(|c| {
        let buckets = char_ngrams(c)["buckets"].as_u64().expect("buckets");
        char_ngrams(c)["buckets"] = Value::from(buckets * 2);
    })
    .expect("an error");
    assert!(err.contains("does not take bucket"), "{err}");
}

#[test]
fn a_misspelt_ngram_field_is_refused() {
    let err = load_with_config(|c| {
        char_ngrams(c)["max-n"] = Value::from(5);
    })
    .expect("an error");
    assert!(err.contains("max-n"), "{err}");
}
