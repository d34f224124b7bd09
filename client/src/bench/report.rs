//! What a benchmark run found, as JSON (for tools) and Markdown (for
//! people): one series per measured configuration, the length scaling and
//! the ratios the targets are stated in.

use std::{collections::BTreeMap, fmt::Write};

use serde::Serialize;

use super::driver::Measured;

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub date: String,
    pub command: String,
    pub machine: Machine,
    pub corpus: Corpus,
    /// How long each level ran, in words.
    pub plan: String,
    pub series: Vec<Series>,
    pub lengths: Vec<LengthRow>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Machine {
    pub cpu: String,
    pub cores: usize,
    /// /proc/loadavg when the run began and ended: others' load shows here.
    pub load_before: String,
    pub load_after: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Corpus {
    pub path: String,
    pub articles: usize,
    pub mean_chars: f64,
}

/// One configuration measured at every concurrency level.
#[derive(Debug, Clone, Serialize)]
pub struct Series {
    /// Short name: "gRPC A", "gRPC B", "in-process".
    pub name: String,
    /// The server flags, or the in-process settings.
    pub settings: String,
    /// Seconds from start to SERVING (or to loaded, in-process).
    pub startup_secs: Option<f64>,
    /// Peak resident memory of the server (VmHWM) after the run, bytes.
    pub peak_rss_bytes: Option<u64>,
    pub levels: Vec<Level>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Level {
    pub concurrency: u32,
    pub ok: u64,
    pub errors: BTreeMap<String, u64>,
    pub seconds: f64,
    pub articles_per_s: f64,
    pub chars_per_s: f64,
    pub p50_ms: f64,
    pub p95_ms: f64,
    pub p99_ms: f64,
    pub mean_ms: f64,
    /// Largest VmRSS sampled during the level, bytes.
    pub rss_peak_bytes: Option<u64>,
}

impl Level {
    pub fn new(m: &Measured, rss_peak_bytes: Option<u64>) -> Self {
        Level {
            concurrency: m.concurrency,
            ok: m.ok,
            errors: m.errors.clone(),
            seconds: m.elapsed.as_secs_f64(),
            articles_per_s: m.articles_per_s(),
            chars_per_s: m.chars_per_s(),
            p50_ms: m.quantile_ms(0.5),
            p95_ms: m.quantile_ms(0.95),
            p99_ms: m.quantile_ms(0.99),
            mean_ms: m.mean_ms(),
            rss_peak_bytes,
        }
    }
}

/// One article length in one configuration, one article at a time.
#[derive(Debug, Clone, Serialize)]
pub struct LengthRow {
    pub series: String,
    pub length: u64,
    pub ok: u64,
    pub errors: u64,
    pub mean_ms: f64,
    pub p50_ms: f64,
    /// Mean time per 1,000 code points.
    pub ms_per_1k_chars: f64,
}

impl LengthRow {
    pub fn new(series: &str, length: u64, m: &Measured) -> Self {
        let mean_ms = m.mean_ms();
        LengthRow {
            series: series.to_string(),
            length,
            ok: m.ok,
            errors: m.error_count(),
            mean_ms,
            p50_ms: m.quantile_ms(0.5),
            ms_per_1k_chars: mean_ms / (length as f64 / 1000.0),
        }
    }
}

impl Series {
    /// The level with the highest throughput.
    pub fn best(&self) -> Option<&Level> {
        self.levels
            .iter()
            .max_by(|a, b| a.articles_per_s.total_cmp(&b.articles_per_s))
    }

    pub fn at(&self, concurrency: u32) -> Option<&Level> {
        self.levels.iter().find(|l| l.concurrency == concurrency)
    }
}

impl Report {
    fn named(&self, name: &str) -> Option<&Series> {
        self.series.iter().find(|s| s.name == name)
    }

    /// The Markdown report.
    pub fn markdown(&self) -> String {
        let mut md = String::new();
        let _ = self.write_markdown(&mut md);
        md
    }

    fn write_markdown(&self, md: &mut String) -> std::fmt::Result {
        writeln!(md, "# Khulasa benchmark\n")?;
        writeln!(md, "- Date: {}", self.date)?;
        writeln!(md, "- Command: `{}`", self.command)?;
        writeln!(
            md,
            "- Machine: {} ({} cores); load average before {}, after {}",
            self.machine.cpu, self.machine.cores, self.machine.load_before, self.machine.load_after
        )?;
        writeln!(
            md,
            "- Corpus: {} ({} articles, {:.0} characters on average)",
            self.corpus.path, self.corpus.articles, self.corpus.mean_chars
        )?;
        writeln!(md, "- Each level: {}", self.plan)?;
        writeln!(md)?;
        self.write_ratios(md)?;
        for s in &self.series {
            write_series(md, s)?;
        }
        self.write_lengths(md)?;
        Ok(())
    }

    fn write_ratios(&self, md: &mut String) -> std::fmt::Result {
        writeln!(md, "## Ratios\n")?;
        writeln!(md, "| Measure | Value |\n| --- | --- |")?;
        let a = self.named(GRPC_A);
        if let (Some(a), Some(raw)) = (a, self.named(IN_PROCESS)) {
            if let (Some(ga), Some(gr)) = (a.best(), raw.best()) {
                writeln!(
                    md,
                    "| gRPC ÷ in-process throughput, best levels (c={} vs c={}) | {:.3} |",
                    ga.concurrency,
                    gr.concurrency,
                    ga.articles_per_s / gr.articles_per_s
                )?;
            }
            for l in &a.levels {
                if let Some(r) = raw.at(l.concurrency) {
                    writeln!(
                        md,
                        "| gRPC ÷ in-process throughput at c={} | {:.3} |",
                        l.concurrency,
                        l.articles_per_s / r.articles_per_s
                    )?;
                }
            }
        }
        if let (Some(a), Some(b)) = (a, self.named(GRPC_B)) {
            for l in &a.levels {
                if let Some(o) = b.at(l.concurrency) {
                    writeln!(
                        md,
                        "| A ÷ B throughput at c={} | {:.3} |",
                        l.concurrency,
                        l.articles_per_s / o.articles_per_s
                    )?;
                }
            }
            if let (Some(l), Some(o)) = (a.at(1), b.at(1)) {
                writeln!(
                    md,
                    "| A ÷ B p50 latency at c=1 | {:.3} |",
                    l.p50_ms / o.p50_ms
                )?;
            }
        }
        for name in [GRPC_A, IN_PROCESS] {
            if let Some(r) = self.length_ratio(name) {
                writeln!(md, "| {name}: cost per 1,000 chars, {} | {:.3} |", r.0, r.1)?;
            }
        }
        for s in &self.series {
            if let Some(b) = s.peak_rss_bytes {
                writeln!(md, "| {}: peak RSS (VmHWM) | {} |", s.name, mib(b))?;
            }
            if let Some(t) = s.startup_secs {
                let what = if s.name == IN_PROCESS {
                    "models loaded and warmed"
                } else {
                    "start to SERVING"
                };
                writeln!(md, "| {}: {what} | {t:.2} s |", s.name)?;
            }
        }
        writeln!(md)
    }

    /// Per-1,000-character cost at the longest length over the shortest.
    fn length_ratio(&self, name: &str) -> Option<(String, f64)> {
        let rows: Vec<_> = self
            .lengths
            .iter()
            .filter(|r| r.series == name && r.ok > 0)
            .collect();
        let short = rows.iter().min_by_key(|r| r.length)?;
        let long = rows.iter().max_by_key(|r| r.length)?;
        (long.length > short.length).then(|| {
            (
                format!("{} ÷ {} chars", long.length, short.length),
                long.ms_per_1k_chars / short.ms_per_1k_chars,
            )
        })
    }

    fn write_lengths(&self, md: &mut String) -> std::fmt::Result {
        if self.lengths.is_empty() {
            return Ok(());
        }
        writeln!(
            md,
            "## Cost against article length (one article at a time)\n"
        )?;
        writeln!(
            md,
            "| Series | Length (chars) | OK | Errors | Mean ms | p50 ms | ms per 1,000 chars |\n| --- | ---: | ---: | ---: | ---: | ---: | ---: |"
        )?;
        for r in &self.lengths {
            writeln!(
                md,
                "| {} | {} | {} | {} | {:.1} | {:.1} | {:.2} |",
                r.series, r.length, r.ok, r.errors, r.mean_ms, r.p50_ms, r.ms_per_1k_chars
            )?;
        }
        writeln!(md)
    }
}

/// Series names; the ratios look them up.
pub const GRPC_A: &str = "gRPC A";
pub const GRPC_B: &str = "gRPC B";
pub const IN_PROCESS: &str = "in-process";

fn write_series(md: &mut String, s: &Series) -> std::fmt::Result {
    writeln!(md, "## {}\n", s.name)?;
    if s.settings.trim().is_empty() {
        writeln!(md, "Settings: the server's defaults\n")?;
    } else {
        writeln!(md, "Settings: `{}`\n", s.settings)?;
    }
    writeln!(
        md,
        "| Concurrency | OK | Errors | Articles/s | Chars/s | p50 ms | p95 ms | p99 ms | Mean ms | Peak RSS |\n| ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
    )?;
    for l in &s.levels {
        let errors = if l.errors.is_empty() {
            "0".to_string()
        } else {
            l.errors
                .iter()
                .map(|(k, n)| format!("{k} {n}"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        writeln!(
            md,
            "| {} | {} | {} | {:.2} | {:.0} | {:.1} | {:.1} | {:.1} | {:.1} | {} |",
            l.concurrency,
            l.ok,
            errors,
            l.articles_per_s,
            l.chars_per_s,
            l.p50_ms,
            l.p95_ms,
            l.p99_ms,
            l.mean_ms,
            l.rss_peak_bytes.map_or("–".to_string(), mib)
        )?;
    }
    writeln!(md)
}

fn mib(bytes: u64) -> String {
    format!("{:.0} MiB", bytes as f64 / (1024.0 * 1024.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn level(c: u32, aps: f64, p50: f64) -> Level {
        Level {
            concurrency: c,
            ok: 10,
            errors: BTreeMap::new(),
            seconds: 1.0,
            articles_per_s: aps,
            chars_per_s: aps * 500.0,
            p50_ms: p50,
            p95_ms: p50,
            p99_ms: p50,
            mean_ms: p50,
            rss_peak_bytes: Some(100 << 20),
        }
    }

    fn series(name: &str, levels: Vec<Level>) -> Series {
        Series {
            name: name.into(),
            settings: String::new(),
            startup_secs: Some(1.5),
            peak_rss_bytes: Some(200 << 20),
            levels,
        }
    }

    #[test]
    fn markdown_has_the_ratios() {
        let row = |series: &str, length, ms| LengthRow {
            series: series.into(),
            length,
            ok: 3,
            errors: 0,
            mean_ms: ms,
            p50_ms: ms,
            ms_per_1k_chars: ms / (length as f64 / 1000.0),
        };
        let report = Report {
            date: "d".into(),
            command: "khulasa bench".into(),
            machine: Machine {
                cpu: "cpu".into(),
                cores: 2,
                load_before: "1".into(),
                load_after: "2".into(),
            },
            corpus: Corpus {
                path: "p".into(),
                articles: 5,
                mean_chars: 500.0,
            },
            plan: "1 s".into(),
            series: vec![
                series(GRPC_A, vec![level(1, 9.0, 100.0), level(2, 18.0, 110.0)]),
                series(GRPC_B, vec![level(1, 10.0, 80.0), level(2, 12.0, 150.0)]),
                series(
                    IN_PROCESS,
                    vec![level(1, 10.0, 90.0), level(2, 20.0, 100.0)],
                ),
            ],
            lengths: vec![row(GRPC_A, 2000, 100.0), row(GRPC_A, 100_000, 6000.0)],
        };
        let md = report.markdown();
        assert!(md.contains("| gRPC ÷ in-process throughput, best levels (c=2 vs c=2) | 0.900 |"));
        assert!(md.contains("| A ÷ B throughput at c=2 | 1.500 |"));
        assert!(md.contains("| A ÷ B p50 latency at c=1 | 1.250 |"));
        assert!(md.contains("| gRPC A: cost per 1,000 chars, 100000 ÷ 2000 chars | 1.200 |"));
        assert!(md.contains("| gRPC A: peak RSS (VmHWM) | 200 MiB |"));
        assert!(md.contains("| 2 | 10 | 0 | 18.00 | 9000 | 110.0 |"));
    }
}
