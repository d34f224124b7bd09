//! The entity model through the service: persons, places and organizations
//! in Arabic sentences written for this test, with exact spans.

mod common;

use common::{char_slice, request, shared_server, tasks};
use khulasa::proto::{AnalyzeRequest, Entity, Task};

/// Code-point span of the `nth` occurrence of `needle` in `text`.
fn span_of(text: &str, needle: &str) -> (u32, u32) {
    let byte = text
        .find(needle)
        .unwrap_or_else(|| panic!("{needle} in text"));
    let start = text[..byte].chars().count() as u32;
    (start, start + needle.chars().count() as u32)
}

async fn entities_of(text: &str) -> Vec<Entity> {
    let server = shared_server().await;
    let mut client = server.client().await;
    let req = AnalyzeRequest {
        tasks: tasks(&[Task::Entities]),
        ..request("ner", text)
    };
    let resp = client.analyze(req).await.expect("analyze").into_inner();
    assert!(resp.summary.is_none());
    resp.entities
}

fn assert_found(text: &str, found: &[Entity], expected: &[(&str, &str)]) {
    for (needle, label) in expected {
        let (start, end) = span_of(text, needle);
        let hit = found
            .iter()
            .find(|e| e.start == start && e.end == end)
            .unwrap_or_else(|| {
                panic!("{label} {needle:?} at {start}..{end} not found in {found:#?}")
            });
        assert_eq!(hit.label, *label, "{needle}");
        assert_eq!(hit.text, *needle);
        assert_eq!(char_slice(text, hit.start, hit.end), hit.text);
        assert_eq!(
            &text[hit.byte_start as usize..hit.byte_end as usize],
            hit.text
        );
    }
}

#[tokio::test]
async fn finds_a_president_a_capital_and_an_organization() {
    let text = "قال الرئيس المصري عبد الفتاح السيسي في القاهرة إن الحكومة ستواصل الإصلاحات. \
                والتقى الرئيس الفرنسي إيمانويل ماكرون في باريس بممثلين عن منظمة الأمم المتحدة.";
    let found = entities_of(text).await;
    assert_found(
        text,
        &found,
        &[
            ("عبد الفتاح السيسي", "PER"),
            ("القاهرة", "LOC"),
            ("إيمانويل ماكرون", "PER"),
            ("باريس", "LOC"),
            ("منظمة الأمم المتحدة", "ORG"),
        ],
    );
    // Nothing else in these sentences is a name.
    assert_eq!(found.len(), 5, "{found:#?}");
}

#[tokio::test]
async fn spans_survive_diacritics_tatweel_and_rtl_marks() {
    // The same kind of sentence with marks the model never sees: the spans
    // still index the original text.
    let text = "\u{200f}أَعْلَنَ الاتِّحادُ الأوروبي في بروكســـل عن مساعدات جديدة للمغرب.";
    let found = entities_of(text).await;
    assert_found(
        text,
        &found,
        &[("الاتِّحادُ الأوروبي", "ORG"), ("بروكســـل", "LOC")],
    );
}
