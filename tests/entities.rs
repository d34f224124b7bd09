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
async fn finds_ministries_institutions_newspapers_and_an_unseen_foreign_name() {
    // Organizations as newsrooms name them (a ministry, the State Department
    // by metonymy, the White House, a newspaper) and a foreign person name
    // that occurs in none of the training corpora.
    let text = "أعلنت وزارة الصحة المصرية أن المستشفى الجديد في أسوان سيفتتح الشهر المقبل. \
                وقالت الخارجية الأميركية في بيان إن الوزير أنتوني بلينكن سيزور القاهرة الأسبوع المقبل. \
                ونقلت صحيفة الأهرام عن مسؤول في البيت الأبيض أن الزيارة ستتناول الوضع في غزة.";
    let found = entities_of(text).await;
    assert_found(
        text,
        &found,
        &[
            ("وزارة الصحة المصرية", "ORG"),
            ("أسوان", "LOC"),
            ("الخارجية الأميركية", "ORG"),
            ("أنتوني بلينكن", "PER"),
            ("القاهرة", "LOC"),
            ("الأهرام", "ORG"),
            ("البيت الأبيض", "ORG"),
            ("غزة", "LOC"),
        ],
    );
    assert_eq!(found.len(), 8, "{found:#?}");
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

/// Byte offset of the `nth` (0-based) occurrence of `needle` in `text`.
fn nth_byte(text: &str, needle: &str, nth: usize) -> usize {
    text.match_indices(needle)
        .nth(nth)
        .unwrap_or_else(|| panic!("occurrence {nth} of {needle} in text"))
        .0
}

#[tokio::test]
async fn mentions_leave_out_proclitics_and_join_one_group_per_entity() {
    // A person in full, then by family name after a proclitic (لبايدن); a
    // country three times with three different proclitics.
    let text = "التقى الرئيس الأمريكي جو بايدن في واشنطن وزير الخارجية الفرنسي. \
                وقال مستشار لبايدن إن الإدارة ستقدم مساعدات جديدة لأوكرانيا خلال الأسبوع المقبل. \
                وأضاف أن العلاقات بين واشنطن وأوكرانيا تمر بمرحلة مهمة، وأن الدعم العسكري بأوكرانيا سيستمر.";
    let server = shared_server().await;
    let mut client = server.client().await;
    let req = AnalyzeRequest {
        tasks: tasks(&[Task::Entities]),
        ..request("groups", text)
    };
    let resp = client.analyze(req).await.expect("analyze").into_inner();
    let groups = &resp.groups;
    for e in &resp.entities {
        assert!((e.group as usize) < groups.len(), "{e:?}");
        assert_eq!(&text[e.byte_start as usize..e.byte_end as usize], e.text);
        assert_eq!(char_slice(text, e.start, e.end), e.text);
    }
    // Each group's label is the one most of its mentions carry.
    for (g, group) in groups.iter().enumerate() {
        let labels: Vec<&str> = resp
            .entities
            .iter()
            .filter(|e| e.group as usize == g)
            .map(|e| e.label.as_str())
            .collect();
        let count = |l: &str| labels.iter().filter(|&&x| x == l).count();
        assert_eq!(labels.len(), group.mentions as usize, "{group:?}");
        assert!(
            labels.iter().all(|l| count(l) <= count(&group.label)),
            "{group:?}: {labels:?}"
        );
    }
    assert!(groups.windows(2).all(|w| w[0].salience >= w[1].salience));
    let group_named = |name: &str| {
        let matching: Vec<usize> = (0..groups.len())
            .filter(|&g| groups[g].name == name)
            .collect();
        assert_eq!(matching.len(), 1, "one group named {name}: {groups:#?}");
        matching[0]
    };
    let members = |g: usize| -> Vec<&Entity> {
        resp.entities
            .iter()
            .filter(|e| e.group as usize == g)
            .collect()
    };

    let biden = group_named("جو بايدن");
    assert_eq!(
        (groups[biden].label.as_str(), groups[biden].mentions),
        ("PER", 2)
    );
    let spans: Vec<(usize, &str)> = members(biden)
        .iter()
        .map(|e| (e.byte_start as usize, e.text.as_str()))
        .collect();
    let after_lam = nth_byte(text, "لبايدن", 0) + "ل".len();
    assert_eq!(
        spans,
        [
            (nth_byte(text, "جو بايدن", 0), "جو بايدن"),
            (after_lam, "بايدن")
        ]
    );

    let ukraine = group_named("أوكرانيا");
    assert_eq!(
        (groups[ukraine].label.as_str(), groups[ukraine].mentions),
        ("LOC", 3)
    );
    let starts: Vec<usize> = members(ukraine)
        .iter()
        .map(|e| e.byte_start as usize)
        .collect();
    assert_eq!(
        starts,
        [
            nth_byte(text, "لأوكرانيا", 0) + "ل".len(),
            nth_byte(text, "وأوكرانيا", 0) + "و".len(),
            nth_byte(text, "بأوكرانيا", 0) + "ب".len(),
        ]
    );
    assert!(members(ukraine).iter().all(|e| e.text == "أوكرانيا"));

    let washington = group_named("واشنطن");
    assert_eq!(groups[washington].mentions, 2, "واشنطن keeps its و");
    // Every mention is in exactly one group, and the counts add up.
    let total: u32 = groups.iter().map(|g| g.mentions).sum();
    assert_eq!(total as usize, resp.entities.len());
}

/// A name the model tags in one sentence is a mention wherever it recurs:
/// in this ANT article (one of the golden fixtures') the family name `أشكين`
/// comes five times after `جلال أشكين`, and the model alone leaves the last
/// one, far from the others, untagged.
#[tokio::test]
async fn a_tagged_name_is_a_mention_wherever_it_recurs() {
    let text = include_str!("data/ant/JA-diverse-203-20170331.txt");
    let found = entities_of(text).await;
    let name = "أشكين";
    let mut recurrences = 0;
    for (byte, _) in text.match_indices(name) {
        let start = text[..byte].chars().count() as u32;
        let end = start + name.chars().count() as u32;
        let covered = found
            .iter()
            .any(|e| e.label == "PER" && e.start <= start && end <= e.end);
        assert!(
            covered,
            "{name} at {start}..{end} not in a PER mention: {found:#?}"
        );
        recurrences += 1;
    }
    assert_eq!(recurrences, 6);
}
