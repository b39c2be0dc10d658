//! The three workloads of `benches/peers/README.md`: their topics, their
//! input (generated here, the same on every run and machine) and what a
//! contender's committed output must be.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context as _};
use apache_avro::types::Value;
use meshkit::schema::SchemaRegistry;
use meshkit_tests::broker::send_with_backpressure;
use meshkit_tests::oracle::OracleRecord;
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use rdkafka::ClientConfig;

/// Input partitions of every workload.
pub(crate) const PARTITIONS: i32 = 4;

/// How far past the input w3's `flush` records are: every window closes.
const FLUSH_AFTER_MS: i64 = 2 * 3_600_000;

/// w3's event time starts three hours ago, on a minute boundary: its
/// `flush` records must not be in the future (brokers refuse timestamps
/// more than an hour ahead), nor the input older than the topic's
/// retention (a week), or the broker would delete it mid-run.
fn event_time_start() -> i64 {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
    let start = now - 3 * 3_600_000;
    start - start.rem_euclid(60_000)
}

/// w1's input schema (the README's `Order`).
pub(crate) const ORDER_SCHEMA: &str = r#"{"type": "record", "name": "Order", "namespace": "bench",
 "fields": [{"name": "order_id", "type": "string"},
            {"name": "customer", "type": "string"},
            {"name": "amount_cents", "type": "long"},
            {"name": "status", "type": "string"}]}"#;

const STATUSES: [&str; 3] = ["placed", "paid", "cancelled"];

/// One workload.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Workload {
    /// Stateless filter and enrich, Avro in and out.
    W1,
    /// Running sum per key, every update emitted.
    W2,
    /// Count per key per one-minute tumbling window, final counts only.
    W3,
}

impl Workload {
    /// From its name (`w1`, `w2`, `w3`).
    pub(crate) fn parse(name: &str) -> anyhow::Result<Self> {
        Ok(match name {
            "w1" => Self::W1,
            "w2" => Self::W2,
            "w3" => Self::W3,
            other => bail!("unknown workload `{other}` (w1, w2, w3)"),
        })
    }

    /// Its name.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::W1 => "w1",
            Self::W2 => "w2",
            Self::W3 => "w3",
        }
    }

    /// What it does, for the report.
    pub(crate) fn title(self) -> &'static str {
        match self {
            Self::W1 => "stateless filter + enrich, Avro in and out",
            Self::W2 => "running sum per key in a store, every update emitted",
            Self::W3 => "count per key per 1-minute tumbling window, final counts only",
        }
    }

    /// The input topic (the meshkit contender's declaration names it).
    pub(crate) fn input(self) -> &'static str {
        match self {
            Self::W1 => "bench.w1.orders",
            Self::W2 => "bench.w2.numbers",
            Self::W3 => "bench.w3.events",
        }
    }

    /// `contender`'s output topic: meshkit's is its declaration's.
    pub(crate) fn output(self, contender: &str) -> String {
        let base = match self {
            Self::W1 => "bench.w1.enriched",
            Self::W2 => "bench.w2.sums",
            Self::W3 => "bench.w3.counts",
        };
        if contender == "meshkit" {
            base.to_string()
        } else {
            format!("{base}.{contender}")
        }
    }

    /// Whether each input record is followed by an output soon after it
    /// (what an end-to-end latency is measured on).
    pub(crate) fn has_latency(self) -> bool {
        self != Self::W3
    }
}

/// An open order as w1 must write it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Enriched {
    customer: String,
    amount_cents: i64,
    status: &'static str,
    amount_band: &'static str,
    priority: bool,
}

/// What a contender's committed output must hold.
pub(crate) enum Expected {
    /// w1: by order number, the enriched order (`None`: cancelled, dropped).
    Orders(Vec<Option<Enriched>>),
    /// w2: each key's final sum.
    Sums(HashMap<String, i64>),
    /// w3: each `<key>@<window start>`'s count.
    Windows(HashMap<String, i64>),
}

/// A workload's input, produced.
pub(crate) struct Input {
    /// Input records, `flush` records included.
    pub(crate) records: u64,
    /// What the output must be.
    pub(crate) expected: Expected,
}

/// The fixed sequence the inputs are drawn from (xorshift64*).
struct Draws(u64);

impl Iterator for Draws {
    type Item = u64;
    fn next(&mut self) -> Option<u64> {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        Some(self.0.wrapping_mul(0x2545_F491_4F6C_DD1D))
    }
}

fn producer(brokers: &str) -> anyhow::Result<BaseProducer> {
    Ok(ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("linger.ms", "20")
        .set("batch.size", "262144")
        .create()?)
}

/// Produces `workload`'s input of `records` records over `keys` keys; w1's
/// values are framed with `order_schema_id`.
pub(crate) fn produce(
    brokers: &str,
    workload: Workload,
    records: u64,
    keys: u64,
    order_schema_id: u32,
) -> anyhow::Result<Input> {
    let producer = producer(brokers)?;
    let topic = workload.input();
    let order_schema = apache_avro::Schema::parse_str(ORDER_SCHEMA)?;
    let mut orders = Vec::new();
    let mut sums = HashMap::new();
    let mut windows = HashMap::new();
    let mut value = Vec::with_capacity(64);
    let event_time_start = event_time_start();
    for (i, draw) in Draws(0x9E37_79B9_7F4A_7C15)
        .take(usize::try_from(records)?)
        .enumerate()
    {
        let key = format!("k{}", draw % keys);
        let mut timestamp = None;
        value.clear();
        match workload {
            Workload::W1 => {
                let amount_cents = i64::try_from((draw >> 20) % 20_000 + 1)?;
                let status = STATUSES[usize::try_from((draw >> 40) % 3)?];
                let order = (format!("o{i}"), key.as_str(), amount_cents, status);
                write_order(&mut value, &order_schema, order_schema_id, order)?;
                orders.push(enrich(&key, amount_cents, status));
            }
            Workload::W2 => {
                let n = i64::try_from((draw >> 32) % 100 + 1)?;
                value.extend(n.to_be_bytes());
                *sums.entry(key.clone()).or_insert(0) += n;
            }
            Workload::W3 => {
                let ts = event_time_start + i64::try_from(i)?;
                value.extend(1i64.to_be_bytes());
                let start = ts - ts.rem_euclid(60_000);
                *windows.entry(format!("{key}@{start}")).or_insert(0) += 1;
                timestamp = Some(ts);
            }
        }
        let mut record = BaseRecord::to(topic).key(key.as_bytes()).payload(&value);
        if let Some(ts) = timestamp {
            record = record.timestamp(ts);
        }
        send_with_backpressure(&producer, record)?;
    }
    producer.flush(Duration::from_secs(120))?;
    let mut produced = records;
    if workload == Workload::W3 {
        // Last on each partition: stream time passes every input window.
        let ts = event_time_start + i64::try_from(records)? + FLUSH_AFTER_MS;
        for partition in 0..PARTITIONS {
            let record = BaseRecord::to(topic)
                .partition(partition)
                .key("flush")
                .payload(&[0u8; 8][..])
                .timestamp(ts);
            send_with_backpressure(&producer, record)?;
            produced += 1;
        }
        producer.flush(Duration::from_secs(60))?;
    }
    let expected = match workload {
        Workload::W1 => Expected::Orders(orders),
        Workload::W2 => Expected::Sums(sums),
        Workload::W3 => Expected::Windows(windows),
    };
    Ok(Input {
        records: produced,
        expected,
    })
}

/// Appends an `Order` (id, customer, amount in cents, status) to `out` in the
/// Confluent wire format, framed with `schema_id`: how the input and the
/// latency runs' live records are written.
pub(crate) fn write_order(
    out: &mut Vec<u8>,
    schema: &apache_avro::Schema,
    schema_id: u32,
    (order_id, customer, amount_cents, status): (String, &str, i64, &str),
) -> anyhow::Result<()> {
    meshkit::schema::wire::write_header(out, schema_id);
    let order = Value::Record(vec![
        ("order_id".into(), Value::String(order_id)),
        ("customer".into(), Value::String(customer.to_string())),
        ("amount_cents".into(), Value::Long(amount_cents)),
        ("status".into(), Value::String(status.to_string())),
    ]);
    apache_avro::writer::datum::GenericDatumWriter::builder(schema)
        .build()?
        .write_value(out, order)?;
    Ok(())
}

fn enrich(customer: &str, amount_cents: i64, status: &'static str) -> Option<Enriched> {
    if status == "cancelled" {
        return None;
    }
    let amount_band = match amount_cents {
        ..1_000 => "small",
        1_000..10_000 => "medium",
        _ => "large",
    };
    Some(Enriched {
        customer: customer.to_string(),
        amount_cents,
        status,
        amount_band,
        priority: amount_band == "large" && status == "paid",
    })
}

/// What differs between `output` (a contender's committed output records of
/// one run) and `expected`; empty when the contender is right.
pub(crate) async fn differences(
    expected: &Expected,
    output: &[&OracleRecord],
    registry: &Arc<dyn SchemaRegistry>,
) -> anyhow::Result<Vec<String>> {
    let mut wrong = match expected {
        Expected::Orders(orders) => check_orders(orders, output, registry).await?,
        Expected::Sums(sums) => check_last_values(sums, output),
        Expected::Windows(windows) => check_once_each(windows, output),
    };
    wrong.sort();
    wrong.truncate(5);
    if !wrong.is_empty() {
        wrong.push(format!("({} committed output records read)", output.len()));
    }
    Ok(wrong)
}

fn be_i64(record: &OracleRecord) -> Option<i64> {
    let bytes: [u8; 8] = record.value.as_deref()?.try_into().ok()?;
    Some(i64::from_be_bytes(bytes))
}

/// w2: each key's last value is its sum, and no other key appears.
fn check_last_values(expected: &HashMap<String, i64>, output: &[&OracleRecord]) -> Vec<String> {
    let mut last: HashMap<String, Option<i64>> = HashMap::new();
    for record in output {
        last.insert(record.key_str().unwrap_or_default(), be_i64(record));
    }
    let mut wrong: Vec<String> = (expected.iter())
        .filter(|(key, sum)| last.get(*key) != Some(&Some(**sum)))
        .map(|(key, sum)| format!("{key}: expected {sum}, got {:?}", last.get(key)))
        .collect();
    if last.len() != expected.len() {
        wrong.push(format!(
            "{} keys in the output, {} in the input",
            last.len(),
            expected.len()
        ));
    }
    wrong
}

/// w3: each window's count exactly once, and nothing else.
fn check_once_each(expected: &HashMap<String, i64>, output: &[&OracleRecord]) -> Vec<String> {
    let mut seen: HashMap<String, Vec<Option<i64>>> = HashMap::new();
    for record in output {
        (seen.entry(record.key_str().unwrap_or_default()).or_default()).push(be_i64(record));
    }
    let mut wrong: Vec<String> = (expected.iter())
        .filter(|(window, count)| seen.get(*window).map(Vec::as_slice) != Some(&[Some(**count)]))
        .map(|(window, count)| format!("{window}: expected [{count}], got {:?}", seen.get(window)))
        .collect();
    let extra = seen.keys().filter(|w| !expected.contains_key(*w)).count();
    if extra > 0 {
        wrong.push(format!("{extra} windows in the output that the input has not"));
    }
    wrong
}

/// w1: every open order exactly once, with the right fields.
async fn check_orders(
    expected: &[Option<Enriched>],
    output: &[&OracleRecord],
    registry: &Arc<dyn SchemaRegistry>,
) -> anyhow::Result<Vec<String>> {
    let mut schemas: HashMap<u32, apache_avro::Schema> = HashMap::new();
    let mut seen = vec![0u32; expected.len()];
    let mut wrong = Vec::new();
    for record in output {
        let (id, mut body) = meshkit::schema::wire::split(record.value.as_deref().unwrap_or_default())
            .context("an output value not in the Confluent wire format")?;
        if let std::collections::hash_map::Entry::Vacant(entry) = schemas.entry(id) {
            let text = registry.schema_by_id(id).await?;
            entry.insert(apache_avro::Schema::parse_str(&text)?);
        }
        let value = apache_avro::reader::datum::GenericDatumReader::builder(&schemas[&id])
            .build()?
            .read_value(&mut body)?;
        let (index, got) = read_enriched(&value).with_context(|| format!("decoding {value:?}"))?;
        match expected.get(index) {
            Some(Some(want)) if *want == got => seen[index] += 1,
            want => wrong.push(format!("o{index}: expected {want:?}, got {got:?}")),
        }
    }
    for (index, (want, times)) in expected.iter().zip(&seen).enumerate() {
        match (want, times) {
            (None, 0) | (Some(_), 1) => {}
            (_, times) => wrong.push(format!("o{index}: {times} times in the output")),
        }
    }
    Ok(wrong)
}

fn read_enriched(value: &Value) -> anyhow::Result<(usize, Enriched)> {
    let Value::Record(fields) = value else {
        bail!("not a record");
    };
    let field = |name: &str| fields.iter().find(|(n, _)| n == name).map(|(_, v)| v);
    let string = |name: &str| match field(name) {
        Some(Value::String(s)) => Ok(s.clone()),
        other => Err(anyhow::anyhow!("field {name}: {other:?}")),
    };
    let order_id = string("order_id")?;
    let index = order_id.trim_start_matches('o').parse()?;
    let status = string("status")?;
    let band = string("amount_band")?;
    let Some(Value::Long(amount_cents)) = field("amount_cents") else {
        bail!("field amount_cents");
    };
    let Some(Value::Boolean(priority)) = field("priority") else {
        bail!("field priority");
    };
    Ok((
        index,
        Enriched {
            customer: string("customer")?,
            amount_cents: *amount_cents,
            status: STATUSES.into_iter().find(|s| *s == status).unwrap_or("?"),
            amount_band: ["small", "medium", "large"]
                .into_iter()
                .find(|b| *b == band)
                .unwrap_or("?"),
            priority: *priority,
        },
    ))
}
