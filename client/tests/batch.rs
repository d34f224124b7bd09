//! The `khulasa batch` client against the real server: one record per input,
//! failures recorded and reported, and resuming skips finished work.

#[path = "../../tests/common/mod.rs"]
mod common;

use std::{collections::HashMap, path::Path, process::Command};

use common::shared_server;
use serde_json::{json, Value};

const ECONOMY: &str = include_str!("../../tests/data/economy_ar.txt");
const CULTURE: &str = include_str!("../../tests/data/culture_ar.txt");

fn run_batch(endpoint: &str, input: &Path, output: &Path) -> i32 {
    let out = Command::new(env!("CARGO_BIN_EXE_khulasa"))
        .args([
            "--endpoint",
            endpoint,
            "batch",
            "--concurrency",
            "3",
            "--input",
        ])
        .arg(input)
        .arg("--output")
        .arg(output)
        .output()
        .expect("run khulasa batch");
    eprintln!("{}", String::from_utf8_lossy(&out.stderr));
    out.status.code().expect("exit code")
}

fn records(output: &Path) -> Vec<Value> {
    std::fs::read_to_string(output)
        .expect("read output")
        .lines()
        .map(|l| serde_json::from_str(l).expect("every output line is JSON"))
        .collect()
}

fn count_by_id(records: &[Value], success: bool) -> HashMap<String, usize> {
    let mut counts = HashMap::new();
    for r in records {
        if r.get("error").is_some() != success {
            *counts
                .entry(r["id"].as_str().unwrap().to_string())
                .or_default() += 1;
        }
    }
    counts
}

#[tokio::test]
async fn batch_writes_one_record_per_input_and_resumes() {
    let server = shared_server().await;
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("articles.jsonl");
    let output = dir.path().join("results.jsonl");
    let mut lines = vec![
        json!({"id": "a", "text": ECONOMY}).to_string(),
        json!({"id": "b", "text": CULTURE, "language": "ar"}).to_string(),
        json!({"id": "empty", "text": "   "}).to_string(),
        "{not json".to_string(),
        json!({"id": "c", "text": "The central bank raised interest rates on Tuesday. Analysts expect more increases."}).to_string(),
    ];
    std::fs::write(&input, lines.join("\n") + "\n").unwrap();

    // First run: every input gets exactly one record; failures make exit 2.
    assert_eq!(run_batch(&server.addr, &input, &output), 2);
    let first = records(&output);
    assert_eq!(first.len(), 5, "{first:#?}");
    let ok = count_by_id(&first, true);
    assert_eq!(ok.len(), 3);
    for id in ["a", "b", "c"] {
        assert_eq!(ok.get(id), Some(&1), "{id} succeeded once");
    }
    let a = first.iter().find(|r| r["id"] == "a").unwrap();
    assert_eq!(a["language"], "ar");
    assert_eq!(a["summary"]["sentences"].as_array().unwrap().len(), 3);
    let empty = first.iter().find(|r| r["id"] == "empty").unwrap();
    assert_eq!(empty["error"]["code"], 3, "{empty}");
    assert_eq!(empty["error"]["status"], "INVALID_ARGUMENT");
    assert_eq!(
        count_by_id(&first, false).len(),
        2,
        "the bad line is an error record too"
    );

    // Second run with one new article: finished ids are skipped, only the
    // new one and the failed ones are tried again.
    lines.push(json!({"id": "d", "text": CULTURE}).to_string());
    std::fs::write(&input, lines.join("\n") + "\n").unwrap();
    assert_eq!(run_batch(&server.addr, &input, &output), 2);
    let second = records(&output);
    let ok = count_by_id(&second, true);
    for id in ["a", "b", "c", "d"] {
        assert_eq!(
            ok.get(id),
            Some(&1),
            "{id} has exactly one successful record"
        );
    }
    assert_eq!(
        second.len(),
        5 + 1 + 2,
        "one new success plus the two failures retried"
    );

    // A run over only good, finished input does nothing and exits 0.
    let done_input = dir.path().join("done.jsonl");
    std::fs::write(&done_input, lines[..2].join("\n") + "\n").unwrap();
    assert_eq!(run_batch(&server.addr, &done_input, &output), 0);
    assert_eq!(records(&output).len(), second.len());
}
