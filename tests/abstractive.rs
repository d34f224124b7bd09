//! Abstractive summaries through the service, with a real (tiny, random)
//! mBART export from `models/seq2seq/fixtures`: the engine itself is proven
//! token for token against `transformers` in `tests/seq2seq.rs`; this checks
//! the service wiring end to end.

mod common;

use common::{repo_root, request, sample, scrape, tasks, Server};
use khulasa::{
    models::{seq2seq::Seq2SeqModel, Runtime, SessionLayout},
    proto::{summary_options::Mode, AnalyzeRequest, GetInfoRequest, SummaryOptions, Task},
    stop::StopSignal,
};

const CULTURE: &str = include_str!("data/culture_ar.txt");

fn with_mode(mode: Mode) -> AnalyzeRequest {
    AnalyzeRequest {
        summary: Some(SummaryOptions {
            mode: mode as i32,
            ..Default::default()
        }),
        tasks: tasks(&[Task::Summary]),
        ..request("abs", CULTURE)
    }
}

#[tokio::test]
async fn the_service_serves_abstractive_summaries_from_a_seq2seq_export() {
    let fixture = repo_root().join("models/seq2seq/fixtures/mbart");
    let fixture_arg = fixture.to_str().unwrap().to_string();
    let server = Server::start_serving(&[
        "--summarizer",
        &fixture_arg,
        "--metrics-listen",
        "127.0.0.1:0",
    ])
    .await;
    let mut client = server.client().await;

    // The same generation in process, with the model's default settings.
    let runtime = Runtime::load(&Runtime::library_path(&repo_root().join("models"))).unwrap();
    let layout = SessionLayout {
        sessions: 1,
        intra_threads: 1,
    };
    let model = Seq2SeqModel::load(&runtime, &fixture, layout).unwrap();
    let expected = model
        .generate(CULTURE, &model.default_params(), &StopSignal::never())
        .unwrap();
    assert!(!expected.ids.is_empty());

    // Without a mode, a server with a seq2seq model writes abstractive summaries.
    for req in [with_mode(Mode::Unspecified), with_mode(Mode::Abstractive)] {
        let resp = client.analyze(req).await.expect("analyze").into_inner();
        let summary = resp.summary.expect("summary");
        assert_eq!(summary.text, expected.text);
        assert!(
            summary.sentences.is_empty(),
            "abstractive summaries have no spans"
        );
    }
    // Generation reads the whole text: no stage splits it into sentences.
    let url = server.metrics_url().await;
    let metrics = tokio::task::spawn_blocking(move || scrape(&url))
        .await
        .unwrap();
    let stage_count = |stage: &str| {
        sample(
            &metrics,
            "khulasa_stage_duration_seconds_count",
            &[&format!(r#"stage="{stage}""#)],
        )
    };
    assert_eq!(stage_count("generate"), Some(2.0));
    assert_eq!(stage_count("segment"), None, "{metrics}");

    // Extractive stays available per request.
    let resp = client
        .analyze(with_mode(Mode::Extractive))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(resp.summary.unwrap().sentences.len(), 3);

    let info = client
        .get_info(GetInfoRequest {})
        .await
        .unwrap()
        .into_inner();
    let seq2seq = info
        .models
        .iter()
        .find(|m| m.kind == "seq2seq")
        .expect("GetInfo lists the summarizer");
    assert_eq!(seq2seq.name, "mbart");
    assert_eq!(info.summarizer, "abstractive");
    assert_eq!(seq2seq.sha256.len(), 64);
}
