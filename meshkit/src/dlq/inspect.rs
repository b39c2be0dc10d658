//! What a dead-letter topic holds, by reason: an [`Inspection`].
//!
//! A sample's key and value are decoded to JSON when their schema is known:
//! the payload is in the Confluent wire format and its schema id is the one
//! the product's catalog record gives for the input port that reads the
//! record's source topic (an Avro schema). The catalog records, for an input
//! port, the subject's latest writer schema id when the product started,
//! with the port's own schema text; an id that matches is decoded with that
//! text. Everything else is shown as it is (UTF-8 text, else hex), with the
//! reason it was not decoded.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;

use serde::Serialize;

use super::DeadLetter;
use crate::catalog::record::{PortRecord, SchemaRecord};
use crate::catalog::{CatalogRecord, Timestamp};
use crate::schema::wire;

/// How many samples of each reason an inspection keeps by default.
pub const DEFAULT_SAMPLES: usize = 3;

/// The reason shown for a dead letter without a `meshkit.dlq.reason` header.
const NO_REASON: &str = "(no reason header)";

/// A key or value of a sample, decoded when its schema is known.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
#[non_exhaustive]
pub enum Payload {
    /// The record had none (a null key or value).
    Absent,
    /// Decoded with the writer schema `schema_id`, as JSON.
    Decoded {
        /// The schema id in the payload's header.
        schema_id: u32,
        /// The datum, as JSON.
        json: serde_json::Value,
    },
    /// Not decoded, and valid UTF-8: shown as text.
    Text {
        /// The bytes, as text.
        text: String,
        /// Why it was not decoded.
        not_decoded: String,
    },
    /// Not decoded, and not UTF-8: shown as hex.
    Bytes {
        /// The bytes, in lowercase hex.
        hex: String,
        /// Why it was not decoded.
        not_decoded: String,
    },
}

impl Payload {
    /// A payload not decoded because of `why`.
    fn undecoded(bytes: &[u8], why: String) -> Self {
        match std::str::from_utf8(bytes) {
            Ok(text) => Self::Text {
                text: text.to_string(),
                not_decoded: why,
            },
            Err(_) => Self::Bytes {
                hex: bytes
                    .iter()
                    .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
                        let _ = write!(s, "{b:02x}");
                        s
                    }),
                not_decoded: why,
            },
        }
    }
}

/// One dead letter shown in full.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Sample {
    /// Its partition in the dead-letter topic.
    pub partition: i32,
    /// Its offset there.
    pub offset: i64,
    /// The record's timestamp.
    pub timestamp: Option<Timestamp>,
    /// Every header, values as UTF-8 (lossy; `None` for a null value).
    pub headers: Vec<(String, Option<String>)>,
    /// The key.
    pub key: Payload,
    /// The value.
    pub value: Payload,
}

/// The dead letters of one reason.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReasonSummary {
    /// The reason (`meshkit.dlq.reason`).
    pub reason: String,
    /// How many.
    pub count: u64,
    /// The earliest record timestamp among them.
    pub first_seen: Option<Timestamp>,
    /// The latest record timestamp among them.
    pub last_seen: Option<Timestamp>,
    /// The first few, in read order.
    pub samples: Vec<Sample>,
}

/// A dead-letter topic grouped by reason, built by [`add`](Self::add)ing
/// each dead letter (so that a large topic needs no more memory than its
/// samples).
///
/// # Examples
///
/// ```
/// use meshkit::dlq::{DeadLetter, Inspection, Payload};
/// use meshkit::dlq_headers;
///
/// let letter = |offset, reason: &str| DeadLetter {
///     partition: 0,
///     offset,
///     timestamp: None,
///     key: None,
///     value: Some(b"not framed".to_vec()),
///     headers: vec![(dlq_headers::REASON.to_string(), Some(reason.as_bytes().to_vec()))],
/// };
/// let mut inspection = Inspection::new("sales.orders.dlq", None, 1);
/// for (offset, reason) in [(0, "bad-magic"), (1, "bad-magic"), (2, "oversized")] {
///     inspection.add(&letter(offset, reason));
/// }
/// assert_eq!(inspection.total, 3);
/// let bad_magic = &inspection.reasons[0];
/// assert_eq!((bad_magic.reason.as_str(), bad_magic.count), ("bad-magic", 2));
/// assert_eq!(bad_magic.samples.len(), 1);
/// assert!(matches!(bad_magic.samples[0].value, Payload::Text { .. }));
/// ```
#[derive(Debug, Clone, Serialize)]
pub struct Inspection {
    /// The dead-letter topic.
    pub topic: String,
    /// How many dead letters it holds.
    pub total: u64,
    /// By reason, in order of reason.
    pub reasons: Vec<ReasonSummary>,
    #[serde(skip)]
    samples: usize,
    #[serde(skip)]
    decoder: SampleDecoder,
}

impl Inspection {
    /// An empty inspection of `topic`, keeping up to `samples` samples per
    /// reason, decoding them with the schemas of `record` (the product's
    /// catalog record) when given.
    pub fn new(topic: impl Into<String>, record: Option<&CatalogRecord>, samples: usize) -> Self {
        Self {
            topic: topic.into(),
            total: 0,
            reasons: Vec::new(),
            samples,
            decoder: SampleDecoder::new(record),
        }
    }

    /// Counts `letter` under its reason, keeping it as a sample if its
    /// reason has fewer than the samples asked for.
    pub fn add(&mut self, letter: &DeadLetter) {
        self.total += 1;
        let reason = letter.reason().unwrap_or(NO_REASON);
        let at = match self.reasons.binary_search_by(|r| r.reason.as_str().cmp(reason)) {
            Ok(at) => at,
            Err(at) => {
                self.reasons.insert(
                    at,
                    ReasonSummary {
                        reason: reason.to_string(),
                        count: 0,
                        first_seen: None,
                        last_seen: None,
                        samples: Vec::new(),
                    },
                );
                at
            }
        };
        let summary = &mut self.reasons[at];
        summary.count += 1;
        if let Some(t) = letter.timestamp {
            summary.first_seen = Some(summary.first_seen.map_or(t, |f| f.min(t)));
            summary.last_seen = Some(summary.last_seen.map_or(t, |l| l.max(t)));
        }
        if summary.samples.len() < self.samples {
            let sample = self.decoder.sample(letter);
            self.reasons[at].samples.push(sample);
        }
    }

    /// The summary of `reason`, if any dead letter has it.
    pub fn reason(&self, reason: &str) -> Option<&ReasonSummary> {
        self.reasons.iter().find(|r| r.reason == reason)
    }
}

/// Decodes samples with the schemas of a catalog record, each parsed once.
#[derive(Debug, Clone, Default)]
struct SampleDecoder {
    /// Input port by topic: its name, key schema and value schema.
    ports: HashMap<String, (String, Option<SchemaRecord>, Option<SchemaRecord>)>,
    /// Whether a catalog record was given.
    known_product: bool,
    /// Parsed schemas by their text, or why they do not parse.
    parsed: BTreeMap<String, Result<apache_avro::Schema, String>>,
}

impl SampleDecoder {
    fn new(record: Option<&CatalogRecord>) -> Self {
        let ports = record
            .map(|r| {
                r.inputs
                    .iter()
                    .map(|p: &PortRecord| (p.topic.clone(), (p.name.clone(), p.key.clone(), p.value.clone())))
                    .collect()
            })
            .unwrap_or_default();
        Self {
            ports,
            known_product: record.is_some(),
            parsed: BTreeMap::new(),
        }
    }

    fn sample(&mut self, letter: &DeadLetter) -> Sample {
        let headers = letter
            .headers
            .iter()
            .map(|(k, v)| {
                (
                    k.clone(),
                    v.as_deref().map(|v| String::from_utf8_lossy(v).into_owned()),
                )
            })
            .collect();
        Sample {
            partition: letter.partition,
            offset: letter.offset,
            timestamp: letter.timestamp,
            headers,
            key: self.payload(letter, letter.key.as_deref(), true),
            value: self.payload(letter, letter.value.as_deref(), false),
        }
    }

    fn payload(&mut self, letter: &DeadLetter, bytes: Option<&[u8]>, is_key: bool) -> Payload {
        let Some(bytes) = bytes else {
            return Payload::Absent;
        };
        match self.decode(letter.source_topic(), bytes, is_key) {
            Ok((schema_id, json)) => Payload::Decoded { schema_id, json },
            Err(why) => Payload::undecoded(bytes, why),
        }
    }

    fn decode(
        &mut self,
        topic: Option<&str>,
        bytes: &[u8],
        is_key: bool,
    ) -> Result<(u32, serde_json::Value), String> {
        let part = if is_key { "key" } else { "value" };
        if !self.known_product {
            return Err("the product is not in the catalog, so no schema is known".into());
        }
        let topic = topic.ok_or("the dead letter does not say its source topic")?;
        let (port, key, value) = self
            .ports
            .get(topic)
            .ok_or_else(|| format!("no input port of the product reads topic `{topic}`"))?;
        let schema = if is_key { key } else { value }
            .as_ref()
            .ok_or_else(|| format!("input port `{port}` declares no {part} schema"))?;
        let (id, body) = wire::split(bytes).map_err(|e| format!("not in the Confluent wire format: {e}"))?;
        if !schema.format.eq_ignore_ascii_case("avro") {
            return Err(format!("schemas in format `{}` are not decoded", schema.format));
        }
        match schema.id {
            Some(known) if known == id => {}
            Some(known) => {
                return Err(format!(
                    "writer schema id {id} is not the one the catalog knows for port `{port}` ({known})"
                ))
            }
            None => return Err(format!("the catalog has no schema id for port `{port}`'s {part}")),
        }
        let parsed = self
            .parsed
            .entry(schema.schema.clone())
            .or_insert_with(|| apache_avro::Schema::parse_str(&schema.schema).map_err(|e| e.to_string()))
            .as_ref()
            .map_err(|e| format!("the catalog's schema for port `{port}` does not parse: {e}"))?;
        let mut reader = body;
        let value = apache_avro::reader::datum::GenericDatumReader::builder(parsed)
            .build()
            .and_then(|datum| datum.read_value(&mut reader))
            .map_err(|e| format!("does not decode with schema {id}: {e}"))?;
        let json = serde_json::Value::try_from(value)
            .map_err(|e| format!("decodes with schema {id}, but not to JSON: {e}"))?;
        Ok((id, json))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::{DescriptorInput, PortInput, SchemaInput};
    use crate::dlq_headers;

    const ORDER: &str = r#"{"type":"record","name":"Order","fields":[{"name":"id","type":"long"},{"name":"customer","type":"string"}]}"#;

    fn record(id: u32) -> CatalogRecord {
        let mut port = PortInput::new("orders", "sales.orders");
        port.value = Some(SchemaInput::new(ORDER, "Order").registered("sales.orders-value", id, 1));
        let input = DescriptorInput::new("sales", "enricher", "1.0.0", "team").input(port);
        CatalogRecord::from_descriptor(&input, Timestamp::from_millis(0))
    }

    fn order(id: i64, customer: &str) -> Vec<u8> {
        let schema = apache_avro::Schema::parse_str(ORDER).unwrap();
        let value = apache_avro::types::Value::Record(vec![
            ("id".into(), apache_avro::types::Value::Long(id)),
            (
                "customer".into(),
                apache_avro::types::Value::String(customer.into()),
            ),
        ]);
        let mut out = Vec::new();
        wire::write_header(&mut out, 7);
        let writer = apache_avro::writer::datum::GenericDatumWriter::builder(&schema)
            .build()
            .unwrap();
        out.extend(writer.write_value_to_vec(value).unwrap());
        out
    }

    fn letter(offset: i64, reason: &str, ts: u64, value: Option<Vec<u8>>) -> DeadLetter {
        DeadLetter {
            partition: 0,
            offset,
            timestamp: Some(Timestamp::from_millis(ts)),
            key: None,
            value,
            headers: vec![
                (dlq_headers::REASON.into(), Some(reason.as_bytes().to_vec())),
                (dlq_headers::SOURCE_TOPIC.into(), Some(b"sales.orders".to_vec())),
            ],
        }
    }

    #[test]
    fn counts_and_times_are_per_reason() {
        let mut inspection = Inspection::new("t", None, 2);
        for (offset, reason, ts) in [(0, "b", 30), (1, "a", 10), (2, "b", 20), (3, "b", 40)] {
            inspection.add(&letter(offset, reason, ts, None));
        }
        assert_eq!(inspection.total, 4);
        let names: Vec<_> = inspection.reasons.iter().map(|r| r.reason.as_str()).collect();
        assert_eq!(names, ["a", "b"]);
        let b = inspection.reason("b").unwrap();
        assert_eq!(b.count, 3);
        assert_eq!(b.first_seen, Some(Timestamp::from_millis(20)));
        assert_eq!(b.last_seen, Some(Timestamp::from_millis(40)));
        assert_eq!(b.samples.iter().map(|s| s.offset).collect::<Vec<_>>(), [0, 2]);
        assert_eq!(b.samples[0].value, Payload::Absent);
    }

    #[test]
    fn a_value_with_the_known_schema_id_is_decoded() {
        let mut inspection = Inspection::new("t", Some(&record(7)), 1);
        inspection.add(&letter(0, "transform-error", 1, Some(order(5, "c5"))));
        let sample = &inspection.reasons[0].samples[0];
        assert_eq!(
            sample.value,
            Payload::Decoded {
                schema_id: 7,
                json: serde_json::json!({"id": 5, "customer": "c5"})
            }
        );
        assert!(sample
            .headers
            .iter()
            .any(|(k, v)| k == dlq_headers::REASON && v.as_deref() == Some("transform-error")));
    }

    #[test]
    fn every_undecoded_value_says_why() {
        let why = |record: Option<&CatalogRecord>, value: Vec<u8>| {
            let mut inspection = Inspection::new("t", record, 1);
            inspection.add(&letter(0, "r", 1, Some(value)));
            match inspection.reasons[0].samples[0].value.clone() {
                Payload::Text { not_decoded, .. } | Payload::Bytes { not_decoded, .. } => not_decoded,
                other => panic!("decoded: {other:?}"),
            }
        };
        assert!(why(None, order(1, "c")).contains("not in the catalog"));
        assert!(why(Some(&record(8)), order(1, "c")).contains("id 7 is not the one"));
        assert!(why(Some(&record(7)), b"{\"id\": 1}".to_vec()).contains("wire format"));
        let mut garbage = Vec::new();
        wire::write_header(&mut garbage, 7);
        garbage.extend([0xff; 3]);
        assert!(why(Some(&record(7)), garbage.clone()).contains("does not decode"));
        let mut inspection = Inspection::new("t", Some(&record(7)), 1);
        inspection.add(&letter(0, "r", 1, Some(garbage)));
        assert!(matches!(
            &inspection.reasons[0].samples[0].value,
            Payload::Bytes { hex, .. } if hex.starts_with("0000000007ff")
        ));
    }
}
