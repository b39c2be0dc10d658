//! The harness's results: a Markdown table (printed and written), the ratios
//! the goals are stated in, and a chart (PNG).

use std::fmt::Write as _;
use std::path::Path;

use anyhow::Context as _;
use plotters::prelude::*;

use crate::contender::Run;
use crate::latency::Latency;
use crate::workload::Workload;

/// One line of the results: a contender on a workload, guarantee and
/// thread count.
#[derive(Debug, Clone)]
pub(crate) struct Row {
    /// The workload.
    pub(crate) workload: Workload,
    /// `exactly_once` or `at_least_once`.
    pub(crate) guarantee: String,
    /// Processing threads.
    pub(crate) threads: u32,
    /// The contender.
    pub(crate) contender: String,
    /// Medians of its timed runs whose output was right (`None`: none was).
    pub(crate) median: Option<Run>,
    /// Its runs whose output was right, of all.
    pub(crate) checked: (usize, usize),
    /// End-to-end latency, where measured.
    pub(crate) latency: Option<Latency>,
}

impl Row {
    fn key(&self) -> (Workload, &str, u32) {
        (self.workload, self.guarantee.as_str(), self.threads)
    }
}

fn find<'a>(rows: &'a [Row], key: (Workload, &str, u32), contender: &str) -> Option<&'a Run> {
    (rows.iter())
        .find(|r| r.key() == key && r.contender == contender)
        .and_then(|r| r.median.as_ref())
}

/// The results table, in Markdown.
pub(crate) fn table(rows: &[Row]) -> String {
    let mut out = String::from(
        "| workload | guarantee | threads | contender | records/s | CPU s per 1M records | peak RSS (MB) \
         | latency p50 / p99 (ms) | × Kafka Streams records/s | × fewer CPU s than Kafka Streams | cross-check |\n\
         |---|---|---|---|---|---|---|---|---|---|---|\n",
    );
    for row in rows {
        let check = format!("{} of {} runs right", row.checked.0, row.checked.1);
        let latency = row
            .latency
            .map_or_else(|| "-".to_string(), |l| format!("{:.0} / {:.0}", l.p50, l.p99));
        let _ = write!(
            out,
            "| {} | {} | {} | {} ",
            row.workload.name(),
            row.guarantee,
            row.threads,
            row.contender
        );
        match (&row.median, find(rows, row.key(), "kafka-streams")) {
            (Some(m), ks) => {
                let (speed, cpu) = ks.map_or_else(
                    || ("-".to_string(), "-".to_string()),
                    |k| {
                        (
                            format!("{:.2}", m.records_per_second / k.records_per_second),
                            format!("{:.2}", k.cpu_seconds_per_million / m.cpu_seconds_per_million),
                        )
                    },
                );
                let _ = writeln!(
                    out,
                    "| {:.0} | {:.1} | {:.0} | {latency} | {speed} | {cpu} | {check} |",
                    m.records_per_second, m.cpu_seconds_per_million, m.peak_rss_mb
                );
            }
            (None, _) => {
                let _ = writeln!(out, "| not timed | | | {latency} | | | {check} |");
            }
        }
    }
    out
}

/// The ratios the goals are stated in, where both sides were
/// measured.
pub(crate) fn goals(rows: &[Row]) -> String {
    let mut out = String::new();
    let mut line = |text: String| {
        out.push_str("- ");
        out.push_str(&text);
        out.push('\n');
    };
    for workload in [Workload::W1, Workload::W2, Workload::W3] {
        let eos = (workload, "exactly_once", 1);
        if let (Some(m), Some(k)) = (find(rows, eos, "meshkit"), find(rows, eos, "kafka-streams")) {
            line(format!(
                "{} exactly-once, meshkit / Kafka Streams: {:.2}× records/s, {:.2}× fewer CPU s per 1M records, \
                 peak RSS {:.2} of Kafka Streams'",
                workload.name(),
                m.records_per_second / k.records_per_second,
                k.cpu_seconds_per_million / m.cpu_seconds_per_million,
                m.peak_rss_mb / k.peak_rss_mb
            ));
        }
        for guarantee in ["exactly_once", "at_least_once"] {
            let key = (workload, guarantee, 1);
            if let (Some(m), Some(h)) = (find(rows, key, "meshkit"), find(rows, key, "hand")) {
                line(format!(
                    "{} {guarantee}, meshkit / hand-written loop: {:.2}× records/s",
                    workload.name(),
                    m.records_per_second / h.records_per_second
                ));
            }
        }
        for contender in ["meshkit", "kafka-streams", "hand"] {
            let eos = find(rows, (workload, "exactly_once", 1), contender);
            let alos = find(rows, (workload, "at_least_once", 1), contender);
            if let (Some(e), Some(a)) = (eos, alos) {
                line(format!(
                    "{} {contender}: exactly-once / at-least-once: {:.2}× records/s, {:.2}× CPU s per 1M records",
                    workload.name(),
                    e.records_per_second / a.records_per_second,
                    e.cpu_seconds_per_million / a.cpu_seconds_per_million
                ));
            }
        }
        let one = find(rows, (workload, "exactly_once", 1), "meshkit");
        let two = find(rows, (workload, "exactly_once", 2), "meshkit");
        if let (Some(one), Some(two)) = (one, two) {
            line(format!(
                "{} meshkit, 2 processing threads / 1: {:.2}× records/s",
                workload.name(),
                two.records_per_second / one.records_per_second
            ));
        }
    }
    out
}

/// The font the chart's text is drawn with (plotters draws no text without
/// one): DejaVu Sans, from the system's fonts.
const FONT: &str = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf";

/// Draws records/s per workload, guarantee and thread count, a bar per
/// contender, to `path` (PNG).
pub(crate) fn chart(rows: &[Row], contenders: &[String], path: &Path) -> anyhow::Result<()> {
    let font = std::fs::read(FONT)
        .with_context(|| format!("reading the chart's font {FONT} (Debian: fonts-dejavu-core)"))?;
    plotters::style::register_font(
        "sans-serif",
        FontStyle::Normal,
        Box::leak(font.into_boxed_slice()),
    )
    .map_err(|_| anyhow::anyhow!("{FONT} is not a font plotters can read"))?;
    let mut groups: Vec<(Workload, &str, u32)> = Vec::new();
    for row in rows {
        if !groups.contains(&row.key()) {
            groups.push(row.key());
        }
    }
    let top = (rows.iter())
        .filter_map(|r| r.median.map(|m| m.records_per_second))
        .fold(1.0, f64::max)
        * 1.15;
    let root = BitMapBackend::new(path, (1200, 640)).into_drawing_area();
    root.fill(&WHITE)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(
            "Peer benchmark: input records/s (median; higher is better)",
            ("sans-serif", 24),
        )
        .margin(16)
        .x_label_area_size(60)
        .y_label_area_size(80)
        .build_cartesian_2d(0f64..groups.len() as f64, 0f64..top)?;
    let label = |x: &f64| {
        let group = groups.get(x.floor() as usize);
        group.map_or_else(String::new, |(w, g, t)| {
            let g = if *g == "exactly_once" { "EOS" } else { "ALOS" };
            format!("{} {g} {t}t", w.name())
        })
    };
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(groups.len() * 2 + 1)
        .x_label_formatter(&|x| if x.fract() == 0.5 { label(x) } else { String::new() })
        .y_desc("records/s")
        .y_label_formatter(&|v| format!("{:.0}k", v / 1000.0))
        .label_style(("sans-serif", 14))
        .draw()?;
    let width = 0.8 / contenders.len().max(1) as f64;
    for (c, contender) in contenders.iter().enumerate() {
        let color = Palette99::pick(c).filled();
        let bars = groups.iter().enumerate().filter_map(|(g, key)| {
            let run = find(rows, *key, contender)?;
            let left = g as f64 + 0.1 + c as f64 * width;
            Some(Rectangle::new(
                [(left, 0.0), (left + width * 0.9, run.records_per_second)],
                color,
            ))
        });
        chart
            .draw_series(bars)?
            .label(contender.as_str())
            .legend(move |(x, y)| Rectangle::new([(x, y - 6), (x + 12, y + 6)], Palette99::pick(c).filled()));
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .label_font(("sans-serif", 16))
        .draw()?;
    root.present()?;
    Ok(())
}
