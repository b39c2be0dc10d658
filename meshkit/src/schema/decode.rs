//! The per-record path: decode input payloads with the writer schema their
//! id names, encode outputs with their registered id.

use std::collections::HashMap;
use std::sync::Arc;

use apache_avro::Schema;

use super::codec::error_text;
use super::registry::{SchemaDefinition, SchemaType};
use super::{
    wire, Codec, DecodeError, Decoded, EncodeError, ErasedCodec, PortSchema, RegistryError, SchemaRegistry,
};

/// How the payloads written with one schema id are decoded for one codec.
#[derive(Clone)]
enum Plan {
    /// Writer schema is the reader's own: straight into the type.
    Direct,
    /// Resolve from this writer schema.
    Resolve(Arc<Schema>),
    /// This id can never be decoded as the codec's type.
    Reject(DecodeError),
}

/// Whether a JSON Schema or Protobuf part's records written with one schema
/// id can be read as the port's type (`Err`: the dead letter's reason); for
/// Protobuf, the message indexes its records must carry.
type CheckedPlan = Result<Vec<i32>, DecodeError>;

/// Decodes the records of every input port. Owned by the processing loop.
///
/// Writer schemas are fetched once per id and kept for the life of the
/// runtime, so a registry that goes away does not stop records whose ids
/// were seen; only new ids wait for it.
pub(crate) struct Decoder {
    /// `None` when every port is plain (nothing is framed with an id).
    registry: Option<Arc<dyn SchemaRegistry>>,
    ports: HashMap<String, PortSchema>,
    schemas: HashMap<u32, Result<Arc<Schema>, DecodeError>>,
    /// By input topic, then (is key, schema id): looked up per record without allocating.
    plans: HashMap<String, HashMap<(bool, u32), Plan>>,
    /// JSON Schema and Protobuf parts: by input topic, then (is key, schema
    /// id), whether the writer schema can be read as the port's type.
    checked_plans: HashMap<String, HashMap<(bool, u32), CheckedPlan>>,
    max_bytes: usize,
    /// Topics of table ports, where a record without a value is a
    /// tombstone, not a dead letter.
    tombstones: std::collections::HashSet<String>,
}

/// A decoded record: its value and, on a keyed port, its key.
pub(crate) struct DecodedRecord {
    pub(crate) value: Option<Decoded>,
    pub(crate) key: Option<Decoded>,
    pub(crate) schema_id: Option<u32>,
}

/// A decoding failure: the record's dead-letter reason, or the registry
/// being unreachable (the record must wait, not be dead-lettered).
pub(crate) enum DecodeFailure {
    Poison {
        error: DecodeError,
        key: bool,
        schema_id: Option<u32>,
    },
    Registry(RegistryError),
}

impl Decoder {
    /// A decoder for `ports` (input topic → its schema).
    pub(crate) fn new(
        registry: Option<Arc<dyn SchemaRegistry>>,
        ports: HashMap<String, PortSchema>,
        max_bytes: usize,
    ) -> Self {
        Self {
            registry,
            ports,
            schemas: HashMap::new(),
            plans: HashMap::new(),
            checked_plans: HashMap::new(),
            max_bytes,
            tombstones: std::collections::HashSet::new(),
        }
    }

    /// Takes a record without a value on `topics` (table ports) for a
    /// tombstone: decoded with its key and no value.
    pub(crate) fn with_tombstones(mut self, topics: impl IntoIterator<Item = String>) -> Self {
        self.tombstones.extend(topics);
        self
    }

    /// A decoder of the same ports for another processing thread, with
    /// caches of its own (each thread fetches a new writer schema once).
    pub(crate) fn for_thread(&self) -> Self {
        Self::new(self.registry.clone(), self.ports.clone(), self.max_bytes)
            .with_tombstones(self.tombstones.iter().cloned())
    }

    /// Whether records of `topic` are decoded.
    pub(crate) fn decodes(&self, topic: &str) -> bool {
        self.ports.contains_key(topic)
    }

    /// Decodes a record of `topic`.
    pub(crate) async fn decode(
        &mut self,
        topic: &str,
        key: Option<&[u8]>,
        value: Option<&[u8]>,
    ) -> Result<DecodedRecord, DecodeFailure> {
        let Some(port) = self.ports.get(topic).cloned() else {
            return Ok(DecodedRecord {
                value: None,
                key: None,
                schema_id: None,
            });
        };
        let size = key.map_or(0, <[u8]>::len) + value.map_or(0, <[u8]>::len);
        if size > self.max_bytes {
            return Err(DecodeFailure::Poison {
                error: DecodeError::Oversized {
                    len: size,
                    max: self.max_bytes,
                },
                key: false,
                schema_id: None,
            });
        }
        let decoded_key = match port.key_codec() {
            None => None,
            Some(codec) => {
                let Some(bytes) = key else {
                    return Err(DecodeFailure::Poison {
                        error: DecodeError::MissingKey,
                        // Its reason already says "key".
                        key: false,
                        schema_id: None,
                    });
                };
                Some(self.decode_part(topic, true, codec, bytes).await?.0)
            }
        };
        let Some(bytes) = value else {
            if self.tombstones.contains(topic) {
                return Ok(DecodedRecord {
                    value: None,
                    key: decoded_key,
                    schema_id: None,
                });
            }
            return Err(DecodeFailure::Poison {
                error: DecodeError::MissingValue,
                key: false,
                schema_id: None,
            });
        };
        let (decoded, id) = self.decode_part(topic, false, port.value_codec(), bytes).await?;
        Ok(DecodedRecord {
            value: Some(decoded),
            key: decoded_key,
            schema_id: id,
        })
    }

    /// Decodes a key or a value; the schema id it was framed with, for Avro.
    async fn decode_part(
        &mut self,
        topic: &str,
        is_key: bool,
        codec: &Codec,
        payload: &[u8],
    ) -> Result<(Decoded, Option<u32>), DecodeFailure> {
        match codec {
            Codec::Avro(codec) => {
                let (value, id) = self.decode_avro(topic, is_key, codec, payload).await?;
                Ok((value, Some(id)))
            }
            Codec::Plain(codec) => {
                let value = codec.decode(payload).map_err(|error| DecodeFailure::Poison {
                    error,
                    key: is_key,
                    schema_id: None,
                })?;
                Ok((value, None))
            }
            Codec::JsonSchema(json) => {
                let poison = |error, schema_id| DecodeFailure::Poison {
                    error,
                    key: is_key,
                    schema_id,
                };
                let (id, body) = wire::split(payload).map_err(|e| poison(e, None))?;
                self.checked_plan(topic, is_key, codec, id)
                    .await?
                    .map_err(|e| poison(e, Some(id)))?;
                let value = json.decode_body(body).map_err(|e| poison(e, Some(id)))?;
                Ok((value, Some(id)))
            }
            #[cfg(feature = "protobuf")]
            Codec::Protobuf(proto) => {
                let poison = |error, schema_id| DecodeFailure::Poison {
                    error,
                    key: is_key,
                    schema_id,
                };
                let (id, body) = wire::split(payload).map_err(|e| poison(e, None))?;
                let expected = self
                    .checked_plan(topic, is_key, codec, id)
                    .await?
                    .map_err(|e| poison(e, Some(id)))?;
                let (indexes, body) = super::read_message_indexes(body).map_err(|e| poison(e, Some(id)))?;
                if indexes != expected {
                    // Another message of the writer's file: the topic
                    // carries more than one type.
                    let error = DecodeError::Incompatible {
                        reason: format!(
                            "the record is the message at indexes {indexes:?} of schema {id}; \
                             `{}` is the one at {expected:?}",
                            proto.full_name()
                        ),
                    };
                    return Err(poison(error, Some(id)));
                }
                let value = proto.decode_body(body).map_err(|e| poison(e, Some(id)))?;
                Ok((value, Some(id)))
            }
        }
    }

    /// Whether records of `topic` framed with schema `id` can be read as
    /// `codec`'s type (JSON Schema or Protobuf), and for Protobuf the
    /// message indexes of the type's message in the writer's file. Asked of
    /// the registry once per id.
    async fn checked_plan(
        &mut self,
        topic: &str,
        is_key: bool,
        codec: &Codec,
        id: u32,
    ) -> Result<CheckedPlan, DecodeFailure> {
        if let Some(plan) = (self.checked_plans.get(topic)).and_then(|plans| plans.get(&(is_key, id))) {
            return Ok(plan.clone());
        }
        let Some(registry) = &self.registry else {
            return Ok(Err(DecodeError::UnknownSchemaId { id }));
        };
        let plan = match registry.schema_definition_by_id(id).await {
            Ok(writer) => check_writer(codec, id, &writer),
            // Not cached: a registry that lags behind its topic may know the
            // id on the next record.
            Err(RegistryError::SchemaNotFound { .. }) => return Ok(Err(DecodeError::UnknownSchemaId { id })),
            Err(other) => return Err(DecodeFailure::Registry(other)),
        };
        self.checked_plans
            .entry(topic.to_string())
            .or_default()
            .insert((is_key, id), plan.clone());
        Ok(plan)
    }

    async fn decode_avro(
        &mut self,
        topic: &str,
        is_key: bool,
        codec: &Arc<dyn ErasedCodec>,
        payload: &[u8],
    ) -> Result<(Decoded, u32), DecodeFailure> {
        let poison = |error, schema_id| DecodeFailure::Poison {
            error,
            key: is_key,
            schema_id,
        };
        let (id, body) = wire::split(payload).map_err(|e| poison(e, None))?;
        let plan = self.plan(topic, is_key, codec, id).await?;
        let (value, rest) = match plan {
            Plan::Direct => codec.decode_direct(body),
            Plan::Resolve(writer) => codec.decode_resolving(&writer, body),
            Plan::Reject(error) => Err(error),
        }
        .map_err(|e| poison(e, Some(id)))?;
        if rest > 0 {
            return Err(poison(DecodeError::TrailingBytes { extra: rest }, Some(id)));
        }
        Ok((value, id))
    }

    async fn plan(
        &mut self,
        topic: &str,
        is_key: bool,
        codec: &Arc<dyn ErasedCodec>,
        id: u32,
    ) -> Result<Plan, DecodeFailure> {
        if let Some(plan) = self.plans.get(topic).and_then(|plans| plans.get(&(is_key, id))) {
            return Ok(plan.clone());
        }
        let writer = match self.schemas.get(&id) {
            Some(known) => known.clone(),
            None => {
                let Some(registry) = &self.registry else {
                    return Ok(Plan::Reject(DecodeError::UnknownSchemaId { id }));
                };
                let fetched =
                    match registry.schema_by_id(id).await {
                        Ok(text) => Schema::parse_str(&text).map(Arc::new).map_err(|e| {
                            DecodeError::InvalidWriterSchema {
                                id,
                                reason: error_text(&e),
                            }
                        }),
                        // Not cached: a registry that lags behind its topic may
                        // know the id on the next record.
                        Err(RegistryError::SchemaNotFound { .. }) => {
                            return Ok(Plan::Reject(DecodeError::UnknownSchemaId { id }));
                        }
                        Err(other) => return Err(DecodeFailure::Registry(other)),
                    };
                self.schemas.insert(id, fetched.clone());
                fetched
            }
        };
        let plan = match writer {
            Err(error) => Plan::Reject(error),
            Ok(writer) if writer.canonical_form() == codec.canonical() => Plan::Direct,
            Ok(writer) => match apache_avro::schema_compatibility::SchemaCompatibility::can_read(
                &writer,
                codec.schema(),
            ) {
                Ok(_) => Plan::Resolve(writer),
                Err(e) => Plan::Reject(DecodeError::Incompatible {
                    reason: format!("schema {id} as `{}`: {}", codec.type_name(), error_text(&e)),
                }),
            },
        };
        self.plans
            .entry(topic.to_string())
            .or_default()
            .insert((is_key, id), plan.clone());
        Ok(plan)
    }
}

/// Whether `writer`, the schema of id `id`, can be read as `codec`'s type
/// (a JSON Schema or Protobuf part).
fn check_writer(codec: &Codec, id: u32, writer: &SchemaDefinition) -> CheckedPlan {
    let expected = match codec.format() {
        super::Format::Protobuf => SchemaType::Protobuf,
        super::Format::JsonSchema => SchemaType::Json,
        _ => SchemaType::Avro,
    };
    if writer.schema_type != expected {
        return Err(DecodeError::Incompatible {
            reason: format!("schema {id} is {}, not {expected}", writer.schema_type),
        });
    }
    let checked = match codec {
        Codec::JsonSchema(json) => json.can_read(&writer.schema).map(|()| Vec::new()),
        #[cfg(feature = "protobuf")]
        Codec::Protobuf(proto) => proto.can_read(&writer.schema),
        _ => Ok(Vec::new()),
    };
    checked.map_err(|reason| DecodeError::Incompatible {
        reason: format!("schema {id} as `{}`: {reason}", codec.type_name()),
    })
}

/// Encodes `value` with `codec`, framed with schema `id`.
pub(crate) fn encode_framed(
    codec: &Arc<dyn ErasedCodec>,
    id: u32,
    value: &dyn std::any::Any,
) -> Result<Vec<u8>, EncodeError> {
    let mut out = Vec::with_capacity(64);
    wire::write_header(&mut out, id);
    codec.encode(value, &mut out)?;
    Ok(out)
}
