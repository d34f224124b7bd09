//! End-to-end tests of the gRPC API against the real server and models.

mod common;

use common::{char_slice, request, shared_server, tasks, Server};
use khulasa::proto::{AnalyzeRequest, AnalyzeResponse, SummaryOptions, Task};
use tonic::Code;

const ECONOMY: &str = include_str!("data/economy_ar.txt");
const CULTURE: &str = include_str!("data/culture_ar.txt");

/// Every offset in a response obeys the contract: code-point and byte spans
/// agree, and `text[start:end] == entity.text`.
fn assert_offsets(text: &str, resp: &AnalyzeResponse) {
    for e in &resp.entities {
        assert!(e.start < e.end, "empty entity {e:?}");
        assert_eq!(
            char_slice(text, e.start, e.end),
            e.text,
            "code-point span of {e:?}"
        );
        assert_eq!(
            &text[e.byte_start as usize..e.byte_end as usize],
            e.text,
            "byte span of {e:?}"
        );
        assert!(
            ["PER", "LOC", "ORG", "MISC"].contains(&e.label.as_str()),
            "label {e:?}"
        );
        assert!(e.score > 0.0 && e.score <= 1.0, "score {e:?}");
    }
    if let Some(summary) = &resp.summary {
        let sentences = khulasa::text::sentences(text);
        let mut last_end = 0;
        let mut pieces = Vec::new();
        for s in &summary.sentences {
            let piece = &text[s.byte_start as usize..s.byte_end as usize];
            assert_eq!(char_slice(text, s.start, s.end), piece);
            assert!(
                sentences.contains(&(s.byte_start as usize..s.byte_end as usize)),
                "summary span {s:?} ({piece}) is not a sentence of the input"
            );
            assert!(
                s.byte_start as usize >= last_end,
                "summary sentences out of article order"
            );
            last_end = s.byte_end as usize;
            pieces.push(piece);
        }
        assert_eq!(summary.text, pieces.join(" "));
    }
}

#[tokio::test]
async fn analyzes_arabic_articles_with_summary_and_entities() {
    let server = shared_server().await;
    let mut client = server.client().await;
    for (id, text) in [("economy", ECONOMY), ("culture", CULTURE)] {
        let resp = client
            .analyze(request(id, text))
            .await
            .expect("analyze")
            .into_inner();
        assert_eq!(resp.id, id);
        assert_eq!(resp.language, "ar");
        assert!(resp.error.is_none());
        let summary = resp.summary.as_ref().expect("summary by default");
        assert_eq!(summary.sentences.len(), 3, "default summary is 3 sentences");
        assert!(!resp.entities.is_empty(), "{id}: entities by default");
        assert_offsets(text, &resp);
    }
}

#[tokio::test]
async fn summary_options_are_honoured_exactly() {
    let server = shared_server().await;
    let mut client = server.client().await;
    let n = khulasa::text::sentences(ECONOMY).len();
    assert_eq!(n, 10, "the test article has 10 sentences");
    let cases = [
        (
            SummaryOptions {
                max_sentences: 1,
                ..Default::default()
            },
            1,
        ),
        (
            SummaryOptions {
                max_sentences: 5,
                ..Default::default()
            },
            5,
        ),
        (
            SummaryOptions {
                ratio: 0.3,
                ..Default::default()
            },
            3,
        ),
        (
            SummaryOptions {
                ratio: 0.31,
                ..Default::default()
            },
            4,
        ),
        (
            SummaryOptions {
                ratio: 1.0,
                ..Default::default()
            },
            n,
        ),
        (
            SummaryOptions {
                ratio: 0.5,
                max_sentences: 2,
                ..Default::default()
            },
            2,
        ),
        (
            SummaryOptions {
                max_sentences: 50,
                ..Default::default()
            },
            n,
        ),
    ];
    for (options, expected) in cases {
        let req = AnalyzeRequest {
            summary: Some(options),
            tasks: tasks(&[Task::Summary]),
            ..request("opts", ECONOMY)
        };
        let resp = client.analyze(req).await.expect("analyze").into_inner();
        let summary = resp.summary.as_ref().expect("summary");
        assert_eq!(summary.sentences.len(), expected, "{options:?}");
        assert!(resp.entities.is_empty(), "TASK_SUMMARY only");
        assert_offsets(ECONOMY, &resp);
    }
    for max_chars in [60u32, 150, 400] {
        let req = AnalyzeRequest {
            summary: Some(SummaryOptions {
                max_chars,
                ..Default::default()
            }),
            tasks: tasks(&[Task::Summary]),
            ..request("chars", ECONOMY)
        };
        let resp = client.analyze(req).await.expect("analyze").into_inner();
        let summary = resp.summary.expect("summary");
        assert!(
            summary.text.chars().count() <= max_chars as usize,
            "max_chars {max_chars}"
        );
    }
}

#[tokio::test]
async fn entities_only_skips_the_summary() {
    let server = shared_server().await;
    let mut client = server.client().await;
    let req = AnalyzeRequest {
        tasks: tasks(&[Task::Entities]),
        ..request("ents", ECONOMY)
    };
    let resp = client.analyze(req).await.expect("analyze").into_inner();
    assert!(resp.summary.is_none());
    assert!(!resp.entities.is_empty());
    assert_offsets(ECONOMY, &resp);
}

#[tokio::test]
async fn bad_input_gets_invalid_argument_with_a_clear_message() {
    let server = shared_server().await;
    let mut client = server.client().await;
    let too_long = "ا".repeat(200_001);
    let cases: Vec<(AnalyzeRequest, &str)> = vec![
        (request("empty", ""), "empty"),
        (request("blank", "  \n\t \u{200f} "), "empty"),
        (request("tatweel", "ـ"), "nothing to read"),
        (request("harakat", "\u{0651}\u{064e}"), "nothing to read"),
        (request("joiners", "\u{200c}\u{200d}"), "nothing to read"),
        (request("long", &too_long), "200000"),
        (
            AnalyzeRequest {
                summary: Some(SummaryOptions {
                    ratio: 1.5,
                    ..Default::default()
                }),
                ..request("ratio", ECONOMY)
            },
            "(0, 1]",
        ),
        (
            AnalyzeRequest {
                summary: Some(SummaryOptions {
                    ratio: -0.2,
                    ..Default::default()
                }),
                ..request("ratio", ECONOMY)
            },
            "(0, 1]",
        ),
        (
            AnalyzeRequest {
                summary: Some(SummaryOptions {
                    ratio: f32::NAN,
                    ..Default::default()
                }),
                ..request("ratio", ECONOMY)
            },
            "(0, 1]",
        ),
        (
            AnalyzeRequest {
                tasks: vec![7],
                ..request("task", ECONOMY)
            },
            "unknown task 7",
        ),
        (
            AnalyzeRequest {
                tasks: vec![0],
                ..request("task", ECONOMY)
            },
            "unknown task 0",
        ),
        (
            AnalyzeRequest {
                language: "not a language!".into(),
                ..request("lang", ECONOMY)
            },
            "language hint",
        ),
    ];
    for (req, needle) in cases {
        let id = req.id.clone();
        let status = client.analyze(req).await.expect_err(&id);
        assert_eq!(status.code(), Code::InvalidArgument, "{id}: {status:?}");
        assert!(
            status.message().contains(needle),
            "{id}: {:?} should mention {needle:?}",
            status.message()
        );
    }
}

#[tokio::test]
async fn hostile_and_unusual_text_never_breaks_offsets() {
    let server = shared_server().await;
    let mut client = server.client().await;
    let huge_sentence = "كلمة عربية طويلة بلا ترقيم ".repeat(2_000);
    let texts = [
        "وَقَالَ الرَّئِيسُ إِنَّ الحُكُومَةَ سَتَعْمَلُ عَلَى خَفْضِ العَجْزِ.",
        "أعلـــــن الوزيــــر عن خطـــة جديدة للتنميـــة.",
        "\u{200f}قال المتحدث\u{200e} باسم الوزارة\u{202b} إن الاجتماع \u{202c}انتهى.\u{200f}",
        "فاز الفريق 🎉🇹🇳 بالبطولة 👍🏽 للمرة الثالثة! 👨‍👩‍👧",
        "قالت شركة Apple Inc. إن iPhone الجديد سيصل إلى تونس في 2025/05/01 بسعر 1.299 دينار.",
        huge_sentence.as_str(),
        "The president met the prime minister in London on Monday. They discussed trade and security.",
        "Президент встретился с премьер-министром в Москве. Они обсудили торговлю.",
        "国家主席在北京会见了总理。双方讨论了贸易问题。",
        "ـب",
        "؟؟؟ ... !!!",
        "\u{0651}\u{064e}ب\u{0651}\u{064e}",
        "a",
    ];
    for (i, text) in texts.iter().enumerate() {
        let resp = client
            .analyze(request(&format!("odd-{i}"), text))
            .await
            .unwrap_or_else(|s| panic!("text {i} failed: {s:?}"))
            .into_inner();
        assert_offsets(text, &resp);
        assert!(!resp.language.is_empty());
    }
}

#[tokio::test]
async fn language_is_detected_or_taken_from_the_hint() {
    let server = shared_server().await;
    let mut client = server.client().await;
    let english = "The central bank raised interest rates on Tuesday to curb inflation. Analysts expect further increases this year.";
    let resp = client
        .analyze(request("en", english))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(resp.language, "en");
    let req = AnalyzeRequest {
        language: "ar-TN".into(),
        ..request("hint", CULTURE)
    };
    assert_eq!(
        client.analyze(req).await.unwrap().into_inner().language,
        "ar-TN"
    );
}

#[tokio::test]
async fn stream_answers_every_item_and_reports_bad_ones_in_band() {
    let server = shared_server().await;
    let mut client = server.client().await;
    let mut items = Vec::new();
    for i in 0..6 {
        let text = if i % 2 == 0 { ECONOMY } else { CULTURE };
        items.push(request(&format!("item-{i}"), text));
    }
    items.insert(3, request("bad-empty", "   "));
    items.insert(
        5,
        AnalyzeRequest {
            tasks: vec![9],
            ..request("bad-task", ECONOMY)
        },
    );
    let sent: Vec<String> = items.iter().map(|r| r.id.clone()).collect();
    let mut stream = client
        .analyze_stream(tokio_stream::iter(items))
        .await
        .expect("stream")
        .into_inner();
    let mut got = Vec::new();
    while let Some(resp) = stream.message().await.expect("stream item") {
        got.push(resp);
    }
    let mut ids: Vec<String> = got.iter().map(|r| r.id.clone()).collect();
    ids.sort();
    let mut expected = sent.clone();
    expected.sort();
    assert_eq!(ids, expected, "one response per request");
    for resp in &got {
        if resp.id.starts_with("bad-") {
            let err = resp.error.as_ref().expect("in-band error");
            assert_eq!(err.code, Code::InvalidArgument as i32);
            assert!(!err.message.is_empty());
        } else {
            assert!(resp.error.is_none(), "{resp:?}");
            let text = if resp.id.ends_with(['0', '2', '4']) {
                ECONOMY
            } else {
                CULTURE
            };
            assert_offsets(text, resp);
            assert_eq!(resp.summary.as_ref().map(|s| s.sentences.len()), Some(3));
        }
    }
}

#[tokio::test]
async fn get_info_lists_models_limits_and_languages() {
    let server = shared_server().await;
    let mut client = server.client().await;
    let info = client
        .get_info(khulasa::proto::GetInfoRequest {})
        .await
        .unwrap()
        .into_inner();
    assert_eq!(info.server_version, env!("CARGO_PKG_VERSION"));
    let limits = info.limits.expect("limits");
    assert_eq!(limits.max_article_chars, 200_000);
    assert!(limits.max_message_bytes > 0);
    assert!(info.languages.iter().any(|l| l == "ar"));
    // One encoder pass by default: the NER model's sentence head gives the
    // summary's vectors, so no sentence encoder is loaded (tests/one_pass.rs
    // covers `--sentence-vectors encoder`).
    assert!(
        info.models.iter().all(|m| m.kind != "sentence-embedding"),
        "{:?}",
        info.models
    );
    let ner = info
        .models
        .iter()
        .find(|m| m.kind == "token-classification")
        .expect("entity model listed");
    assert_eq!(ner.labels, ["PER", "LOC", "ORG", "MISC"]);
    assert_eq!(ner.sha256.len(), 64);
    // The default set-up ranks sentences with the learned scorer of
    // models/summarizer-ext; without it the server would fall back to LexRank.
    let scorer = info
        .models
        .iter()
        .find(|m| m.kind == "sentence-scoring")
        .expect("the learned scorer (models/summarizer-ext) is loaded");
    assert_eq!(scorer.name, "summarizer-ext");
    assert_eq!(info.summarizer, "learned-scorer");
}

#[tokio::test]
async fn reflection_lists_the_services() {
    use khulasa_reflection::*;
    let server = shared_server().await;
    let services = list_services_v1(&server.addr).await;
    assert!(
        services.contains(&"khulasa.v1.Summarizer".to_string()),
        "{services:?}"
    );
    assert!(
        services.contains(&"grpc.health.v1.Health".to_string()),
        "{services:?}"
    );
    let services = list_services_v1alpha(&server.addr).await;
    assert!(
        services.contains(&"khulasa.v1.Summarizer".to_string()),
        "{services:?}"
    );
}

mod khulasa_reflection {
    use tonic_reflection::pb::{v1, v1alpha};

    pub async fn list_services_v1(addr: &str) -> Vec<String> {
        let channel = tonic::transport::Channel::from_shared(addr.to_string())
            .unwrap()
            .connect()
            .await
            .unwrap();
        let mut client = v1::server_reflection_client::ServerReflectionClient::new(channel);
        let req = v1::ServerReflectionRequest {
            host: String::new(),
            message_request: Some(v1::server_reflection_request::MessageRequest::ListServices(
                String::new(),
            )),
        };
        let mut stream = client
            .server_reflection_info(tokio_stream::iter([req]))
            .await
            .unwrap()
            .into_inner();
        let resp = stream
            .message()
            .await
            .unwrap()
            .expect("a reflection response");
        match resp.message_response {
            Some(v1::server_reflection_response::MessageResponse::ListServicesResponse(list)) => {
                list.service.into_iter().map(|s| s.name).collect()
            }
            other => panic!("unexpected reflection response {other:?}"),
        }
    }

    pub async fn list_services_v1alpha(addr: &str) -> Vec<String> {
        let channel = tonic::transport::Channel::from_shared(addr.to_string())
            .unwrap()
            .connect()
            .await
            .unwrap();
        let mut client = v1alpha::server_reflection_client::ServerReflectionClient::new(channel);
        let req = v1alpha::ServerReflectionRequest {
            host: String::new(),
            message_request: Some(
                v1alpha::server_reflection_request::MessageRequest::ListServices(String::new()),
            ),
        };
        let mut stream = client
            .server_reflection_info(tokio_stream::iter([req]))
            .await
            .unwrap()
            .into_inner();
        let resp = stream
            .message()
            .await
            .unwrap()
            .expect("a reflection response");
        match resp.message_response {
            Some(v1alpha::server_reflection_response::MessageResponse::ListServicesResponse(
                list,
            )) => list.service.into_iter().map(|s| s.name).collect(),
            other => panic!("unexpected reflection response {other:?}"),
        }
    }
}

#[tokio::test]
async fn a_dedicated_server_is_not_serving_until_models_are_loaded() {
    let server = Server::start(&[]);
    // Right after it listens, the models are still loading.
    let mut client = server.client().await;
    let early = client.analyze(request("early", ECONOMY)).await;
    let status = early.expect_err("no analysis before the models are loaded");
    assert_eq!(status.code(), Code::Unavailable, "{status:?}");
    assert_eq!(
        server
            .health("")
            .await
            .expect("health answers while loading"),
        tonic_health::pb::health_check_response::ServingStatus::NotServing
    );
    server.wait_serving().await;
    assert_eq!(
        server.health("khulasa.v1.Summarizer").await.unwrap(),
        tonic_health::pb::health_check_response::ServingStatus::Serving
    );
    client
        .analyze(request("late", ECONOMY))
        .await
        .expect("serving now");
}

#[tokio::test]
async fn oversized_messages_are_refused_with_the_limit() {
    let server = shared_server().await;
    let mut client = server.client().await;
    let status = client
        .analyze(request("huge", &"x".repeat(5 << 20)))
        .await
        .expect_err("over the message limit");
    assert_eq!(status.code(), Code::OutOfRange, "{status:?}");
    assert!(status.message().contains("4194304"), "{status:?}");
}

#[tokio::test]
async fn thousands_of_tiny_sentences_are_summarized_in_bounded_work() {
    let server = shared_server().await;
    let mut client = server.client().await;
    let text = "a\n".repeat(20_000);
    let req = AnalyzeRequest {
        tasks: tasks(&[Task::Summary]),
        summary: Some(SummaryOptions {
            ratio: 1.0,
            ..Default::default()
        }),
        ..request("tiny", &text)
    };
    let resp = client.analyze(req).await.expect("analyze").into_inner();
    let summary = resp.summary.as_ref().expect("summary");
    // At most MAX_RANKED_SENTENCES sentences are ranked.
    assert_eq!(
        summary.sentences.len(),
        khulasa::pipeline::MAX_RANKED_SENTENCES
    );
    assert_offsets(&text, &resp);
}
