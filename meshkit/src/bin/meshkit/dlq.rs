//! `meshkit dlq inspect` and `meshkit dlq replay`: a product's dead letters,
//! by reason, and sending them back once the cause is fixed. The work is the
//! library's [`meshkit::dlq`]; this file finds the topic and prints.

use std::fmt::Write as _;
use std::io::{BufRead as _, IsTerminal as _, Write as _};

use anyhow::Context as _;
use meshkit::catalog::{CatalogRecord, ProductKey, Timestamp};
use meshkit::dlq::{
    dead_letter_topic, DeadLetterReader, DlqError, Inspection, Payload, ReplayFilter, ReplayReport, Replayer,
};

use crate::args::{Cli, DlqCommand};
use crate::run::{self, Failure};

impl From<DlqError> for Failure {
    fn from(err: DlqError) -> Self {
        let text = meshkit::ErrorChain(&err).to_string();
        match err {
            DlqError::NoBrokers | DlqError::Client { .. } => Self::Usage(text),
            DlqError::UnknownTopic { .. } => Self::NotFound(text),
            err if err.is_retriable() => Self::Unavailable(text),
            err => Self::Other(err.into()),
        }
    }
}

/// Runs a `meshkit dlq` command.
pub(crate) fn run(cli: &Cli, command: &DlqCommand) -> Result<(), Failure> {
    match command {
        DlqCommand::Inspect {
            product,
            topic,
            samples,
            json,
        } => {
            // The catalog gives the topic and the schemas to decode with.
            let record = catalog_record(cli, product)?;
            let topic = topic
                .clone()
                .unwrap_or_else(|| dead_letter_topic(product, record.as_ref()));
            let reader = DeadLetterReader::new(&run::config(cli)?, &topic)?.timeout(cli.timeout);
            let mut inspection = Inspection::new(&topic, record.as_ref(), *samples);
            reader.read_each(|letter| inspection.add(&letter))?;
            let text = if *json {
                json_text(&inspection)?
            } else {
                inspection_text(&inspection)
            };
            run::print(&text)
        }
        DlqCommand::Replay {
            product,
            reason,
            since,
            topic,
            dry_run,
            yes,
            json,
        } => {
            let topic = match topic {
                Some(topic) => topic.clone(),
                None => dead_letter_topic(product, catalog_record(cli, product)?.as_ref()),
            };
            let replayer = Replayer::new(&run::config(cli)?, &topic)?.timeout(cli.timeout);
            let filter = ReplayFilter {
                reason: reason.clone(),
                since: *since,
            };
            let preview = replayer.dry_run(&filter)?;
            let report = if *dry_run || preview.selected == 0 {
                preview
            } else if *yes || confirmed(&topic, preview.selected)? {
                replayer.replay(&filter)?
            } else {
                eprintln!("nothing replayed");
                return Ok(());
            };
            let text = if *json {
                json_text(&report)?
            } else {
                report_text(&report)
            };
            run::print(&text)
        }
    }
}

/// The product's catalog record, `None` (with a warning) when the catalog
/// does not have it: the default topic name is still worth trying.
fn catalog_record(cli: &Cli, product: &ProductKey) -> Result<Option<CatalogRecord>, Failure> {
    let snapshot = run::read(cli)?;
    let record = snapshot.catalog().get(product).cloned();
    if record.is_none() {
        eprintln!(
            "warning: no product `{product}` in catalog topic `{}`: its dead-letter topic is taken to \
             be the default, and no sample can be decoded",
            snapshot.topic()
        );
    }
    Ok(record)
}

/// `--since`: RFC 3339 (`2024-05-01T12:00:00Z`) or milliseconds since the
/// Unix epoch.
pub(crate) fn parse_since(text: &str) -> Result<Timestamp, String> {
    let text = text.trim();
    if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
        return text
            .parse()
            .map(Timestamp::from_millis)
            .map_err(|_| format!("`{text}` is too large for milliseconds since the epoch"));
    }
    text.parse().map_err(|_| {
        format!("`{text}` is neither an RFC 3339 UTC time (2024-05-01T12:00:00Z) nor epoch milliseconds")
    })
}

/// Asks on the terminal before writing to source topics.
fn confirmed(topic: &str, count: u64) -> Result<bool, Failure> {
    if !std::io::stdin().is_terminal() {
        return Err(Failure::Usage(format!(
            "replaying {count} dead letter(s) of `{topic}` needs confirmation: pass --yes when not on a \
             terminal (or --dry-run to see what would be replayed)"
        )));
    }
    eprint!("Replay {count} dead letter(s) of `{topic}` to their source topics? [y/N] ");
    let _ = std::io::stderr().flush();
    let mut answer = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut answer)
        .map_err(|e| Failure::Other(anyhow::Error::new(e).context("cannot read the confirmation")))?;
    Ok(matches!(answer.trim(), "y" | "Y" | "yes"))
}

fn json_text(value: &impl serde::Serialize) -> Result<String, Failure> {
    let mut text = serde_json::to_string_pretty(value)
        .context("cannot write JSON")
        .map_err(Failure::Other)?;
    text.push('\n');
    Ok(text)
}

fn time(t: Option<Timestamp>) -> String {
    t.map_or_else(|| "-".to_string(), |t| t.to_string())
}

/// The table by reason, then each reason's samples.
pub(crate) fn inspection_text(inspection: &Inspection) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "dead-letter topic `{}`: {} dead letter(s), {} reason(s)",
        inspection.topic,
        inspection.total,
        inspection.reasons.len()
    );
    if inspection.reasons.is_empty() {
        return out;
    }
    let width = inspection
        .reasons
        .iter()
        .map(|r| r.reason.len())
        .max()
        .unwrap_or(0)
        .max("REASON".len());
    let _ = writeln!(
        out,
        "\n{:<width$}  {:>7}  {:<24}  {:<24}",
        "REASON", "COUNT", "FIRST SEEN", "LAST SEEN"
    );
    for r in &inspection.reasons {
        let _ = writeln!(
            out,
            "{:<width$}  {:>7}  {:<24}  {:<24}",
            r.reason,
            r.count,
            time(r.first_seen),
            time(r.last_seen)
        );
    }
    for r in &inspection.reasons {
        for s in &r.samples {
            let _ = writeln!(
                out,
                "\n{}: partition {} offset {}, {}",
                r.reason,
                s.partition,
                s.offset,
                time(s.timestamp)
            );
            for (name, value) in &s.headers {
                let _ = writeln!(out, "  {name}: {}", value.as_deref().unwrap_or("(null)"));
            }
            let _ = writeln!(out, "  key: {}", payload_text(&s.key));
            let _ = writeln!(out, "  value: {}", payload_text(&s.value));
        }
    }
    out
}

fn payload_text(payload: &Payload) -> String {
    match payload {
        Payload::Absent => "(none)".to_string(),
        Payload::Decoded { schema_id, json } => format!("(schema {schema_id}) {json}"),
        Payload::Text { text, not_decoded } => format!("{text:?} (not decoded: {not_decoded})"),
        Payload::Bytes { hex, not_decoded } => format!("0x{hex} (not decoded: {not_decoded})"),
        other => format!("{other:?}"),
    }
}

fn report_text(r: &ReplayReport) -> String {
    let mut out = String::new();
    let verb = if r.dry_run { "would replay" } else { "replayed" };
    let _ = writeln!(
        out,
        "dead-letter topic `{}`: {verb} {} of {} dead letter(s) read",
        r.topic,
        if r.dry_run { r.selected } else { r.replayed },
        r.read
    );
    let _ = writeln!(
        out,
        "  already replayed (skipped): {}\n  left out by the filter: {}\n  cannot be replayed: {}",
        r.already_replayed, r.filtered_out, r.unreplayable
    );
    for problem in &r.problems {
        let _ = writeln!(out, "    {problem}");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn since_takes_rfc_3339_or_epoch_millis() {
        assert_eq!(
            parse_since("1714564800123"),
            Ok(Timestamp::from_millis(1_714_564_800_123))
        );
        assert_eq!(
            parse_since("2024-05-01T12:00:00.123Z"),
            Ok(Timestamp::from_millis(1_714_564_800_123))
        );
        assert!(parse_since("yesterday").is_err());
        assert!(parse_since("").is_err());
        assert!(parse_since("99999999999999999999999").is_err());
    }

    #[test]
    fn the_text_shows_the_table_then_samples() {
        let letter = meshkit::dlq::DeadLetter {
            partition: 1,
            offset: 4,
            timestamp: Some(Timestamp::from_millis(0)),
            key: None,
            value: Some(b"oops".to_vec()),
            headers: vec![(meshkit::dlq_headers::REASON.into(), Some(b"bad-magic".to_vec()))],
        };
        let mut inspection = Inspection::new("t.dlq", None, 1);
        inspection.add(&letter);
        let text = inspection_text(&inspection);
        assert!(text.contains("1 dead letter(s), 1 reason(s)"), "{text}");
        let row: Vec<&str> = text
            .lines()
            .find(|l| l.starts_with("bad-magic "))
            .map(|l| l.split_whitespace().collect())
            .unwrap_or_default();
        assert_eq!(
            row,
            [
                "bad-magic",
                "1",
                "1970-01-01T00:00:00.000Z",
                "1970-01-01T00:00:00.000Z"
            ],
            "{text}"
        );
        assert!(text.contains("bad-magic: partition 1 offset 4"), "{text}");
        assert!(text.contains("  value: \"oops\" (not decoded:"), "{text}");
    }
}
