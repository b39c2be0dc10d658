//! w1: Avro orders in (Confluent wire format), cancelled ones dropped, the
//! others enriched and written as `EnrichedOrder`, with the input key.
//!
//! The registry is reached with meshkit's registry client, off the hot
//! path: once at start to register `EnrichedOrder` under
//! `<output-topic>-value`, and once per writer schema id met, whose schema
//! is then kept. A writer schema with the parsing canonical form of `Order`
//! is read by a decoder written for that shape, which borrows the strings
//! from the record; any other is read with apache-avro, resolved to `Order`.
//! The output is encoded by hand into one buffer reused for every record.

use std::collections::HashMap;

use anyhow::{bail, Context as _};
use apache_avro::reader::datum::GenericDatumReader;
use apache_avro::types::Value;
use apache_avro::Schema;
use meshkit::schema::registry::{HttpRegistry, SchemaRegistry};

use crate::kafka::{Out, Workload};

const ORDER: &str = r#"{"type": "record", "name": "Order", "namespace": "bench",
 "fields": [{"name": "order_id", "type": "string"},
            {"name": "customer", "type": "string"},
            {"name": "amount_cents", "type": "long"},
            {"name": "status", "type": "string"}]}"#;

const ENRICHED_ORDER: &str = r#"{"type": "record", "name": "EnrichedOrder", "namespace": "bench",
 "fields": [{"name": "order_id", "type": "string"},
            {"name": "customer", "type": "string"},
            {"name": "amount_cents", "type": "long"},
            {"name": "status", "type": "string"},
            {"name": "amount_band", "type": "string"},
            {"name": "priority", "type": "boolean"}]}"#;

/// How records of one writer schema are read.
enum Writer {
    /// The schema is `Order`'s: read in place.
    Order,
    /// Another schema: read with apache-avro and resolved to `Order`.
    Other(Schema),
}

/// An order's fields, borrowed from the record when they can be.
struct Order<'a> {
    order_id: &'a str,
    customer: &'a str,
    amount_cents: i64,
    status: &'a str,
}

/// The workload.
pub(crate) struct Enrich {
    registry: HttpRegistry,
    runtime: tokio::runtime::Handle,
    order: Schema,
    order_form: String,
    writers: HashMap<u32, Writer>,
    /// The schema id of `EnrichedOrder`, the prefix of every output.
    output_id: u32,
    buffer: Vec<u8>,
}

impl Enrich {
    /// Registers `EnrichedOrder` under `<output>-value` (or finds it there).
    pub(crate) fn start(url: &str, output: &str, runtime: &tokio::runtime::Handle) -> anyhow::Result<Self> {
        let registry = HttpRegistry::builder(url).build()?;
        let subject = format!("{output}-value");
        let registered = runtime
            .block_on(registry.register(&subject, ENRICHED_ORDER))
            .with_context(|| format!("registering EnrichedOrder under {subject}"))?;
        let order = Schema::parse_str(ORDER)?;
        Ok(Self {
            registry,
            runtime: runtime.clone(),
            order_form: order.canonical_form(),
            order,
            writers: HashMap::new(),
            output_id: registered.id,
            buffer: Vec::with_capacity(256),
        })
    }

    /// Fetches writer schema `id` unless it is known.
    fn fetch_writer(&mut self, id: u32) -> anyhow::Result<()> {
        if !self.writers.contains_key(&id) {
            let text = self
                .runtime
                .block_on(self.registry.schema_by_id(id))
                .with_context(|| format!("fetching writer schema {id}"))?;
            let schema = Schema::parse_str(&text).with_context(|| format!("parsing writer schema {id}"))?;
            let writer = if schema.canonical_form() == self.order_form {
                Writer::Order
            } else {
                Writer::Other(schema)
            };
            self.writers.insert(id, writer);
        }
        Ok(())
    }

    /// Encodes the enriched `order` into the buffer, wire format included.
    fn encode(&mut self, order: &Order<'_>) {
        let band = if order.amount_cents < 1_000 {
            "small"
        } else if order.amount_cents < 10_000 {
            "medium"
        } else {
            "large"
        };
        let priority = band == "large" && order.status == "paid";
        let out = &mut self.buffer;
        out.clear();
        out.push(0);
        out.extend_from_slice(&self.output_id.to_be_bytes());
        for text in [order.order_id, order.customer] {
            write_string(out, text);
        }
        write_long(out, order.amount_cents);
        write_string(out, order.status);
        write_string(out, band);
        out.push(u8::from(priority));
    }
}

impl Workload for Enrich {
    fn process(
        &mut self,
        _partition: i32,
        key: &[u8],
        value: &[u8],
        timestamp: i64,
        out: &mut Out<'_>,
    ) -> anyhow::Result<()> {
        let (id, body) = match value {
            [0, a, b, c, d, body @ ..] => (u32::from_be_bytes([*a, *b, *c, *d]), body),
            _ => bail!("not in the Confluent wire format"),
        };
        self.fetch_writer(id)?;
        let resolved;
        let order = match self.writers.get(&id).context("a writer schema just fetched")? {
            Writer::Order => read_order(body)?,
            Writer::Other(schema) => {
                let reader = GenericDatumReader::builder(schema)
                    .reader_schema(&self.order)
                    .build()?;
                resolved = reader.read_value(&mut &body[..])?;
                order_of(&resolved)?
            }
        };
        if order.status == "cancelled" {
            return Ok(());
        }
        self.encode(&order);
        out.output(key, &self.buffer, timestamp)
    }

    fn persist(&mut self) -> anyhow::Result<()> {
        Ok(())
    }
}

/// Reads an `Order` in Avro binary, borrowing its strings.
fn read_order(mut body: &[u8]) -> anyhow::Result<Order<'_>> {
    let order_id = read_string(&mut body)?;
    let customer = read_string(&mut body)?;
    let amount_cents = read_long(&mut body)?;
    let status = read_string(&mut body)?;
    Ok(Order {
        order_id,
        customer,
        amount_cents,
        status,
    })
}

/// The fields of an `Order` apache-avro decoded.
fn order_of(value: &Value) -> anyhow::Result<Order<'_>> {
    let Value::Record(fields) = value else {
        bail!("an Order that is not a record");
    };
    let field = |name: &str| fields.iter().find(|(n, _)| n == name).map(|(_, v)| v);
    let text = |name: &str| match field(name) {
        Some(Value::String(s)) => Ok(s.as_str()),
        _ => Err(anyhow::anyhow!("an Order without string {name}")),
    };
    let Some(Value::Long(amount_cents)) = field("amount_cents") else {
        bail!("an Order without long amount_cents");
    };
    Ok(Order {
        order_id: text("order_id")?,
        customer: text("customer")?,
        amount_cents: *amount_cents,
        status: text("status")?,
    })
}

/// Reads a zig-zag varint `long`.
fn read_long(body: &mut &[u8]) -> anyhow::Result<i64> {
    let mut raw: u64 = 0;
    for shift in (0..64).step_by(7) {
        let (&byte, rest) = body.split_first().context("a truncated long")?;
        *body = rest;
        raw |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            // Zig-zag: the sign is the lowest bit.
            return Ok((raw >> 1) as i64 ^ -((raw & 1) as i64));
        }
    }
    bail!("a long of more than 10 bytes")
}

/// Reads a `string`, borrowed.
fn read_string<'a>(body: &mut &'a [u8]) -> anyhow::Result<&'a str> {
    let len = usize::try_from(read_long(body)?).context("a negative string length")?;
    if body.len() < len {
        bail!("a truncated string");
    }
    let (text, rest) = body.split_at(len);
    *body = rest;
    std::str::from_utf8(text).context("a string that is not UTF-8")
}

/// Writes a zig-zag varint `long`.
fn write_long(out: &mut Vec<u8>, value: i64) {
    let mut raw = ((value << 1) ^ (value >> 63)) as u64;
    while raw >= 0x80 {
        out.push((raw as u8) | 0x80);
        raw >>= 7;
    }
    out.push(raw as u8);
}

/// Writes a `string`.
fn write_string(out: &mut Vec<u8>, text: &str) {
    write_long(out, text.len() as i64);
    out.extend_from_slice(text.as_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The hand-written encoding is apache-avro's.
    #[test]
    fn encodes_as_apache_avro() {
        let schema = Schema::parse_str(ENRICHED_ORDER).expect("schema");
        let mut record = apache_avro::types::Record::new(&schema).expect("record");
        record.put("order_id", "o-1");
        record.put("customer", "k42");
        record.put("amount_cents", -123_456_i64);
        record.put("status", "paid");
        record.put("amount_band", "small");
        record.put("priority", false);
        let expected = apache_avro::writer::datum::GenericDatumWriter::builder(&schema)
            .build()
            .expect("writer")
            .write_value_to_vec(record)
            .expect("encode");
        let mut out = Vec::new();
        for text in ["o-1", "k42"] {
            write_string(&mut out, text);
        }
        write_long(&mut out, -123_456);
        write_string(&mut out, "paid");
        write_string(&mut out, "small");
        out.push(0);
        assert_eq!(out, expected);
        let order = read_order(&out).expect("decode");
        assert_eq!(
            (order.order_id, order.customer, order.amount_cents, order.status),
            ("o-1", "k42", -123_456, "paid")
        );
    }
}
