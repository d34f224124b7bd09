//! Reading batch input: a JSONL file (or stdin) or a directory of `.txt`
//! files, as a stream so that a file of any size is read a line at a time.

use std::{
    io::Read,
    path::{Path, PathBuf},
    pin::Pin,
};

use anyhow::{Context, Result};
use futures::{stream, Stream, StreamExt};
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};

use crate::record::ErrorRecord;

/// gRPC INVALID_ARGUMENT, the code given to input lines we cannot use: the
/// server would refuse them with it too.
const INVALID_ARGUMENT: i32 = 3;

/// One article to analyze.
#[derive(Debug, Clone, PartialEq)]
pub struct Article {
    pub id: String,
    pub text: String,
    /// The item's own language hint, overriding `--language`.
    pub language: Option<String>,
    /// The item's headline, if it has one.
    pub title: Option<String>,
}

/// One input item: an article, or an input problem to report as an error
/// record (and count as a failure) without stopping the run.
#[derive(Debug, Clone, PartialEq)]
pub enum Item {
    Article(Article),
    Bad(ErrorRecord),
}

impl Item {
    /// The id the item's output record will carry.
    pub fn id(&self) -> &str {
        match self {
            Item::Article(a) => &a.id,
            Item::Bad(e) => &e.id,
        }
    }
}

/// A stream of items; an `Err` is a fatal read error of the input itself.
pub type ItemStream = Pin<Box<dyn Stream<Item = Result<Item>> + Send>>;

/// Where the articles come from.
#[derive(Debug, Clone)]
pub enum Input {
    /// JSONL on standard input (`-`).
    Stdin,
    /// A JSONL file.
    Jsonl(PathBuf),
    /// The `.txt` files of a directory, sorted by name.
    Dir(Vec<PathBuf>),
}

impl Input {
    /// Opens `path` as a directory or JSONL file, failing early (fatally) if
    /// it cannot be read. A directory is listed now, which is cheap and
    /// gives the total for the progress bar.
    pub fn open(path: &Path) -> Result<Input> {
        if path.as_os_str() == "-" {
            return Ok(Input::Stdin);
        }
        let meta = std::fs::metadata(path)
            .with_context(|| format!("cannot read input {}", path.display()))?;
        if meta.is_dir() {
            return Ok(Input::Dir(list_txt_files(path)?));
        }
        // Open once now so a permission problem is reported before any work.
        std::fs::File::open(path)
            .with_context(|| format!("cannot open input {}", path.display()))?;
        Ok(Input::Jsonl(path.to_path_buf()))
    }

    /// How many items the input holds, if that can be known without
    /// consuming it: non-blank lines of a file (one cheap pass over the
    /// bytes), files of a directory; `None` for stdin.
    pub fn count(&self) -> Result<Option<u64>> {
        match self {
            Input::Stdin => Ok(None),
            Input::Dir(files) => Ok(Some(files.len() as u64)),
            Input::Jsonl(path) => {
                let file = std::fs::File::open(path)
                    .with_context(|| format!("cannot open input {}", path.display()))?;
                count_nonblank_lines(file)
                    .map(Some)
                    .with_context(|| format!("cannot read input {}", path.display()))
            }
        }
    }

    /// The items, in input order.
    pub async fn into_stream(self) -> Result<ItemStream> {
        match self {
            Input::Stdin => Ok(jsonl_stream(tokio::io::stdin(), "standard input".into())),
            Input::Jsonl(path) => {
                let file = tokio::fs::File::open(&path)
                    .await
                    .with_context(|| format!("cannot open input {}", path.display()))?;
                Ok(jsonl_stream(file, path.display().to_string()))
            }
            Input::Dir(files) => Ok(stream::iter(files)
                .then(|p| async move { Ok(read_txt(&p).await) })
                .boxed()),
        }
    }
}

/// The `.txt` files (or links to files) directly in `dir`, sorted by name so
/// that runs are repeatable.
pub fn list_txt_files(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir)
        .with_context(|| format!("cannot list input directory {}", dir.display()))?
    {
        let entry =
            entry.with_context(|| format!("cannot list input directory {}", dir.display()))?;
        let path = entry.path();
        if path.extension().is_some_and(|e| e == "txt") && path.is_file() {
            files.push(path);
        }
    }
    files.sort_by(|a, b| a.file_name().cmp(&b.file_name()));
    Ok(files)
}

/// Reads one article file. Problems with a single file become an error
/// record for it rather than stopping the whole batch.
async fn read_txt(path: &Path) -> Item {
    let id = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.display().to_string());
    match tokio::fs::read(path).await {
        Err(e) => Item::Bad(ErrorRecord::new(
            id,
            INVALID_ARGUMENT,
            format!("cannot read {}: {e}", path.display()),
        )),
        Ok(bytes) => match String::from_utf8(bytes) {
            Ok(text) => Item::Article(Article {
                id,
                text,
                language: None,
                title: None,
            }),
            Err(e) => Item::Bad(ErrorRecord::new(
                id,
                INVALID_ARGUMENT,
                format!(
                    "{} is not UTF-8 (at byte {})",
                    path.display(),
                    e.utf8_error().valid_up_to()
                ),
            )),
        },
    }
}

/// Streams JSONL from `reader`, one line at a time. Reads raw bytes rather
/// than `lines()` so a line that is not UTF-8 is one bad item, not the end
/// of the run.
fn jsonl_stream<R: AsyncRead + Unpin + Send + 'static>(reader: R, name: String) -> ItemStream {
    struct State<R> {
        reader: BufReader<R>,
        line_no: u64,
        buf: Vec<u8>,
        name: String,
        failed: bool,
    }
    let state = State {
        reader: BufReader::with_capacity(256 * 1024, reader),
        line_no: 0,
        buf: Vec::new(),
        name,
        failed: false,
    };
    stream::unfold(state, |mut st| async move {
        if st.failed {
            return None;
        }
        loop {
            st.buf.clear();
            match st.reader.read_until(b'\n', &mut st.buf).await {
                Ok(0) => return None,
                Ok(_) => {
                    st.line_no += 1;
                    if let Some(item) = parse_line(st.line_no, &st.buf) {
                        return Some((Ok(item), st));
                    }
                }
                Err(e) => {
                    st.failed = true;
                    let err = anyhow::Error::new(e)
                        .context(format!("cannot read {} after line {}", st.name, st.line_no));
                    return Some((Err(err), st));
                }
            }
        }
    })
    .boxed()
}

/// Parses one JSONL line (1-based `line_no`, newline included or not).
/// Blank lines give `None` and are not items. Any other line gives an item;
/// one that is not usable becomes an error record whose id is the line's id
/// if it has a readable one, `line:<n>` otherwise.
pub fn parse_line(line_no: u64, bytes: &[u8]) -> Option<Item> {
    // The byte order mark some editors write at the start of a UTF-8 file.
    let bytes = match line_no {
        1 => bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes),
        _ => bytes,
    };
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return None;
    }
    let fallback_id = format!("line:{line_no}");
    let bad = |id: String, msg: String| {
        Some(Item::Bad(ErrorRecord::new(
            id,
            INVALID_ARGUMENT,
            format!("line {line_no}: {msg}"),
        )))
    };
    let line = match std::str::from_utf8(bytes) {
        Ok(l) => l,
        Err(e) => {
            return bad(
                fallback_id,
                format!("not UTF-8 (at byte {})", e.valid_up_to()),
            )
        }
    };
    let value: Value = match serde_json::from_str(line) {
        Ok(v) => v,
        Err(e) => return bad(fallback_id, format!("invalid JSON: {e}")),
    };
    let Value::Object(mut obj) = value else {
        return bad(fallback_id, "not a JSON object".into());
    };
    // Numeric ids are common in exported data; accept them as their decimal text.
    let id = match obj.get("id") {
        Some(Value::String(s)) if !s.trim().is_empty() => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        Some(_) => {
            return bad(
                fallback_id,
                "\"id\" is not a non-empty string or a number".into(),
            )
        }
        None => return bad(fallback_id, "no \"id\"".into()),
    };
    let text = match obj.remove("text") {
        Some(Value::String(s)) => s,
        Some(_) => return bad(id, "\"text\" is not a string".into()),
        None => return bad(id, "no \"text\"".into()),
    };
    let language = match obj.remove("language") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if s.trim().is_empty() => None,
        Some(Value::String(s)) => Some(s.trim().to_string()),
        Some(_) => return bad(id, "\"language\" is not a string".into()),
    };
    let title = match obj.remove("title") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if s.trim().is_empty() => None,
        Some(Value::String(s)) => Some(s),
        Some(_) => return bad(id, "\"title\" is not a string".into()),
    };
    Some(Item::Article(Article {
        id,
        text,
        language,
        title,
    }))
}

/// Counts lines holding anything but whitespace, like [`parse_line`] does,
/// so the progress total matches the items.
fn count_nonblank_lines(mut reader: impl Read) -> std::io::Result<u64> {
    let mut buf = vec![0u8; 1 << 20];
    let mut count = 0;
    let mut nonblank = false;
    loop {
        let n = match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        for &b in &buf[..n] {
            if b == b'\n' {
                count += u64::from(nonblank);
                nonblank = false;
            } else if !b.is_ascii_whitespace() {
                nonblank = true;
            }
        }
    }
    Ok(count + u64::from(nonblank))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn article(item: Option<Item>) -> Article {
        match item {
            Some(Item::Article(a)) => a,
            other => panic!("expected an article, got {other:?}"),
        }
    }

    fn bad(item: Option<Item>) -> ErrorRecord {
        match item {
            Some(Item::Bad(e)) => e,
            other => panic!("expected an error, got {other:?}"),
        }
    }

    #[test]
    fn good_lines() {
        let a = article(parse_line(
            1,
            "{\"id\":\"x1\",\"text\":\"مرحبا\",\"language\":\"ar\",\"url\":\"u\",\"title\":\"عنوان\"}\n"
                .as_bytes(),
        ));
        assert_eq!(
            a,
            Article {
                id: "x1".into(),
                text: "مرحبا".into(),
                language: Some("ar".into()),
                title: Some("عنوان".into())
            }
        );
        let a = article(parse_line(
            2,
            br#"{"id": 42, "text": "t", "language": null}"#,
        ));
        assert_eq!((a.id.as_str(), a.language), ("42", None));
        let a = article(parse_line(3, b"{\"text\":\"t\",\"id\":\"y\"}\r\n"));
        assert_eq!(a.id, "y");
        // A byte order mark starting the file is not part of the first line.
        let a = article(parse_line(
            1,
            b"\xEF\xBB\xBF{\"id\":\"first\",\"text\":\"t\"}\n",
        ));
        assert_eq!(a.id, "first");
    }

    #[test]
    fn blank_lines_are_not_items() {
        assert_eq!(parse_line(1, b"\n"), None);
        assert_eq!(parse_line(1, b"  \r\n"), None);
        assert_eq!(parse_line(1, b""), None);
    }

    #[test]
    fn bad_lines() {
        let e = bad(parse_line(7, b"{not json\n"));
        assert_eq!(e.id, "line:7");
        assert_eq!(e.error.code, 3);
        assert_eq!(e.error.status, "INVALID_ARGUMENT");
        assert!(
            e.error.message.starts_with("line 7: invalid JSON"),
            "{}",
            e.error.message
        );

        assert_eq!(bad(parse_line(8, br#"{"text":"t"}"#)).id, "line:8");
        assert_eq!(bad(parse_line(9, br#"["a"]"#)).id, "line:9");
        assert_eq!(
            bad(parse_line(10, br#"{"id":"","text":"t"}"#)).id,
            "line:10"
        );
        assert_eq!(bad(parse_line(11, b"{\"id\":\"a\xff\"}")).id, "line:11");

        // The id is readable, so the error record carries it.
        let e = bad(parse_line(12, br#"{"id":"z","body":"t"}"#));
        assert_eq!(e.id, "z");
        assert!(e.error.message.contains("no \"text\""));
        assert_eq!(bad(parse_line(13, br#"{"id":"z","text":5}"#)).id, "z");
        assert_eq!(
            bad(parse_line(14, br#"{"id":"z","text":"t","language":1}"#)).id,
            "z"
        );
    }

    #[test]
    fn counts_nonblank_lines() {
        assert_eq!(count_nonblank_lines(&b""[..]).unwrap(), 0);
        assert_eq!(count_nonblank_lines(&b"a\n\n  \nb"[..]).unwrap(), 2);
        assert_eq!(count_nonblank_lines(&b"a\nb\n"[..]).unwrap(), 2);
    }

    #[tokio::test]
    async fn jsonl_file_stream() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("in.jsonl");
        std::fs::write(
            &path,
            "{\"id\":\"a\",\"text\":\"A\"}\n\nnope\n{\"id\":\"b\",\"text\":\"B\"}",
        )
        .unwrap();
        let input = Input::open(&path).unwrap();
        assert_eq!(input.count().unwrap(), Some(3));
        let items: Vec<Item> = input
            .into_stream()
            .await
            .unwrap()
            .map(|r| r.unwrap())
            .collect()
            .await;
        let ids: Vec<&str> = items.iter().map(Item::id).collect();
        assert_eq!(ids, ["a", "line:3", "b"]);
        assert!(matches!(items[1], Item::Bad(_)));
    }

    #[tokio::test]
    async fn directory_of_txt_files() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("b.txt"), "نص ب").unwrap();
        std::fs::write(dir.path().join("a.txt"), "نص أ").unwrap();
        std::fs::write(dir.path().join("c.txt"), b"\xff\xfe").unwrap();
        std::fs::write(dir.path().join("notes.md"), "skip me").unwrap();
        std::fs::create_dir(dir.path().join("sub.txt")).unwrap();
        let input = Input::open(dir.path()).unwrap();
        assert_eq!(input.count().unwrap(), Some(3));
        let items: Vec<Item> = input
            .into_stream()
            .await
            .unwrap()
            .map(|r| r.unwrap())
            .collect()
            .await;
        assert_eq!(items.len(), 3);
        assert_eq!(
            items[0],
            Item::Article(Article {
                id: "a".into(),
                text: "نص أ".into(),
                language: None,
                title: None
            })
        );
        assert_eq!(items[1].id(), "b");
        match &items[2] {
            Item::Bad(e) => assert_eq!((e.id.as_str(), e.error.code), ("c", 3)),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn missing_input_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        assert!(Input::open(&dir.path().join("nope.jsonl")).is_err());
    }
}
