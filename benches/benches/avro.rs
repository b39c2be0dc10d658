//! Per-record schema cost: decode one Confluent-framed Avro record and
//! encode one, through meshkit's codecs, against raw apache-avro doing the
//! same work in the same run. Two paths:
//! - fast: the writer schema is the reader's own (serde straight into the type);
//! - resolution: an older writer schema (v1) resolved to the reader's (v2).
//!
//! Run: `cargo bench -p meshkit-benches --bench avro`

use std::hint::black_box;

use apache_avro::reader::datum::{GenericDatumReader, SpecificDatumReader};
use apache_avro::writer::datum::GenericDatumWriter;
use apache_avro::{AvroSchema, Schema};
use criterion::{criterion_main, Criterion, Throughput};
use meshkit::schema::{codec_for, wire};
use serde::{Deserialize, Serialize};

const RECORDS: u64 = 1_000;

#[derive(Debug, Clone, PartialEq, AvroSchema, Serialize, Deserialize)]
#[serde(rename = "Order")]
struct OrderV1 {
    id: i64,
    customer: String,
    amount_cents: i64,
    items: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, AvroSchema, Serialize, Deserialize)]
#[serde(rename = "Order")]
struct Order {
    id: i64,
    customer: String,
    amount_cents: i64,
    items: Vec<String>,
    #[avro(default = "\"unknown\"")]
    #[serde(default)]
    channel: String,
}

fn order(i: u64) -> Order {
    let i = i as i64;
    Order {
        id: i,
        customer: format!("customer-{}", i % 97),
        amount_cents: i * 31,
        items: vec!["sku-1".into(), format!("sku-{i}")],
        channel: "web".into(),
    }
}

fn framed_raw<T: Serialize>(schema: &Schema, id: u32, value: &T) -> Vec<u8> {
    let mut out = Vec::with_capacity(64);
    wire::write_header(&mut out, id);
    GenericDatumWriter::builder(schema)
        .build()
        .expect("writer")
        .write_ser(&mut out, value)
        .expect("encodes");
    out
}

fn bench(c: &mut Criterion) {
    let reader_schema = Order::get_schema();
    let v1_schema = OrderV1::get_schema();
    let inputs: Vec<Vec<u8>> = (0..RECORDS)
        .map(|i| framed_raw(&reader_schema, 2, &order(i)))
        .collect();
    let old_inputs: Vec<Vec<u8>> = (0..RECORDS)
        .map(|i| {
            let o = order(i);
            let v1 = OrderV1 {
                id: o.id,
                customer: o.customer,
                amount_cents: o.amount_cents,
                items: o.items,
            };
            framed_raw(&v1_schema, 1, &v1)
        })
        .collect();

    let mut group = c.benchmark_group("avro_decode_encode_fast_path");
    group.throughput(Throughput::Elements(RECORDS));
    let specific = SpecificDatumReader::<Order>::builder().build().expect("reader");
    group.bench_function("raw_apache_avro", |b| {
        b.iter(|| {
            for input in &inputs {
                let mut body = &input[wire::HEADER_LEN..];
                let order: Order = specific.read(&mut body).expect("decodes");
                black_box(framed_raw(&reader_schema, 3, &order));
            }
        })
    });
    let codec = codec_for::<Order>();
    group.bench_function("meshkit", |b| {
        b.iter(|| {
            for input in &inputs {
                let (_id, body) = wire::split(input).expect("framed");
                let (decoded, _) = codec.decode_direct(body).expect("decodes");
                let mut out = Vec::with_capacity(64);
                wire::write_header(&mut out, 3);
                codec.encode(decoded.as_ref(), &mut out).expect("encodes");
                black_box(out);
            }
        })
    });
    group.finish();

    let mut group = c.benchmark_group("avro_decode_encode_resolution_path");
    group.throughput(Throughput::Elements(RECORDS));
    group.bench_function("raw_apache_avro", |b| {
        b.iter(|| {
            for input in &old_inputs {
                let mut body = &input[wire::HEADER_LEN..];
                let reader = GenericDatumReader::builder(&v1_schema)
                    .reader_schema(&reader_schema)
                    .build()
                    .expect("resolvable");
                let value = reader.read_value(&mut body).expect("decodes");
                let order: Order = apache_avro::from_value(&value).expect("fits");
                black_box(framed_raw(&reader_schema, 3, &order));
            }
        })
    });
    group.bench_function("meshkit", |b| {
        b.iter(|| {
            for input in &old_inputs {
                let (_id, body) = wire::split(input).expect("framed");
                let (decoded, _) = codec.decode_resolving(&v1_schema, body).expect("decodes");
                let mut out = Vec::with_capacity(64);
                wire::write_header(&mut out, 3);
                codec.encode(decoded.as_ref(), &mut out).expect("encodes");
                black_box(out);
            }
        })
    });
    group.finish();
}

// criterion's macros generate undocumented items.
#[allow(missing_docs)]
mod harness {
    criterion::criterion_group!(benches, super::bench);
}
criterion_main!(harness::benches);
