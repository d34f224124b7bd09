//! The PNG: latency (p50 solid, p95 thin) and throughput against
//! concurrency for every series, and the per-1,000-character cost against
//! article length when lengths were measured.

mod text;

use std::path::Path;

use anyhow::{anyhow, Result};
use plotters::prelude::*;

use super::report::{Report, Series};
use text::WithFont;

const SIZE: (u32, u32) = (1500, 520);
const COLORS: [RGBColor; 4] = [
    RGBColor(31, 119, 180),
    RGBColor(214, 39, 40),
    RGBColor(44, 160, 44),
    RGBColor(148, 103, 189),
];

/// Draws `report` to `path`.
pub fn draw(report: &Report, path: &Path) -> Result<()> {
    let backend = WithFont::new(BitMapBackend::new(path, SIZE))?;
    let root = backend.into_drawing_area();
    root.fill(&WHITE).map_err(|e| anyhow!("{e}"))?;
    let root = root
        .titled("Khulasa benchmark", ("sans-serif", 26))
        .map_err(|e| anyhow!("{e}"))?;
    let panels = root.split_evenly((1, 3));
    let levels = concurrency_levels(report);
    let latency = |l: &super::report::Level, p95: bool| if p95 { l.p95_ms } else { l.p50_ms };
    chart(
        &panels[0],
        "Latency (ms): p50 thick, p95 thin",
        &levels,
        &report.series,
        |s| {
            [false, true]
                .into_iter()
                .map(|p95| {
                    let points = s
                        .levels
                        .iter()
                        .map(|l| (index(&levels, l.concurrency), latency(l, p95)))
                        .collect();
                    (points, if p95 { 1 } else { 3 })
                })
                .collect()
        },
    )?;
    chart(
        &panels[1],
        "Throughput (articles/s)",
        &levels,
        &report.series,
        |s| {
            vec![(
                s.levels
                    .iter()
                    .map(|l| (index(&levels, l.concurrency), l.articles_per_s))
                    .collect(),
                3,
            )]
        },
    )?;
    lengths(&panels[2], report)?;
    root.present().map_err(|e| anyhow!("{e}"))?;
    Ok(())
}

type Lines = Vec<(Vec<(f64, f64)>, u32)>;

/// One panel with concurrency on x (evenly spaced levels) and `lines` of
/// each series on y.
fn chart<DB: DrawingBackend>(
    area: &DrawingArea<DB, plotters::coord::Shift>,
    title: &str,
    levels: &[u32],
    series: &[Series],
    lines: impl Fn(&Series) -> Lines,
) -> Result<()> {
    let all: Vec<(Series, Lines)> = series.iter().map(|s| (s.clone(), lines(s))).collect();
    let y_max = all
        .iter()
        .flat_map(|(_, ls)| ls.iter().flat_map(|(pts, _)| pts.iter().map(|p| p.1)))
        .fold(0.0f64, f64::max)
        .max(1e-3)
        * 1.1;
    let n = levels.len().max(1);
    let mut chart = ChartBuilder::on(area)
        .caption(title, ("sans-serif", 20))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(60)
        .build_cartesian_2d(-0.3f64..(n as f64 - 0.7), 0f64..y_max)
        .map_err(|e| anyhow!("{e}"))?;
    chart
        .configure_mesh()
        .x_labels(n)
        .x_label_formatter(&|x| level_label(levels, *x))
        .x_desc("concurrent clients")
        .label_style(("sans-serif", 14))
        .draw()
        .map_err(|e| anyhow!("{e}"))?;
    for (k, (s, ls)) in all.iter().enumerate() {
        let color = COLORS[k % COLORS.len()];
        for (i, (points, width)) in ls.iter().enumerate() {
            let drawn = chart
                .draw_series(LineSeries::new(points.clone(), color.stroke_width(*width)))
                .map_err(|e| anyhow!("{e}"))?;
            if i == 0 {
                drawn.label(s.name.clone()).legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(3))
                });
            }
            chart
                .draw_series(points.iter().map(|&p| Circle::new(p, 3, color.filled())))
                .map_err(|e| anyhow!("{e}"))?;
        }
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .label_font(("sans-serif", 14))
        .position(SeriesLabelPosition::UpperLeft)
        .draw()
        .map_err(|e| anyhow!("{e}"))?;
    Ok(())
}

/// Milliseconds per 1,000 characters against article length.
fn lengths<DB: DrawingBackend>(
    area: &DrawingArea<DB, plotters::coord::Shift>,
    report: &Report,
) -> Result<()> {
    let mut lengths: Vec<u64> = report.lengths.iter().map(|r| r.length).collect();
    lengths.sort_unstable();
    lengths.dedup();
    if lengths.is_empty() {
        return Ok(());
    }
    let names: Vec<&str> = report.series.iter().map(|s| s.name.as_str()).collect();
    let y_max = report
        .lengths
        .iter()
        .map(|r| r.ms_per_1k_chars)
        .fold(0.0f64, f64::max)
        .max(1e-3)
        * 1.2;
    let n = lengths.len();
    let mut chart = ChartBuilder::on(area)
        .caption("Cost per 1,000 chars (ms) by length", ("sans-serif", 20))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(60)
        .build_cartesian_2d(-0.3f64..(n as f64 - 0.7), 0f64..y_max)
        .map_err(|e| anyhow!("{e}"))?;
    chart
        .configure_mesh()
        .x_labels(n)
        .x_label_formatter(&|x| {
            nearest(*x, n).map_or(String::new(), |i| format!("{}k", lengths[i] / 1000))
        })
        .x_desc("article length (chars)")
        .label_style(("sans-serif", 14))
        .draw()
        .map_err(|e| anyhow!("{e}"))?;
    for (k, name) in names.iter().enumerate() {
        let points: Vec<(f64, f64)> = report
            .lengths
            .iter()
            .filter(|r| r.series == *name && r.ok > 0)
            .filter_map(|r| {
                let i = lengths.iter().position(|&l| l == r.length)?;
                Some((i as f64, r.ms_per_1k_chars))
            })
            .collect();
        if points.is_empty() {
            continue;
        }
        let color = COLORS[k % COLORS.len()];
        chart
            .draw_series(LineSeries::new(points.clone(), color.stroke_width(3)))
            .map_err(|e| anyhow!("{e}"))?
            .label(name.to_string())
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(3))
            });
        chart
            .draw_series(points.iter().map(|&p| Circle::new(p, 3, color.filled())))
            .map_err(|e| anyhow!("{e}"))?;
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .label_font(("sans-serif", 14))
        .position(SeriesLabelPosition::LowerRight)
        .draw()
        .map_err(|e| anyhow!("{e}"))?;
    Ok(())
}

/// Every concurrency level of any series, ascending.
fn concurrency_levels(report: &Report) -> Vec<u32> {
    let mut levels: Vec<u32> = report
        .series
        .iter()
        .flat_map(|s| s.levels.iter().map(|l| l.concurrency))
        .collect();
    levels.sort_unstable();
    levels.dedup();
    levels
}

fn index(levels: &[u32], c: u32) -> f64 {
    levels.iter().position(|&l| l == c).unwrap_or(0) as f64
}

/// The level whose position is `x`, when `x` is (nearly) a whole position.
fn level_label(levels: &[u32], x: f64) -> String {
    nearest(x, levels.len()).map_or(String::new(), |i| levels[i].to_string())
}

fn nearest(x: f64, n: usize) -> Option<usize> {
    let i = x.round();
    ((x - i).abs() < 0.05 && i >= 0.0 && (i as usize) < n).then_some(i as usize)
}
