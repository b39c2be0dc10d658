//! The compatibility gate a product passes before it starts: outputs
//! registered, inputs readable.

use std::collections::HashMap;
use std::sync::Arc;

use apache_avro::schema_compatibility::SchemaCompatibility;
use apache_avro::Schema;

use super::codec::error_text;
use super::registry::{SchemaDefinition, SchemaType, VersionRef};
use super::{Codec, ErasedCodec, PortSchema, RegistryError, SchemaRegistry, SubjectNameStrategy};

/// Why a product's schemas keep it from starting.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SchemaGateError {
    /// An output's schema breaks its subject's compatibility rule.
    #[error(
        "output port `{port}`: its schema cannot be registered under subject `{subject}`: {}",
        messages.join("; ")
    )]
    OutputIncompatible {
        /// The output port.
        port: String,
        /// The subject.
        subject: String,
        /// The registry's reasons: the version, the field and the rule broken.
        messages: Vec<String>,
    },
    /// Auto-registration is off and the output's schema is not registered.
    #[error(
        "output port `{port}`: its schema is not registered under subject `{subject}` and \
         auto-registration is off (MESHKIT_AUTO_REGISTER_SCHEMAS=false); register it first"
    )]
    OutputNotRegistered {
        /// The output port.
        port: String,
        /// The subject.
        subject: String,
    },
    /// An input's type cannot read what its writers write.
    #[error(
        "input port `{port}`: its type `{type_name}` cannot read the latest schema of subject \
         `{subject}` (version {version}, id {id}): {reason}. Rule: a reader must be able to read \
         every record its writers write (give new reader fields a default, keep field types)"
    )]
    InputIncompatible {
        /// The input port.
        port: String,
        /// The subject.
        subject: String,
        /// The port's Rust type.
        type_name: &'static str,
        /// The subject version checked.
        version: u32,
        /// Its schema id.
        id: u32,
        /// What broke, naming the field.
        reason: String,
    },
    /// A store's value type cannot read the values it holds, or breaks its
    /// subject's compatibility rule.
    #[error(
        "store `{store}`: its value type cannot replace the schemas of subject `{subject}`: {reason}. \
         Rule: a store's type must read every value its earlier versions wrote (give new fields a \
         default, keep field types)"
    )]
    StoreIncompatible {
        /// The store.
        store: String,
        /// The subject of its changelog's values.
        subject: String,
        /// What broke, naming the version and the field.
        reason: String,
    },
    /// The registry could not answer.
    #[error("schema registry, for subject `{subject}`")]
    Registry {
        /// The subject asked about.
        subject: String,
        /// The registry's error.
        #[source]
        source: RegistryError,
    },
}

impl SchemaGateError {
    /// Whether starting again later may succeed (the registry was unreachable).
    pub fn is_retriable(&self) -> bool {
        matches!(self, Self::Registry { source, .. } if source.is_retriable())
    }
}

/// An output port's types with the schema ids they are registered under.
#[derive(Debug, Clone)]
pub(crate) struct RegisteredPort {
    pub(crate) schema: PortSchema,
    pub(crate) value_id: u32,
    pub(crate) key_id: Option<u32>,
}

/// Where the registry holds one of a port's schemas, for the catalog.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SettledSchema {
    pub(crate) port: String,
    pub(crate) output: bool,
    pub(crate) is_key: bool,
    pub(crate) subject: String,
    pub(crate) id: u32,
    pub(crate) version: u32,
}

/// What the gate settled: the registered ids of the outputs (by output port
/// index), the input ports to decode, by topic, and every subject, id and
/// version it found or registered.
pub(crate) struct GatePlan {
    pub(crate) outputs: Vec<Option<RegisteredPort>>,
    pub(crate) inputs: HashMap<String, PortSchema>,
    pub(crate) settled: Vec<SettledSchema>,
}

fn record_name(codec: &Arc<dyn ErasedCodec>) -> String {
    match codec.schema() {
        s @ (Schema::Record(_) | Schema::Enum(_) | Schema::Fixed(_)) => s
            .name()
            .map_or_else(|| codec.type_name().to_string(), |n| n.fullname(None)),
        other => {
            let canonical = other.canonical_form();
            canonical.trim_matches('"').to_string()
        }
    }
}

/// The subject `codec`'s schema is registered under, for a port on `topic`.
pub(crate) fn subject_for(
    strategy: SubjectNameStrategy,
    topic: &str,
    codec: &Arc<dyn ErasedCodec>,
    is_key: bool,
) -> String {
    strategy.subject(topic, &record_name(codec), is_key)
}

/// A port the gate checks: its name (for messages), its topic and what it
/// carries (`None`: raw bytes, nothing to check).
#[derive(Debug, Clone, Copy)]
pub(crate) struct GatePort<'a> {
    pub(crate) name: &'a str,
    pub(crate) topic: &'a str,
    pub(crate) schema: Option<&'a PortSchema>,
}

/// Runs the gate for a product's ports against `registry`: `outputs` in
/// the order of the product's output ports (the plan's outputs keep it).
///
/// `registry` is `None` for a product whose ports are all plain (JSON,
/// strings): only Avro and JSON Schema parts are looked up, and the caller
/// opens a registry whenever a port has one.
pub(crate) async fn check_gate(
    registry: Option<&dyn SchemaRegistry>,
    inputs: &[GatePort<'_>],
    outputs: &[GatePort<'_>],
    strategy: SubjectNameStrategy,
    auto_register: bool,
) -> Result<GatePlan, SchemaGateError> {
    let ports = outputs;
    let mut outputs = Vec::with_capacity(ports.len());
    let mut settled = Vec::new();
    for port in ports {
        let Some(schema) = port.schema else {
            outputs.push(None);
            continue;
        };
        let mut ids = [None, None];
        for (slot, (codec, is_key)) in parts(schema).enumerate() {
            // A plain part (JSON, string) has no subject.
            let (Some(subject), Some(registry)) =
                (part_subject(strategy, port.topic, codec, is_key), registry)
            else {
                continue;
            };
            let (id, version) = register_output(registry, &subject, codec, auto_register)
                .await
                .map_err(|e| output_error(e, port.name, &subject, auto_register))?;
            tracing::info!(port = %port.name, %subject, id, version, "output schema registered");
            ids[slot] = Some(id);
            settled.push(SettledSchema {
                port: port.name.to_string(),
                output: true,
                is_key,
                subject,
                id,
                version,
            });
        }
        outputs.push(Some(RegisteredPort {
            schema: schema.clone(),
            value_id: ids[0].unwrap_or_default(),
            key_id: ids[1],
        }));
    }

    let ports = inputs;
    let mut inputs = HashMap::new();
    for port in ports {
        let Some(schema) = port.schema else { continue };
        for (codec, is_key) in parts(schema) {
            let (Some(subject), Some(registry)) =
                (part_subject(strategy, port.topic, codec, is_key), registry)
            else {
                continue;
            };
            if let Some((id, version)) = check_input(registry, port.name, &subject, codec).await? {
                settled.push(SettledSchema {
                    port: port.name.to_string(),
                    output: false,
                    is_key,
                    subject,
                    id,
                    version,
                });
            }
        }
        inputs.insert(port.topic.to_string(), schema.clone());
    }
    Ok(GatePlan {
        outputs,
        inputs,
        settled,
    })
}

/// A port's parts: its value, then its key if it has one.
fn parts(schema: &PortSchema) -> impl Iterator<Item = (&Codec, bool)> {
    [(schema.value_codec(), false)]
        .into_iter()
        .chain(schema.key_codec().map(|k| (k, true)))
}

/// The subject of a part whose schema is in the registry; `None` for a
/// plain part.
pub(crate) fn part_subject(
    strategy: SubjectNameStrategy,
    topic: &str,
    codec: &Codec,
    is_key: bool,
) -> Option<String> {
    match codec {
        Codec::Avro(avro) => Some(subject_for(strategy, topic, avro, is_key)),
        Codec::JsonSchema(json) => Some(strategy.subject(topic, json.title(), is_key)),
        #[cfg(feature = "protobuf")]
        Codec::Protobuf(proto) => Some(strategy.subject(topic, proto.full_name(), is_key)),
        _ => None,
    }
}

/// Registers (or, with auto-registration off, finds) an output part's
/// schema under `subject`: its id and version.
pub(crate) async fn register_output(
    registry: &dyn SchemaRegistry,
    subject: &str,
    codec: &Codec,
    auto_register: bool,
) -> Result<(u32, u32), RegistryError> {
    match codec {
        Codec::JsonSchema(json) => {
            let definition = SchemaDefinition::new(SchemaType::Json, json.schema_json());
            let registered = if auto_register {
                registry.register_definition(subject, &definition).await?
            } else {
                registry.lookup_definition(subject, &definition, false).await?
            };
            Ok((registered.id, registered.version))
        }
        #[cfg(feature = "protobuf")]
        Codec::Protobuf(proto) => {
            let definition = SchemaDefinition::new(SchemaType::Protobuf, proto.schema_text())
                .with_references(register_imports(registry, proto, auto_register).await?);
            let registered = if auto_register {
                registry.register_definition(subject, &definition).await?
            } else {
                registry.lookup_definition(subject, &definition, false).await?
            };
            Ok((registered.id, registered.version))
        }
        codec => {
            let text = codec.avro().map_or("", |avro| avro.schema_json());
            let registered = if auto_register {
                registry.register(subject, text).await?
            } else {
                registry.lookup(subject, text).await?
            };
            Ok((registered.id, registered.version))
        }
    }
}

/// Registers the files a Protobuf schema imports (but the well-known types,
/// which every client has) each under the subject of its file name, as
/// Confluent's serializers do; the references to them.
#[cfg(feature = "protobuf")]
async fn register_imports(
    registry: &dyn SchemaRegistry,
    proto: &super::ProtobufCodec,
    auto_register: bool,
) -> Result<Vec<super::registry::SchemaReference>, RegistryError> {
    let mut references: Vec<super::registry::SchemaReference> = Vec::new();
    for (file, schema) in proto.dependencies() {
        // Dependencies come first, so each one's own imports are registered
        // already; it refers to those of them its file imports.
        let imports = super::parse_proto_schema(schema)
            .map(|f| f.dependency)
            .unwrap_or_default();
        let own = (references.iter())
            .filter(|r| imports.contains(&r.name))
            .cloned()
            .collect();
        let definition = SchemaDefinition::new(SchemaType::Protobuf, schema.as_str()).with_references(own);
        let registered = if auto_register {
            registry.register_definition(file, &definition).await?
        } else {
            registry.lookup_definition(file, &definition, false).await?
        };
        references.push(super::registry::SchemaReference::new(
            file.as_str(),
            file.as_str(),
            registered.version,
        ));
    }
    let direct = super::parse_proto_schema(proto.schema_text())
        .map(|f| f.dependency)
        .unwrap_or_default();
    references.retain(|r| direct.contains(&r.name));
    Ok(references)
}

fn output_error(err: RegistryError, port: &str, subject: &str, auto_register: bool) -> SchemaGateError {
    match err {
        RegistryError::Incompatible { messages, .. } => SchemaGateError::OutputIncompatible {
            port: port.to_string(),
            subject: subject.to_string(),
            messages,
        },
        RegistryError::SubjectNotFound { .. }
        | RegistryError::SchemaNotFound { .. }
        | RegistryError::SchemaNotInSubject { .. }
            if !auto_register =>
        {
            SchemaGateError::OutputNotRegistered {
                port: port.to_string(),
                subject: subject.to_string(),
            }
        }
        source => SchemaGateError::Registry {
            subject: subject.to_string(),
            source,
        },
    }
}

/// Checks that an input part's type can read the latest schema its writers
/// registered under `subject`: its id and version, or `None` when no writer
/// has registered one yet (records are then checked as they come).
async fn check_input(
    registry: &dyn SchemaRegistry,
    port: &str,
    subject: &str,
    codec: &Codec,
) -> Result<Option<(u32, u32)>, SchemaGateError> {
    let latest = match registry.schema_version(subject, VersionRef::Latest, false).await {
        Ok(latest) => latest,
        Err(RegistryError::SubjectNotFound { .. } | RegistryError::VersionNotFound { .. }) => {
            tracing::info!(%port, %subject, "no writer schema registered yet; records are checked as they come");
            return Ok(None);
        }
        Err(source) => {
            return Err(SchemaGateError::Registry {
                subject: subject.to_string(),
                source,
            })
        }
    };
    let incompatible = |reason: String| SchemaGateError::InputIncompatible {
        port: port.to_string(),
        subject: subject.to_string(),
        type_name: codec.type_name(),
        version: latest.version,
        id: latest.id,
        reason,
    };
    let writer = &latest.definition;
    let expected = match codec.format() {
        super::Format::JsonSchema => SchemaType::Json,
        super::Format::Protobuf => SchemaType::Protobuf,
        _ => SchemaType::Avro,
    };
    if writer.schema_type != expected {
        return Err(incompatible(format!(
            "the subject's latest schema is {}, and the port reads {expected}",
            writer.schema_type
        )));
    }
    match codec {
        Codec::JsonSchema(json) => json.can_read(&writer.schema).map_err(incompatible)?,
        #[cfg(feature = "protobuf")]
        Codec::Protobuf(proto) => {
            proto.can_read(&writer.schema).map_err(incompatible)?;
        }
        codec => {
            let Some(avro) = codec.avro() else { return Ok(None) };
            let parsed = Schema::parse_str(&writer.schema).map_err(|e| {
                incompatible(format!(
                    "the registered schema cannot be parsed: {}",
                    error_text(&e)
                ))
            })?;
            SchemaCompatibility::can_read(&parsed, avro.schema())
                .map_err(|e| incompatible(error_text(&e)))?;
        }
    }
    Ok(Some((latest.id, latest.version)))
}
