//! Text output for people: the product table and one product in full.
//! (`--json` output is the ODPS documents themselves, not built here.)

use std::fmt::Write as _;

use meshkit::catalog::record::{PortRecord, SchemaRecord};
use meshkit::catalog::{Catalog, CatalogRecord, InstanceStatus};

/// The `catalog list` / `catalog search` table; a cell may hold several
/// lines (one per port), so a row is as tall as its tallest cell.
pub(crate) fn product_table<'a>(records: impl IntoIterator<Item = &'a CatalogRecord>) -> String {
    let header = [
        "DOMAIN/NAME",
        "VERSION",
        "STATUS",
        "OWNER",
        "INPUTS",
        "OUTPUTS",
        "INSTANCES",
    ];
    let rows: Vec<Vec<Vec<String>>> = records
        .into_iter()
        .map(|r| {
            vec![
                vec![r.key().to_string()],
                vec![r.version.clone()],
                vec![r.status.to_string()],
                vec![r.owner.clone()],
                ports_cell(&r.inputs),
                ports_cell(&r.outputs),
                vec![instances_summary(r)],
            ]
        })
        .collect();
    table(&header, &rows)
}

fn ports_cell(ports: &[PortRecord]) -> Vec<String> {
    if ports.is_empty() {
        return vec!["-".to_string()];
    }
    ports.iter().map(port_summary).collect()
}

/// `name→topic`, with the value schema's subject and version where known.
pub(crate) fn port_summary(port: &PortRecord) -> String {
    let mut text = format!("{}→{}", port.name, port.topic);
    if let Some(value) = &port.value {
        let _ = write!(text, " ({})", schema_brief(value));
    }
    text
}

/// `subject v2` when registered, else the Avro type carried.
fn schema_brief(schema: &SchemaRecord) -> String {
    match (&schema.subject, schema.version) {
        (Some(subject), Some(version)) => format!("{subject} v{version}"),
        (Some(subject), None) => subject.clone(),
        (None, _) => format!("{} {}", schema.format, schema.type_name),
    }
}

/// `avro acme::Order, subject s, id 7, version 2`.
fn schema_full(schema: &SchemaRecord) -> String {
    let mut text = format!("{} {}", schema.format, schema.type_name);
    match &schema.subject {
        Some(subject) => {
            let _ = write!(text, ", subject {subject}");
        }
        None => text.push_str(", not registered"),
    }
    if let Some(id) = schema.id {
        let _ = write!(text, ", id {id}");
    }
    if let Some(version) = schema.version {
        let _ = write!(text, ", version {version}");
    }
    text
}

/// `1 running`, `2 stopped`, `1 running, 1 failed`, or `none`.
fn instances_summary(record: &CatalogRecord) -> String {
    let count = |status| record.instances.iter().filter(|i| i.status == status).count();
    let parts: Vec<String> = [
        (InstanceStatus::Running, "running"),
        (InstanceStatus::Stopped, "stopped"),
        (InstanceStatus::Failed, "failed"),
    ]
    .into_iter()
    .filter_map(|(status, word)| {
        let n = count(status);
        (n > 0).then(|| format!("{n} {word}"))
    })
    .collect();
    if parts.is_empty() {
        "none".to_string()
    } else {
        parts.join(", ")
    }
}

/// Left-aligned columns two spaces apart; multi-line cells.
fn table(header: &[&str], rows: &[Vec<Vec<String>>]) -> String {
    let width = |s: &str| s.chars().count();
    let mut widths: Vec<usize> = header.iter().map(|h| width(h)).collect();
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            for line in cell {
                widths[i] = widths[i].max(width(line));
            }
        }
    }
    let mut out = String::new();
    let mut line = |cells: &[&str]| {
        let mut text = String::new();
        for (i, cell) in cells.iter().enumerate() {
            if i + 1 == cells.len() {
                text.push_str(cell);
            } else {
                let _ = write!(text, "{cell}{}  ", " ".repeat(widths[i] - width(cell)));
            }
        }
        out.push_str(text.trim_end());
        out.push('\n');
    };
    line(header);
    for row in rows {
        let height = row.iter().map(Vec::len).max().unwrap_or(1);
        for n in 0..height {
            let cells: Vec<&str> = row
                .iter()
                .map(|cell| cell.get(n).map_or("", String::as_str))
                .collect();
            line(&cells);
        }
    }
    out
}

/// `catalog show`: the whole product. Lineage is resolved against the
/// catalog as read now (the record's own resolution dates from its start).
pub(crate) fn product_details(record: &CatalogRecord, catalog: &Catalog) -> String {
    let mut resolved = record.clone();
    resolved.resolve_upstreams(catalog.list());
    for (now, then) in resolved.inputs.iter_mut().zip(&record.inputs) {
        if now.upstream.is_none() {
            now.upstream.clone_from(&then.upstream);
        }
    }
    let r = &resolved;
    let mut out = String::new();
    let mut field = |name: &str, value: &str| {
        let _ = writeln!(out, "{:<13}{value}", format!("{name}:"));
    };
    field("product", &r.key().to_string());
    field("version", &r.version);
    field("status", &r.status.to_string());
    field("owner", &r.owner);
    field("description", or_dash(&r.description));
    field("tags", or_dash(&r.tags.join(", ")));
    field("lifecycle", &r.lifecycle);
    let mut slo = Vec::new();
    if let Some(ms) = r.slo.freshness_ms {
        slo.push(format!("freshness {}", millis(ms)));
    }
    if let Some(ms) = r.slo.latency_ms {
        slo.push(format!("latency {}", millis(ms)));
    }
    field("SLOs", or_dash(&slo.join(", ")));
    field("brokers", r.bootstrap_servers.as_deref().unwrap_or("-"));
    field("created", &r.created_at.to_string());
    field("updated", &r.updated_at.to_string());

    let _ = writeln!(out, "\ninput ports:");
    ports_block(&mut out, &r.inputs, |p| {
        p.upstream
            .as_ref()
            .map(|u| format!("written by {} (port {})", u.product, u.port))
    });
    let _ = writeln!(out, "\noutput ports:");
    ports_block(&mut out, &r.outputs, |p| {
        Some(format!("contract {}", r.contract_id(&p.name)))
    });

    let _ = writeln!(out, "\nstores:");
    if r.stores.is_empty() {
        let _ = writeln!(out, "  -");
    }
    for store in &r.stores {
        let kind = if store.windowed { " (windowed)" } else { "" };
        let _ = writeln!(out, "  {}{kind}", store.name);
    }

    let _ = writeln!(out, "\nlineage (upstreams):");
    let lineage = r.lineage();
    if lineage.is_empty() {
        let _ = writeln!(out, "  -");
    }
    for up in lineage {
        let from = up.product.map_or_else(
            || "no product in the catalog writes it".to_string(),
            |p| p.to_string(),
        );
        let _ = writeln!(out, "  {} ← topic {} ← {from}", up.input, up.topic);
    }

    let _ = writeln!(out, "\ninstances:");
    if r.instances.is_empty() {
        let _ = writeln!(out, "  -");
    }
    for i in &r.instances {
        let status = match i.status {
            InstanceStatus::Running => "running",
            InstanceStatus::Stopped => "stopped",
            _ => "failed",
        };
        let _ = write!(
            out,
            "  {}  host {}  {status}  started {}  last heartbeat {}",
            i.instance_id, i.host, i.started_at, i.last_seen
        );
        if let Some(ended) = i.ended_at {
            let _ = write!(out, "  ended {ended}");
        }
        if let Some(error) = &i.error {
            let _ = write!(out, "  error: {error}");
        }
        out.push('\n');
    }
    out
}

fn ports_block(out: &mut String, ports: &[PortRecord], extra: impl Fn(&PortRecord) -> Option<String>) {
    if ports.is_empty() {
        let _ = writeln!(out, "  -");
    }
    for port in ports {
        let _ = writeln!(out, "  {}  topic {}", port.name, port.topic);
        if let Some(key) = &port.key {
            let _ = writeln!(out, "    key:    {}", schema_full(key));
        }
        match &port.value {
            Some(value) => {
                let _ = writeln!(out, "    value:  {}", schema_full(value));
            }
            None => {
                let _ = writeln!(out, "    value:  raw bytes (no schema)");
            }
        }
        if let Some(extra) = extra(port) {
            let _ = writeln!(out, "    {extra}");
        }
    }
}

fn or_dash(text: &str) -> &str {
    if text.is_empty() {
        "-"
    } else {
        text
    }
}

/// `250 ms`, `60 s`.
fn millis(ms: u64) -> String {
    if ms >= 1000 && ms.is_multiple_of(1000) {
        format!("{} s", ms / 1000)
    } else {
        format!("{ms} ms")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use meshkit::catalog::{DescriptorInput, InstanceRecord, PortInput, SchemaInput, Timestamp};

    fn record() -> CatalogRecord {
        let d =
            DescriptorInput::new("sales", "orders", "1.0.0", "team-sales")
                .input(PortInput::new("raw", "sales.raw"))
                .output(PortInput::new("clean", "sales.orders").with_value(
                    SchemaInput::new(r#""string""#, "String").registered("sales.orders-value", 3, 2),
                ))
                .output(PortInput::new("audit", "sales.audit"));
        let now = Timestamp::from_millis(0);
        CatalogRecord::register(None, &d, InstanceRecord::running("i-1", "h", now), now)
    }

    #[test]
    fn the_table_aligns_columns_and_stacks_ports() {
        let r = record();
        let table = product_table([&r]);
        let lines: Vec<&str> = table.lines().collect();
        assert_eq!(lines.len(), 3, "{table}");
        assert!(
            lines[0].starts_with("DOMAIN/NAME   VERSION  STATUS   OWNER"),
            "{table}"
        );
        assert!(
            lines[1].contains("clean→sales.orders (sales.orders-value v2)"),
            "{table}"
        );
        assert!(lines[1].ends_with("1 running"), "{table}");
        assert!(lines[2].trim_start().starts_with("audit→sales.audit"), "{table}");
        let column = lines[0].find("OUTPUTS").expect("header");
        assert_eq!(lines[2].find("audit"), Some(column), "{table}");
    }

    #[test]
    fn details_show_schemas_and_contracts() {
        let r = record();
        let text = product_details(&r, &Catalog::new());
        assert!(
            text.contains("value:  avro String, subject sales.orders-value, id 3, version 2"),
            "{text}"
        );
        assert!(text.contains("contract sales/orders/clean"), "{text}");
        assert!(
            text.contains("raw ← topic sales.raw ← no product in the catalog writes it"),
            "{text}"
        );
    }
}
