//! JSON Schema ports on the real broker: Confluent's own Python client
//! writes a product's input with its JSONSerializer and reads the output with
//! its JSONDeserializer (which validates each record against the writer's
//! schema), through meshkit's registry served over HTTP; records that are not
//! JSON Schema records of the port are dead-lettered with their reason; and
//! the compatibility gate refuses a writer schema the port cannot read.
//! Judged on the committed view (the oracle).

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use meshkit::schema::registry::VersionRef;
use meshkit::schema::{PortSchema, SchemaRegistry};
use meshkit::{
    dlq_headers, Context, DataProduct, DescriptorError, Output, ProductDescriptor, Record, TransformError,
};
use meshkit_tests::broker::{test_brokers, unique_name};
use meshkit_tests::oracle::committed_view;
use meshkit_tests::python::{interop_args, run_script, venv_python};
use meshkit_tests::run;
use meshkit_tests::typed::{band, framed, produce_raw, register, OrderV1, Raw, ServedRegistry};
use serde::{Deserialize, Serialize};

/// An order as Python's JSONSerializer writes it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
struct JsonOrder {
    id: i64,
    customer: String,
    amount_cents: i64,
    #[serde(default)]
    channel: Option<String>,
}

/// What the product publishes for each order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
struct JsonBanded {
    id: i64,
    customer: String,
    band: String,
}

const BANDED: Output<String, JsonBanded> = Output::new("banded");

/// Bands each order, keyed by customer, JSON Schema in and out.
#[derive(Clone)]
struct JsonBander {
    orders: String,
    banded: String,
}

impl DataProduct for JsonBander {
    fn descriptor(&self) -> Result<ProductDescriptor, DescriptorError> {
        ProductDescriptor::builder("sales", "json-bander")
            .version("1.0.0")
            .owner("team-sales@example.com")
            .input_with(
                "orders",
                &self.orders,
                PortSchema::json_schema::<JsonOrder>().with_string_key(),
            )
            .output_with(
                "banded",
                &self.banded,
                PortSchema::json_schema::<JsonBanded>().with_string_key(),
            )
            .build()
    }

    async fn process(&mut self, record: &Record<'_>, ctx: &mut Context) -> Result<(), TransformError> {
        let customer = record.key_as::<String>()?;
        let order = record.value_as::<JsonOrder>()?;
        let banded = JsonBanded {
            id: order.id,
            customer: order.customer.clone(),
            band: band(order.amount_cents).to_string(),
        };
        BANDED.send(ctx, customer, &banded)?;
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn confluents_python_json_schema_serializers_interoperate_and_poison_is_dead_lettered() {
    let test = "confluents_python_json_schema_serializers_interoperate_and_poison_is_dead_lettered";
    let Some(brokers) = test_brokers(test) else { return };
    let Some(python) = venv_python(test) else { return };

    let served = ServedRegistry::start(&brokers).await;
    let (registry, url) = (served.registry.clone(), served.url.clone());

    let prefix = unique_name("json-schema");
    let product = JsonBander {
        orders: format!("{prefix}.orders"),
        banded: format!("{prefix}.banded"),
    };
    let app = unique_name("json-schema-app");
    let state = tempfile::tempdir().expect("state");
    let mut running =
        run::spawn(product.clone(), served.config(&brokers, state.path(), &app)).expect("runtime");
    running
        .until_running(Duration::from_secs(60))
        .await
        .expect("running");

    let args =
        |mode: &str, topic: &str, count: u32| interop_args(mode, &brokers, &url, topic, count, "json_schema");
    run_script(&python, "data_interop.py", args("produce", &product.orders, 100)).await;

    // Poison: JSON without the wire format's header, a record framed with an
    // id nobody registered, one framed with an Avro schema's id, and one whose
    // JSON does not fit the port's type.
    let avro_id = register::<OrderV1>(registry.as_ref(), &unique_name("elsewhere"))
        .await
        .expect("avro");
    // The id Python's serializer registered its schema under.
    let json_id = registry
        .schema_version(&format!("{}-value", product.orders), VersionRef::Latest, false)
        .await
        .expect("the Python writer registered its schema")
        .id;
    let framed_json = |id: u32, body: &str| {
        let mut payload = vec![0, 0, 0, 0, 0];
        payload[1..5].copy_from_slice(&id.to_be_bytes());
        payload.extend_from_slice(body.as_bytes());
        payload
    };
    let poison = [
        (
            "bad-magic",
            br#"{"id":1,"customer":"c1","amount_cents":5}"#.to_vec(),
        ),
        ("unknown-schema-id", framed_json(99_999, r#"{"id":1}"#)),
        (
            "incompatible-writer-schema",
            framed(
                avro_id,
                &OrderV1 {
                    id: 1,
                    customer: "c1".into(),
                    amount_cents: 5,
                },
            ),
        ),
        (
            "type-mismatch",
            framed_json(json_id, r#"{"id":"one","customer":"c1","amount_cents":5}"#),
        ),
        ("malformed-json", framed_json(json_id, r#"{"id":1,"#)),
    ];
    let expected: BTreeSet<&str> = poison.iter().map(|(reason, _)| *reason).collect();
    let records: Vec<Raw> = (poison.iter())
        .map(|(_, value)| Raw {
            topic: product.orders.clone(),
            key: Some(b"c1".to_vec()),
            value: Some(value.clone()),
        })
        .collect();
    let b = brokers.clone();
    tokio::task::spawn_blocking(move || produce_raw(&b, &records))
        .await
        .expect("join")
        .expect("produce");
    running
        .until_committed(100 + poison.len() as u64, Duration::from_secs(120))
        .await
        .expect("all committed");

    // Python reads the output, validating each record against the schema
    // the product registered.
    let lines = run_script(&python, "data_interop.py", args("consume", &product.banded, 100)).await;
    let mut seen = BTreeMap::new();
    for line in lines.lines() {
        let record: serde_json::Value = serde_json::from_str(line).expect("json line");
        let value = &record["value"];
        let id = value["id"].as_i64().expect("id");
        assert_eq!(value["band"], band(id * 97), "{line}");
        assert_eq!(record["key"], value["customer"], "{line}");
        assert!(seen.insert(id, line.to_string()).is_none(), "id {id} twice");
    }
    assert_eq!(
        seen.keys().copied().collect::<Vec<_>>(),
        (1..=100).collect::<Vec<_>>()
    );
    running.stop().await.expect("join").expect("clean stop");

    let out = committed_view(&brokers, &product.banded).await.expect("oracle");
    assert_eq!(out.committed.len(), 100, "each order once");
    let dlq = committed_view(&brokers, &format!("{app}.dlq"))
        .await
        .expect("oracle");
    let reasons: BTreeSet<String> = (dlq.committed.iter())
        .map(|r| r.header(dlq_headers::REASON).unwrap_or_default())
        .collect();
    assert_eq!(
        dlq.committed.len(),
        poison.len(),
        "each poison record once: {reasons:?}"
    );
    assert_eq!(
        reasons.iter().map(String::as_str).collect::<BTreeSet<_>>(),
        expected
    );

    // The gate: a product whose input type requires a property the latest
    // writer schema lacks refuses to start, naming it.
    #[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
    struct NeedsRegion {
        id: i64,
        region: String,
    }
    #[derive(Clone)]
    struct Strict {
        orders: String,
        out: String,
    }
    impl DataProduct for Strict {
        fn descriptor(&self) -> Result<ProductDescriptor, DescriptorError> {
            ProductDescriptor::builder("sales", "strict")
                .version("1.0.0")
                .owner("team-sales@example.com")
                .input_with("orders", &self.orders, PortSchema::json_schema::<NeedsRegion>())
                .output("out", &self.out)
                .build()
        }
        async fn process(&mut self, _: &Record<'_>, _: &mut Context) -> Result<(), TransformError> {
            Ok(())
        }
    }
    let strict = Strict {
        orders: product.orders.clone(),
        out: format!("{prefix}.strict"),
    };
    let state = tempfile::tempdir().expect("state");
    let refused = run::spawn(
        strict,
        served.config(&brokers, state.path(), &unique_name("strict")),
    )
    .expect("runtime")
    .until_running(Duration::from_secs(60))
    .await
    .expect_err("the gate refuses it");
    let message = format!("{refused:#}");
    assert!(message.contains("region"), "{message}");
    served.server.shutdown().await.expect("registry server stops");
}
