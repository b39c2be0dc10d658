//! Protobuf ports on the real broker: Confluent's own Python client writes a
//! product's input with its ProtobufSerializer and reads the output with its
//! ProtobufDeserializer (which builds the writer's message type from the file
//! descriptor the registry gives for the id in each record, and the message
//! indexes after it), through meshkit's registry served over HTTP; records
//! that are not Protobuf records of the port are dead-lettered with their
//! reason; and the compatibility gate refuses a writer schema whose field
//! changed its type. Judged on the committed view (the oracle).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::LazyLock;
use std::time::Duration;

use meshkit::schema::registry::{SchemaDefinition, SchemaType, VersionRef};
use meshkit::schema::{descriptor_pool, write_message_indexes, PortSchema, SchemaRegistry};
use meshkit::{
    dlq_headers, Context, DataProduct, DescriptorError, Output, ProductDescriptor, Record, TransformError,
};
use meshkit_tests::broker::{test_brokers, unique_name};
use meshkit_tests::oracle::committed_view;
use meshkit_tests::python::{interop_args, run_script, venv_python};
use meshkit_tests::run;
use meshkit_tests::typed::{band, framed, produce_raw, register, OrderV1, Raw, ServedRegistry};
use prost::Message as _;
use prost_reflect::DescriptorPool;

/// The file Python's side builds (tests/python/data_interop.py), as text.
const ORDER_PROTO: &str = r#"
    syntax = "proto3";
    package interop;
    message ProtoOrder { int64 id = 1; string customer = 2; int64 amount_cents = 3; string channel = 4; }
    message ProtoBanded { int64 id = 1; string customer = 2; string band = 3; }
"#;

static POOL: LazyLock<DescriptorPool> =
    LazyLock::new(|| descriptor_pool("interop/order.proto", ORDER_PROTO).expect("a valid file"));

/// An order as Python's ProtobufSerializer writes it.
#[derive(Clone, PartialEq, prost::Message, prost_reflect::ReflectMessage)]
#[prost_reflect(descriptor_pool = "POOL", message_name = "interop.ProtoOrder")]
struct ProtoOrder {
    #[prost(int64, tag = "1")]
    id: i64,
    #[prost(string, tag = "2")]
    customer: String,
    #[prost(int64, tag = "3")]
    amount_cents: i64,
    #[prost(string, tag = "4")]
    channel: String,
}

/// What the product publishes for each order.
#[derive(Clone, PartialEq, prost::Message, prost_reflect::ReflectMessage)]
#[prost_reflect(descriptor_pool = "POOL", message_name = "interop.ProtoBanded")]
struct ProtoBanded {
    #[prost(int64, tag = "1")]
    id: i64,
    #[prost(string, tag = "2")]
    customer: String,
    #[prost(string, tag = "3")]
    band: String,
}

const BANDED: Output<String, ProtoBanded> = Output::new("banded");

/// Bands each order, keyed by customer, Protobuf in and out.
#[derive(Clone)]
struct ProtoBander {
    orders: String,
    banded: String,
}

impl DataProduct for ProtoBander {
    fn descriptor(&self) -> Result<ProductDescriptor, DescriptorError> {
        ProductDescriptor::builder("sales", "proto-bander")
            .version("1.0.0")
            .owner("team-sales@example.com")
            .input_with(
                "orders",
                &self.orders,
                PortSchema::protobuf::<ProtoOrder>().with_string_key(),
            )
            .output_with(
                "banded",
                &self.banded,
                PortSchema::protobuf::<ProtoBanded>().with_string_key(),
            )
            .build()
    }

    async fn process(&mut self, record: &Record<'_>, ctx: &mut Context) -> Result<(), TransformError> {
        let customer = record.key_as::<String>()?;
        let order = record.value_as::<ProtoOrder>()?;
        let banded = ProtoBanded {
            id: order.id,
            customer: order.customer.clone(),
            band: band(order.amount_cents).to_string(),
        };
        BANDED.send(ctx, customer, &banded)?;
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn confluents_python_protobuf_serializers_interoperate_and_poison_is_dead_lettered() {
    let test = "confluents_python_protobuf_serializers_interoperate_and_poison_is_dead_lettered";
    let Some(brokers) = test_brokers(test) else { return };
    let Some(python) = venv_python(test) else { return };

    let served = ServedRegistry::start(&brokers).await;
    let (registry, url) = (served.registry.clone(), served.url.clone());

    let prefix = unique_name("protobuf");
    let product = ProtoBander {
        orders: format!("{prefix}.orders"),
        banded: format!("{prefix}.banded"),
    };
    let app = unique_name("protobuf-app");
    let state = tempfile::tempdir().expect("state");
    let mut running =
        run::spawn(product.clone(), served.config(&brokers, state.path(), &app)).expect("runtime");
    running
        .until_running(Duration::from_secs(60))
        .await
        .expect("running");

    let args =
        |mode: &str, topic: &str, count: u32| interop_args(mode, &brokers, &url, topic, count, "protobuf");
    run_script(&python, "data_interop.py", args("produce", &product.orders, 100)).await;

    // Poison: a message without the wire format's header, a record framed
    // with an id nobody registered, one framed with an Avro schema's id, one
    // whose indexes name the file's other message, and bodies that are not
    // protobuf (cut short; message indexes that never end).
    let avro_id = register::<OrderV1>(registry.as_ref(), &unique_name("elsewhere"))
        .await
        .expect("avro");
    // The id Python's serializer registered its schema under.
    let proto_id = registry
        .schema_version(&format!("{}-value", product.orders), VersionRef::Latest, false)
        .await
        .expect("the Python writer registered its schema")
        .id;
    let order = ProtoOrder {
        id: 1,
        customer: "c1".into(),
        amount_cents: 5,
        channel: String::new(),
    };
    let framed_proto = |id: u32, indexes: &[i32], body: &[u8]| {
        let mut payload = vec![0, 0, 0, 0, 0];
        payload[1..5].copy_from_slice(&id.to_be_bytes());
        write_message_indexes(&mut payload, indexes);
        payload.extend_from_slice(body);
        payload
    };
    let poison = [
        ("bad-magic", order.encode_to_vec()),
        (
            "unknown-schema-id",
            framed_proto(99_999, &[0], &order.encode_to_vec()),
        ),
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
        // The file's other message: a type the port does not read.
        (
            "incompatible-writer-schema",
            framed_proto(proto_id, &[1], &order.encode_to_vec()),
        ),
        (
            "malformed-protobuf",
            framed_proto(proto_id, &[0], &[0x12, 0x09, b'c']),
        ),
        ("malformed-protobuf", {
            let mut payload = vec![0, 0, 0, 0, 0];
            payload[1..5].copy_from_slice(&proto_id.to_be_bytes());
            payload.extend_from_slice(&[0xff; 12]);
            payload
        }),
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
        assert!(
            value.get("amount_cents").is_none(),
            "a ProtoBanded, not an order: {line}"
        );
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
    // The registry gives Python the file descriptor it registered, and the
    // product's own output schema as one too.
    let output = registry
        .schema_version(&format!("{}-value", product.banded), VersionRef::Latest, false)
        .await
        .expect("the product registered its output schema");
    assert_eq!(output.definition.schema_type, SchemaType::Protobuf);

    // The registry's compatibility rule: a version whose field changed its
    // type is refused under BACKWARD (the default) and names the field.
    let retyped = SchemaDefinition::new(
        SchemaType::Protobuf,
        "syntax = \"proto3\"; package interop; message ProtoOrder { int64 id = 1; double customer = 2; } message ProtoBanded {}",
    );
    let subject = format!("{}-value", product.orders);
    let refused = registry
        .register_definition(&subject, &retyped)
        .await
        .expect_err("the registry refuses it");
    assert!(format!("{refused:#}").contains("field 2"), "{refused:#}");

    // The gate: a product whose input message reads field 3 as a string
    // (Python writes an int64 there) refuses to start, naming the field.
    static STRICT_POOL: LazyLock<DescriptorPool> = LazyLock::new(|| {
        descriptor_pool(
            "strict.proto",
            "syntax = \"proto3\"; package interop; message ProtoOrder { int64 id = 1; string amount_cents = 3; }",
        )
        .expect("a valid file")
    });
    #[derive(Clone, PartialEq, prost::Message, prost_reflect::ReflectMessage)]
    #[prost_reflect(descriptor_pool = "STRICT_POOL", message_name = "interop.ProtoOrder")]
    struct TextAmount {
        #[prost(int64, tag = "1")]
        id: i64,
        #[prost(string, tag = "3")]
        amount_cents: String,
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
                .input_with("orders", &self.orders, PortSchema::protobuf::<TextAmount>())
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
    assert!(
        message.contains("field 3") && message.contains("amount_cents"),
        "{message}"
    );
    served.server.shutdown().await.expect("registry server stops");
}
