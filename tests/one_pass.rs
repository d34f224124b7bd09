//! One encoder pass per article (the default, `--sentence-vectors auto` with
//! a NER model that has a sentence head): the summary's sentence vectors come
//! from the entity model's head, so the sentence encoder is not loaded. The
//! entities are those of a two-pass server (`--sentence-vectors encoder`:
//! the same NER pass), and the summary is made of whole sentences.

mod common;

use common::{char_slice, models_dir, repo_root, request, shared_server, Server, STATE_WAIT};
use khulasa::proto::{AnalyzeRequest, SummaryOptions, Task};

fn article() -> String {
    std::fs::read_to_string(repo_root().join("tests/data/economy_ar.txt")).expect("article")
}

#[tokio::test]
async fn one_pass_gives_the_entities_and_a_summary_from_the_entity_model() {
    let one_pass = shared_server().await;
    let mut client = one_pass.client().await;
    let info = one_pass.info().await;
    let names: Vec<&str> = info.models.iter().map(|m| m.name.as_str()).collect();
    assert!(names.contains(&"ner-ar"), "{names:?}");
    assert!(
        !names.contains(&"e5-small"),
        "the encoder is not loaded: {names:?}"
    );

    let text = article();
    let req = AnalyzeRequest {
        summary: Some(SummaryOptions {
            max_sentences: 3,
            ..Default::default()
        }),
        ..request("one-pass", &text)
    };
    let one = client
        .analyze(req.clone())
        .await
        .expect("analyze")
        .into_inner();
    let two_pass = Server::start_serving(&["--sentence-vectors", "encoder"]).await;
    let mut two_client = two_pass.client().await;
    let two_info = two_pass.info().await;
    assert!(
        two_info.models.iter().any(|m| m.name == "e5-small"),
        "--sentence-vectors encoder loads the encoder: {:?}",
        two_info.models
    );
    let two = two_client.analyze(req).await.expect("analyze").into_inner();

    let spans = |r: &khulasa::proto::AnalyzeResponse| {
        r.entities
            .iter()
            .map(|e| (e.start, e.end, e.label.clone()))
            .collect::<Vec<_>>()
    };
    assert!(!one.entities.is_empty());
    assert_eq!(spans(&one), spans(&two), "one NER pass, the same entities");

    let summary = one.summary.expect("a summary");
    assert_eq!(summary.sentences.len(), 3);
    assert_eq!(two.summary.expect("a summary").sentences.len(), 3);
    let picked: Vec<String> = summary
        .sentences
        .iter()
        .map(|s| char_slice(&text, s.start, s.end))
        .collect();
    for sentence in &picked {
        assert!(sentence.split_whitespace().count() >= 4, "{sentence:?}");
    }
    assert_eq!(summary.text, picked.join(" "));

    // An article of more windows (about 27) than the runner takes at once (16): the
    // windows' outputs are read batch by batch, with the same entities.
    let long = std::iter::repeat_n(text.as_str(), 24)
        .collect::<Vec<_>>()
        .join("\n");
    let long_req = request("long", &long);
    let one_long = client
        .analyze(long_req.clone())
        .await
        .expect("analyze")
        .into_inner();
    let two_long = two_client
        .analyze(long_req)
        .await
        .expect("analyze")
        .into_inner();
    assert!(one_long.entities.len() >= 24 * one.entities.len() / 2);
    assert_eq!(spans(&one_long), spans(&two_long));
    assert!(!one_long.summary.expect("a summary").sentences.is_empty());

    // A summary alone runs the same single pass.
    let only = client
        .analyze(AnalyzeRequest {
            tasks: common::tasks(&[Task::Summary]),
            ..request("summary-only", &text)
        })
        .await
        .expect("analyze")
        .into_inner();
    assert!(only.entities.is_empty());
    assert!(!only.summary.expect("a summary").sentences.is_empty());
}

#[tokio::test]
async fn entity_head_without_an_entity_model_stops_at_startup() {
    let dir = tempfile::tempdir().unwrap();
    for name in ["runtime", "e5-small"] {
        std::os::unix::fs::symlink(models_dir().join(name), dir.path().join(name)).unwrap();
    }
    let dir_arg = dir.path().to_str().unwrap().to_string();
    let server = Server::start(&["--models", &dir_arg, "--sentence-vectors", "entity-head"]);
    let (code, log) = tokio::task::spawn_blocking(move || {
        let code = server.wait_exit(STATE_WAIT);
        (code, server.log())
    })
    .await
    .unwrap();
    assert!(code.is_some_and(|c| c != 0), "exit code {code:?}");
    assert!(
        log.iter().any(
            |l| l.contains("--sentence-vectors entity-head needs a token-classification model")
        ),
        "{log:#?}"
    );
}

#[tokio::test]
async fn a_named_encoder_brings_back_the_second_pass() {
    let encoder = models_dir().join("e5-small");
    let server = Server::start_serving(&["--encoder", encoder.to_str().expect("utf-8 path")]).await;
    let info = server.info().await;
    let kinds: Vec<(&str, &str)> = info
        .models
        .iter()
        .map(|m| (m.name.as_str(), m.kind.as_str()))
        .collect();
    assert!(
        kinds.contains(&("e5-small", "sentence-embedding")),
        "{kinds:?}"
    );
    assert!(kinds.contains(&("ner-ar", "token-classification")));
}
