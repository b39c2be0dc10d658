//! The context a transform emits its outputs through.

use std::sync::Arc;

use super::EmitError;
use crate::product::ProductDescriptor;
use crate::record::OutputRecord;
use crate::schema::{encode_framed, AvroType, PortSchema, RegisteredPort};

#[cfg(feature = "state")]
mod stores;

/// Handed to [`DataProduct::process`](crate::DataProduct::process): the
/// product emits its outputs through it.
///
/// Outputs of one input record are held until the transform returns `Ok`, then
/// produced in the open transaction; if it returns an error, they are dropped
/// and the transaction is aborted, so no partial output is ever visible.
///
/// # Examples
///
/// A context can be made by hand to unit-test a transform:
///
/// ```
/// use meshkit::{Context, ProductDescriptor};
///
/// let descriptor = ProductDescriptor::builder("sales", "orders")
///     .version("1.0.0")
///     .owner("team-sales")
///     .input("orders", "sales.orders")
///     .output("enriched", "sales.orders.enriched")
///     .build()?;
/// let mut ctx = Context::new(&descriptor);
/// ctx.emit("enriched", Some(b"k".to_vec()), b"v".to_vec())?;
/// assert!(ctx.emit("nope", None, b"v".to_vec()).is_err());
/// let emitted = ctx.take_emitted();
/// assert_eq!(emitted.len(), 1);
/// assert_eq!(emitted[0].0, "enriched");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct Context {
    /// Output port names and their topics, in declaration order.
    outputs: Arc<[(String, String)]>,
    pending: Vec<(usize, OutputRecord)>,
    partition: i32,
    #[cfg(feature = "state")]
    state: stores::ContextStores,
    dead_letter: Option<(String, String)>,
    /// By output port: its Avro types and registered ids (0 until registered).
    encoders: Arc<[Option<RegisteredPort>]>,
}

impl Context {
    /// A context for `descriptor`'s output ports.
    pub fn new(descriptor: &ProductDescriptor) -> Self {
        Self {
            outputs: descriptor
                .outputs
                .iter()
                .map(|p| (p.name.clone(), p.topic.clone()))
                .collect(),
            pending: Vec::new(),
            partition: 0,
            #[cfg(feature = "state")]
            state: stores::ContextStores::new(descriptor, None),
            dead_letter: None,
            encoders: descriptor
                .outputs
                .iter()
                .map(|p| {
                    p.schema.clone().map(|schema| RegisteredPort {
                        key_id: schema.key_codec().map(|_| 0),
                        schema,
                        value_id: 0,
                    })
                })
                .collect(),
        }
    }

    /// Uses the schema ids the compatibility gate registered.
    pub(crate) fn set_encoders(&mut self, encoders: Vec<Option<RegisteredPort>>) {
        self.encoders = encoders.into();
    }

    /// Points the stores at the partition of the record about to be processed.
    pub(crate) fn bind(&mut self, partition: i32) {
        self.partition = partition;
    }

    /// Sends the record being processed to the dead-letter topic with
    /// `reason` (e.g. `late-record`) and `message`, in the same transaction as
    /// its offset, without failing it: what the transform emitted for it is
    /// kept. The record is not passed to the transform again.
    pub fn dead_letter(&mut self, reason: &str, message: impl Into<String>) {
        self.dead_letter = Some((reason.to_string(), message.into()));
    }

    /// Takes the dead-letter request made for the current record.
    pub(crate) fn take_dead_letter(&mut self) -> Option<(String, String)> {
        self.dead_letter.take()
    }

    fn port_index(&self, port: &str) -> Result<usize, EmitError> {
        self.outputs
            .iter()
            .position(|(name, _)| name == port)
            .ok_or_else(|| EmitError::UnknownPort {
                port: port.to_string(),
                known: self.outputs.iter().map(|(n, _)| n.clone()).collect(),
            })
    }

    /// Emits `value` with `key` to output port `port`.
    ///
    /// # Errors
    ///
    /// [`EmitError::UnknownPort`] if the product has no such output port;
    /// [`EmitError::AvroPort`] if it carries an Avro type.
    pub fn emit(
        &mut self,
        port: &str,
        key: Option<Vec<u8>>,
        value: impl Into<Vec<u8>>,
    ) -> Result<(), EmitError> {
        let record = OutputRecord {
            key,
            ..OutputRecord::new(value)
        };
        self.emit_record(port, record)
    }

    /// Emits a full record (key, value, headers, timestamp) to `port`.
    ///
    /// # Errors
    ///
    /// [`EmitError::UnknownPort`] if the product has no such output port.
    ///
    /// [`EmitError::AvroPort`] if the port carries an Avro type: emit
    /// through [`emit_value`](Self::emit_value) so that the contract holds.
    pub fn emit_record(&mut self, port: &str, record: OutputRecord) -> Result<(), EmitError> {
        let index = self.port_index(port)?;
        if let Some(Some(registered)) = self.encoders.get(index) {
            return Err(EmitError::AvroPort {
                port: port.to_string(),
                type_name: registered.schema.value_codec().type_name(),
            });
        }
        self.pending.push((index, record));
        Ok(())
    }

    /// Emits `value` to output port `port`, which carries Avro values of type
    /// `V`, encoded in the Confluent wire format with the schema id registered
    /// at start; `key`, if any, as raw bytes.
    ///
    /// # Errors
    ///
    /// An [`EmitError`] if there is no such port, it carries another type or
    /// raw bytes, or it is keyed (use [`emit_keyed`](Self::emit_keyed)).
    ///
    /// # Examples
    ///
    /// ```
    /// use apache_avro::AvroSchema;
    /// use meshkit::{Context, ProductDescriptor};
    ///
    /// #[derive(AvroSchema, serde::Serialize, serde::Deserialize)]
    /// struct Total {
    ///     customer: String,
    ///     cents: i64,
    /// }
    ///
    /// let descriptor = ProductDescriptor::builder("sales", "totals")
    ///     .version("1.0.0")
    ///     .owner("team-sales")
    ///     .input("orders", "sales.orders")
    ///     .output_avro::<Total>("totals", "sales.totals")
    ///     .build()?;
    /// let mut ctx = Context::new(&descriptor);
    /// ctx.emit_value("totals", Some(b"c1".to_vec()), &Total { customer: "c1".into(), cents: 5 })?;
    /// assert!(ctx.emit("totals", None, b"raw".to_vec()).is_err());
    /// let emitted = ctx.take_emitted();
    /// assert_eq!(emitted[0].1.value.as_deref().unwrap()[0], 0, "Confluent magic byte");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn emit_value<V: AvroType>(
        &mut self,
        port: &str,
        key: Option<Vec<u8>>,
        value: &V,
    ) -> Result<(), EmitError> {
        let (index, schema, id, key_id) = self.typed_port::<V>(port)?;
        if key_id.is_some() {
            return Err(EmitError::KeyMismatch {
                port: port.to_string(),
                keyed: true,
            });
        }
        let bytes = encode_framed(schema.value_codec(), id, value).map_err(|source| EmitError::Encode {
            port: port.to_string(),
            source,
        })?;
        self.pending.push((
            index,
            OutputRecord {
                key,
                ..OutputRecord::new(bytes)
            },
        ));
        Ok(())
    }

    /// Emits `value` with Avro key `key` to keyed output port `port`.
    ///
    /// # Errors
    ///
    /// As [`emit_value`](Self::emit_value), and [`EmitError::KeyMismatch`] if
    /// the port has no key type.
    pub fn emit_keyed<K: AvroType, V: AvroType>(
        &mut self,
        port: &str,
        key: &K,
        value: &V,
    ) -> Result<(), EmitError> {
        let (index, schema, id, key_id) = self.typed_port::<V>(port)?;
        let (Some(key_codec), Some(key_id)) = (schema.key_codec(), key_id) else {
            return Err(EmitError::KeyMismatch {
                port: port.to_string(),
                keyed: false,
            });
        };
        if key_codec.type_id() != std::any::TypeId::of::<K>() {
            return Err(EmitError::WrongType {
                port: port.to_string(),
                part: "key",
                expected: key_codec.type_name(),
                got: std::any::type_name::<K>(),
            });
        }
        let encode_error = |source| EmitError::Encode {
            port: port.to_string(),
            source,
        };
        let key = encode_framed(key_codec, key_id, key).map_err(encode_error)?;
        let bytes = encode_framed(schema.value_codec(), id, value).map_err(encode_error)?;
        self.pending.push((index, OutputRecord::new(bytes).with_key(key)));
        Ok(())
    }

    fn typed_port<V: AvroType>(
        &self,
        port: &str,
    ) -> Result<(usize, PortSchema, u32, Option<u32>), EmitError> {
        let index = self.port_index(port)?;
        let Some(Some(RegisteredPort {
            schema,
            value_id: id,
            key_id,
        })) = self.encoders.get(index)
        else {
            return Err(EmitError::NotAvro {
                port: port.to_string(),
            });
        };
        if schema.value_type() != std::any::TypeId::of::<V>() {
            return Err(EmitError::WrongType {
                port: port.to_string(),
                part: "value",
                expected: schema.value_codec().type_name(),
                got: std::any::type_name::<V>(),
            });
        }
        Ok((index, schema.clone(), *id, *key_id))
    }

    /// Takes what was emitted since the last call, as `(port, record)` pairs.
    pub fn take_emitted(&mut self) -> Vec<(String, OutputRecord)> {
        self.pending
            .drain(..)
            .map(|(i, r)| (self.outputs[i].0.clone(), r))
            .collect()
    }

    /// Takes what was emitted as `(output port index, topic, record)`, for the runtime.
    pub(crate) fn drain_to_topics(&mut self) -> impl Iterator<Item = (usize, &str, OutputRecord)> + '_ {
        let outputs = &self.outputs;
        self.pending
            .drain(..)
            .map(move |(i, r)| (i, outputs[i].1.as_str(), r))
    }

    /// Drops what was emitted and written (the transform failed; the
    /// transaction's abort drops the store writes themselves).
    pub(crate) fn discard(&mut self) {
        self.pending.clear();
        #[cfg(feature = "state")]
        self.state.discard();
        self.dead_letter = None;
    }
}
