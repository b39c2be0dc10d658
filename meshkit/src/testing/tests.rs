//! The test driver on JSON Schema ports: the gate against what writers
//! registered, dead letters by reason, typed outputs framed with the ids the
//! gate registered.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::{TestDriver, TestError};
use crate::schema::registry::{EmbeddedRegistry, SchemaDefinition, SchemaType};
use crate::schema::{PortSchema, SchemaRegistry};
use crate::{Context, DataProduct, DescriptorError, Output, ProductDescriptor, Record, TransformError};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
struct Reading {
    sensor: String,
    celsius: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
struct Fahrenheit {
    sensor: String,
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
                PortSchema::json_schema::<Reading>().with_string_key(),
            )
            .output_with(
                "converted",
                "iot.fahrenheit",
                PortSchema::json_schema::<Fahrenheit>().with_string_key(),
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

fn framed(id: u32, body: &[u8]) -> Vec<u8> {
    let mut payload = vec![0];
    payload.extend_from_slice(&id.to_be_bytes());
    payload.extend_from_slice(body);
    payload
}

#[tokio::test]
async fn json_schema_records_go_through_and_their_schemas_are_registered(
) -> Result<(), Box<dyn std::error::Error>> {
    let mut driver = TestDriver::start(Convert).await?;
    let reading = Reading {
        sensor: "s-1".into(),
        celsius: 100.0,
    };
    driver.pipe("readings", &"s-1".to_string(), &reading).await?;
    let out = driver.read(CONVERTED)?;
    assert_eq!(out[0].value.fahrenheit, 212.0);
    // The output's schema is in the registry as a JSON Schema, under the topic's subject.
    let latest = (driver.registry())
        .schema_version(
            "iot.fahrenheit-value",
            crate::schema::registry::VersionRef::Latest,
            false,
        )
        .await?;
    assert_eq!(latest.definition.schema_type, SchemaType::Json);
    assert!(latest.definition.schema.contains("fahrenheit"));
    Ok(())
}

#[tokio::test]
async fn what_is_not_a_json_schema_record_of_the_port_is_a_dead_letter(
) -> Result<(), Box<dyn std::error::Error>> {
    let registry: Arc<dyn SchemaRegistry> = Arc::new(EmbeddedRegistry::in_memory());
    let avro = registry.register("elsewhere-value", r#""string""#).await?.id;
    let mut driver = TestDriver::start_with_registry(Convert, registry).await?;
    driver
        .pipe(
            "readings",
            &"s-1".to_string(),
            &Reading {
                sensor: "s-1".into(),
                celsius: 1.0,
            },
        )
        .await?;
    let writer = driver
        .registry()
        .schema_version(
            "iot.readings-value",
            crate::schema::registry::VersionRef::Latest,
            false,
        )
        .await?
        .id;
    for payload in [
        br#"{"sensor":"s-1","celsius":1.0}"#.to_vec(),
        framed(4242, br#"{"sensor":"s-1","celsius":1.0}"#),
        framed(avro, b"\x06s-1"),
        framed(writer, br#"{"sensor":"s-1","celsius":"warm"}"#),
        framed(writer, br#"{"sensor":"#),
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
            "type-mismatch",
            "malformed-json"
        ]
    );
    assert_eq!(driver.read(CONVERTED)?.len(), 1);
    Ok(())
}

#[tokio::test]
async fn the_gate_refuses_a_writer_schema_without_a_required_property(
) -> Result<(), Box<dyn std::error::Error>> {
    let registry: Arc<dyn SchemaRegistry> = Arc::new(EmbeddedRegistry::in_memory());
    let writer = r#"{"type":"object","properties":{"sensor":{"type":"string"}}}"#;
    registry
        .register_definition(
            "iot.readings-value",
            &SchemaDefinition::new(SchemaType::Json, writer),
        )
        .await?;
    let err = TestDriver::start_with_registry(Convert, registry)
        .await
        .expect_err("refused");
    let TestError::Gate(gate) = &err else {
        panic!("not the gate: {err:?}");
    };
    assert!(gate.to_string().contains("no property celsius"), "{gate}");

    // An Avro schema where the port reads JSON Schema: refused too.
    let registry: Arc<dyn SchemaRegistry> = Arc::new(EmbeddedRegistry::in_memory());
    registry.register("iot.readings-value", r#""string""#).await?;
    let err = TestDriver::start_with_registry(Convert, registry)
        .await
        .expect_err("refused");
    assert!(
        crate::ErrorChain(&err)
            .to_string()
            .contains("latest schema is AVRO"),
        "{err:?}"
    );
    Ok(())
}
