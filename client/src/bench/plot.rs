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

/// One panel: evenly spaced categories on x, and for each named series its
/// lines (points and stroke width; the first line carries the legend).
struct Panel<'a> {
    title: &'a str,
    x_desc: &'a str,
    x_labels: Vec<String>,
    series: Vec<(String, Lines)>,
    legend: SeriesLabelPosition,
    /// Room above the highest point, as a factor.
    headroom: f64,
}

/// One panel with concurrency on x (evenly spaced levels) and `lines` of
/// each series on y.
fn chart<DB: DrawingBackend>(
    area: &DrawingArea<DB, plotters::coord::Shift>,
    title: &str,
    levels: &[u32],
    series: &[Series],
    lines: impl Fn(&Series) -> Lines,
) -> Result<()> {
    draw_panel(
        area,
        Panel {
            title,
            x_desc: "concurrent clients",
            x_labels: levels.iter().map(u32::to_string).collect(),
            series: series.iter().map(|s| (s.name.clone(), lines(s))).collect(),
            legend: SeriesLabelPosition::UpperLeft,
            headroom: 1.1,
        },
    )
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
    let series = report
        .series
        .iter()
        .map(|s| {
            let points: Vec<(f64, f64)> = report
                .lengths
                .iter()
                .filter(|r| r.series == s.name && r.ok > 0)
                .filter_map(|r| {
                    let i = lengths.iter().position(|&l| l == r.length)?;
                    Some((i as f64, r.ms_per_1k_chars))
                })
                .collect();
            // A series without lengths keeps its place, so colours match
            // the other panels.
            let lines = if points.is_empty() {
                vec![]
            } else {
                vec![(points, 3)]
            };
            (s.name.clone(), lines)
        })
        .collect();
    draw_panel(
        area,
        Panel {
            title: "Cost per 1,000 chars (ms) by length",
            x_desc: "article length (chars)",
            x_labels: lengths.iter().map(|l| format!("{}k", l / 1000)).collect(),
            series,
            legend: SeriesLabelPosition::LowerRight,
            headroom: 1.2,
        },
    )
}

fn draw_panel<DB: DrawingBackend>(
    area: &DrawingArea<DB, plotters::coord::Shift>,
    panel: Panel,
) -> Result<()> {
    let y_max = panel
        .series
        .iter()
        .flat_map(|(_, ls)| ls.iter().flat_map(|(pts, _)| pts.iter().map(|p| p.1)))
        .fold(0.0f64, f64::max)
        .max(1e-3)
        * panel.headroom;
    let n = panel.x_labels.len().max(1);
    let mut chart = ChartBuilder::on(area)
        .caption(panel.title, ("sans-serif", 20))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(60)
        .build_cartesian_2d(-0.3f64..(n as f64 - 0.7), 0f64..y_max)
        .map_err(|e| anyhow!("{e}"))?;
    let labels = &panel.x_labels;
    chart
        .configure_mesh()
        .x_labels(n)
        .x_label_formatter(&|x| {
            nearest(*x, labels.len()).map_or(String::new(), |i| labels[i].clone())
        })
        .x_desc(panel.x_desc)
        .label_style(("sans-serif", 14))
        .draw()
        .map_err(|e| anyhow!("{e}"))?;
    for (k, (name, ls)) in panel.series.iter().enumerate() {
        let color = COLORS[k % COLORS.len()];
        for (i, (points, width)) in ls.iter().enumerate() {
            let drawn = chart
                .draw_series(LineSeries::new(points.clone(), color.stroke_width(*width)))
                .map_err(|e| anyhow!("{e}"))?;
            if i == 0 {
                drawn.label(name.clone()).legend(move |(x, y)| {
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
        .position(panel.legend)
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

/// The category at position `x`, when `x` is (nearly) a whole position.
fn nearest(x: f64, n: usize) -> Option<usize> {
    let i = x.round();
    ((x - i).abs() < 0.05 && i >= 0.0 && (i as usize) < n).then_some(i as usize)
}
