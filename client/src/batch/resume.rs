//! Resuming a batch: which ids are already done, and repairing an output
//! file whose last line was cut short by a crash.
//!
//! The output file is append-only and every record is written as one
//! complete line, so anything after the last newline can only be a
//! half-written record. It is dropped and its item done again.

use std::{
    collections::HashSet,
    fs::{File, OpenOptions},
    io::{BufRead, BufReader},
    path::Path,
};

use anyhow::{Context, Result};
use serde::de::IgnoredAny;
use serde::Deserialize;

/// What an existing output file says.
#[derive(Debug, Default, PartialEq)]
pub struct ResumeState {
    /// Ids with at least one successful record: skipped this run.
    pub done: HashSet<String>,
    /// Ids whose records are all errors: tried again, a new line appended.
    pub failed_before: HashSet<String>,
    /// Length of the file up to and including its last newline.
    pub valid_len: u64,
    /// Bytes after the last newline (a truncated record), dropped on open.
    pub truncated_bytes: u64,
    /// Complete lines that are not records we can read; kept, ignored.
    pub unreadable_lines: u64,
}

/// Just enough of a record to tell success from error.
#[derive(Deserialize)]
struct Probe {
    id: String,
    #[serde(default)]
    error: Option<IgnoredAny>,
}

/// Reads the output file at `path`, if it exists, without changing it.
pub fn scan(path: &Path) -> Result<ResumeState> {
    let file = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(ResumeState::default()),
        Err(e) => {
            return Err(e)
                .with_context(|| format!("cannot read existing output {}", path.display()))
        }
    };
    scan_reader(BufReader::with_capacity(256 * 1024, file))
        .with_context(|| format!("cannot read existing output {}", path.display()))
}

fn scan_reader(mut reader: impl BufRead) -> std::io::Result<ResumeState> {
    let mut state = ResumeState::default();
    let mut line = Vec::new();
    loop {
        line.clear();
        let n = reader.read_until(b'\n', &mut line)? as u64;
        if n == 0 {
            break;
        }
        if line.last() != Some(&b'\n') {
            // Only the last line can lack its newline.
            state.truncated_bytes = n;
            break;
        }
        state.valid_len += n;
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        match serde_json::from_slice::<Probe>(&line) {
            Ok(Probe { id, error: None }) => {
                state.failed_before.remove(&id);
                state.done.insert(id);
            }
            Ok(Probe { id, error: Some(_) }) => {
                if !state.done.contains(&id) {
                    state.failed_before.insert(id);
                }
            }
            Err(_) => state.unreadable_lines += 1,
        }
    }
    Ok(state)
}

/// Opens the output for appending (creating it), first cutting off a
/// truncated last line so the next record starts on a line of its own.
pub fn open_for_append(path: &Path, state: &ResumeState) -> Result<File> {
    let file = OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .with_context(|| format!("cannot open output {}", path.display()))?;
    let len = file
        .metadata()
        .with_context(|| format!("cannot read output {}", path.display()))?
        .len();
    if len > state.valid_len {
        file.set_len(state.valid_len)
            .with_context(|| format!("cannot repair truncated last line of {}", path.display()))?;
    }
    Ok(file)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    const OK_A: &str = r#"{"id":"a","language":"ar","summary":null,"entities":[]}"#;
    const ERR_B: &str = r#"{"id":"b","error":{"code":14,"status":"UNAVAILABLE","message":"down"}}"#;
    const ERR_C: &str =
        r#"{"id":"c","error":{"code":3,"status":"INVALID_ARGUMENT","message":"empty"}}"#;
    const OK_C: &str = r#"{"id":"c","language":"en","summary":null,"entities":[]}"#;

    #[test]
    fn missing_file_is_empty_state() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(
            scan(&dir.path().join("none.jsonl")).unwrap(),
            ResumeState::default()
        );
    }

    #[test]
    fn success_error_and_truncated_tail() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.jsonl");
        let complete = format!("{OK_A}\n{ERR_B}\n{ERR_C}\n{OK_C}\ngarbage\n");
        let tail = r#"{"id":"d","language":"a"#;
        std::fs::write(&path, format!("{complete}{tail}")).unwrap();

        let state = scan(&path).unwrap();
        let done: HashSet<String> = ["a", "c"].map(String::from).into();
        assert_eq!(state.done, done);
        assert_eq!(state.failed_before, ["b".to_string()].into());
        assert_eq!(state.valid_len, complete.len() as u64);
        assert_eq!(state.truncated_bytes, tail.len() as u64);
        assert_eq!(state.unreadable_lines, 1);

        // Opening repairs the file; the next record starts a fresh line.
        let mut f = open_for_append(&path, &state).unwrap();
        writeln!(f, "{ERR_B}").unwrap();
        drop(f);
        let after = std::fs::read_to_string(&path).unwrap();
        assert_eq!(after, format!("{complete}{ERR_B}\n"));
        let again = scan(&path).unwrap();
        assert_eq!(again.truncated_bytes, 0);
        assert_eq!(again.done, done);
    }

    #[test]
    fn a_record_without_its_newline_is_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.jsonl");
        std::fs::write(&path, format!("{ERR_B}\n{OK_A}")).unwrap();
        let state = scan(&path).unwrap();
        assert!(state.done.is_empty());
        assert_eq!(state.valid_len, ERR_B.len() as u64 + 1);
        open_for_append(&path, &state).unwrap();
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            format!("{ERR_B}\n")
        );
    }

    #[test]
    fn new_file_is_created() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("new.jsonl");
        let state = scan(&path).unwrap();
        open_for_append(&path, &state).unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"");
    }
}
