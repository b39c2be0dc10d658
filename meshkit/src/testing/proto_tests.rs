//! The test driver on Protobuf ports: records framed with message indexes
//! through the production decode path, dead letters by reason, the gate
//! against what writers registered, and the registry's compatibility rule
//! for Protobuf schemas.

use std::sync::{Arc, LazyLock};

use prost::Message as _;
use prost_reflect::DescriptorPool;

use super::{TestDriver, TestError};
use crate::schema::registry::{EmbeddedRegistry, SchemaDefinition, SchemaType, VersionRef};
use crate::schema::{descriptor_pool, write_message_indexes, PortSchema, SchemaRegistry};
use crate::{Context, DataProduct, DescriptorError, Output, ProductDescriptor, Record, TransformError};

const IOT_PROTO: &str = r#"
    syntax = "proto3";
    package iot;
    message Reading { string sensor = 1; double celsius = 2; }
    message Fahrenheit { string sensor = 1; double fahrenheit = 2; }
"#;

static POOL: LazyLock<DescriptorPool> =
    LazyLock::new(|| descriptor_pool("iot/readings.proto", IOT_PROTO).expect("a valid file"));

#[derive(Clone, PartialEq, prost::Message, prost_reflect::ReflectMessage)]
#[prost_reflect(descriptor_pool = "POOL", message_name = "iot.Reading")]
struct Reading {
    #[prost(string, tag = "1")]
    sensor: String,
    #[prost(double, tag = "2")]
    celsius: f64,
}

#[derive(Clone, PartialEq, prost::Message, prost_reflect::ReflectMessage)]
#[prost_reflect(descriptor_pool = "POOL", message_name = "iot.Fahrenheit")]
struct Fahrenheit {
    #[prost(string, tag = "1")]
    sensor: String,
    #[prost(double, tag = "2")]
    fahrenheit: f64,
}

const CONVERTED: Output<String, Fahrenheit> = Output::new("converted");

struct Convert;

impl DataProduct for Convert {
    fn descriptor(&self) -> Result<ProductDescriptor, DescriptorError> {
        ProductDescriptor::builder("iot", "fahrenheit")
            .version("1.0.0")
            .owner("team-iot")
            .input_with(
                "readings",
                "iot.readings",
                PortSchema::protobuf::<Reading>().with_string_key(),
            )
            .output_with(
                "converted",
                "iot.fahrenheit",
                PortSchema::protobuf::<Fahrenheit>().with_string_key(),
            )
            .build()
    }

    async fn process(&mut self, record: &Record<'_>, ctx: &mut Context) -> Result<(), TransformError> {
        let key = record.key_as::<String>()?;
        let reading = record.value_as::<Reading>()?;
        let out = Fahrenheit {
            sensor: reading.sensor.clone(),
            fahrenheit: reading.celsius * 9.0 / 5.0 + 32.0,
        };
        CONVERTED.send(ctx, key, &out)?;
        Ok(())
    }
}

fn framed(id: u32, indexes: &[i32], body: &[u8]) -> Vec<u8> {
    let mut payload = vec![0];
    payload.extend_from_slice(&id.to_be_bytes());
    write_message_indexes(&mut payload, indexes);
    payload.extend_from_slice(body);
    payload
}

fn reading(celsius: f64) -> Reading {
    Reading {
        sensor: "s-1".into(),
        celsius,
    }
}

#[tokio::test]
async fn protobuf_records_go_through_and_their_file_is_registered() -> Result<(), Box<dyn std::error::Error>>
{
    let mut driver = TestDriver::start(Convert).await?;
    driver
        .pipe("readings", &"s-1".to_string(), &reading(100.0))
        .await?;
    let out = driver.read(CONVERTED)?;
    assert_eq!((out[0].key.as_str(), out[0].value.fahrenheit), ("s-1", 212.0));
    // The output's file is in the registry, under the topic's subject, as
    // the base64 of its descriptor.
    let latest = (driver.registry())
        .schema_version("iot.fahrenheit-value", VersionRef::Latest, false)
        .await?;
    assert_eq!(latest.definition.schema_type, SchemaType::Protobuf);
    let file = crate::schema::parse_proto_schema(&latest.definition.schema)?;
    assert_eq!(file.name(), "iot/readings.proto");
    Ok(())
}

#[tokio::test]
async fn what_is_not_a_protobuf_record_of_the_port_is_a_dead_letter() -> Result<(), Box<dyn std::error::Error>>
{
    let registry: Arc<dyn SchemaRegistry> = Arc::new(EmbeddedRegistry::in_memory());
    let avro = registry.register("elsewhere-value", r#""string""#).await?.id;
    let mut driver = TestDriver::start_with_registry(Convert, registry).await?;
    driver.pipe("readings", &"s-1".to_string(), &reading(1.0)).await?;
    let writer = (driver.registry())
        .schema_version("iot.readings-value", VersionRef::Latest, false)
        .await?
        .id;
    let body = reading(1.0).encode_to_vec();
    for payload in [
        body.clone(),
        framed(4242, &[0], &body),
        framed(avro, &[0], &body),
        // The file's second message: not the port's type.
        framed(writer, &[1], &body),
        framed(writer, &[0], &[0x0a, 0x07, b's']),
    ] {
        driver.pipe_raw("readings", Some(b"s-1"), Some(&payload)).await?;
    }
    let reasons: Vec<String> = driver.dead_letters().into_iter().map(|d| d.reason).collect();
    assert_eq!(
        reasons,
        [
            "bad-magic",
            "unknown-schema-id",
            "incompatible-writer-schema",
            "incompatible-writer-schema",
            "malformed-protobuf"
        ]
    );
    assert_eq!(driver.read(CONVERTED)?.len(), 1);
    Ok(())
}

#[tokio::test]
async fn the_gate_refuses_a_writer_whose_field_changed_its_type() -> Result<(), Box<dyn std::error::Error>> {
    let registry: Arc<dyn SchemaRegistry> = Arc::new(EmbeddedRegistry::in_memory());
    // Another client registered the input's file as `.proto` text, with
    // `celsius` as a string.
    let writer =
        "syntax = \"proto3\"; package iot; message Reading { string sensor = 1; string celsius = 2; }";
    registry
        .register_definition(
            "iot.readings-value",
            &SchemaDefinition::new(SchemaType::Protobuf, writer),
        )
        .await?;
    let err = TestDriver::start_with_registry(Convert, registry)
        .await
        .expect_err("refused");
    let TestError::Gate(gate) = &err else {
        panic!("not the gate: {err:?}");
    };
    assert!(gate.to_string().contains("field 2 is `celsius`"), "{gate}");
    Ok(())
}

#[tokio::test]
async fn the_registry_checks_protobuf_and_json_schema_versions() -> Result<(), Box<dyn std::error::Error>> {
    let registry = EmbeddedRegistry::in_memory();
    let proto = |text: &str| SchemaDefinition::new(SchemaType::Protobuf, text);
    let v1 = "syntax = \"proto3\"; package p; message A { int64 x = 1; }";
    registry.register_definition("p", &proto(v1)).await?;
    // A new field is fine under BACKWARD; a field of another shape is not.
    let v2 = "syntax = \"proto3\"; package p; message A { int64 x = 1; string y = 2; }";
    assert_eq!(registry.register_definition("p", &proto(v2)).await?.version, 2);
    let bad = "syntax = \"proto3\"; package p; message A { string x = 1; string y = 2; }";
    let err = registry
        .register_definition("p", &proto(bad))
        .await
        .expect_err("incompatible");
    assert!(format!("{err:?}").contains("field 1 is `x`"), "{err:?}");
    assert!(registry
        .register_definition("p", &proto("message {"))
        .await
        .is_err());

    let json = |text: &str| SchemaDefinition::new(SchemaType::Json, text);
    registry
        .register_definition(
            "j",
            &json(r#"{"type":"object","properties":{"n":{"type":"integer"}}}"#),
        )
        .await?;
    let widened = r#"{"type":"object","properties":{"n":{"type":"number"},"s":{"type":"string"}}}"#;
    assert_eq!(
        registry.register_definition("j", &json(widened)).await?.version,
        2
    );
    let needs =
        r#"{"type":"object","properties":{"n":{"type":"number"},"t":{"type":"string"}},"required":["t"]}"#;
    let err = registry
        .register_definition("j", &json(needs))
        .await
        .expect_err("t is new and required");
    assert!(format!("{err:?}").contains("no property t"), "{err:?}");
    Ok(())
}
