//! Emitting to typed ports: values (and keys) encoded in their port's
//! format, Avro ones in the Confluent wire format with the ids the
//! compatibility gate registered.

use std::any::{Any, TypeId};
use std::sync::Arc;

use super::super::EmitError;
use super::Context;
use crate::product::ProductDescriptor;
use crate::record::OutputRecord;
use crate::schema::{Codec, RegisteredPort};

/// By output port: its types, with ids 0 until the gate registers them.
pub(super) fn encoders(descriptor: &ProductDescriptor) -> Arc<[Option<RegisteredPort>]> {
    (descriptor.outputs.iter())
        .map(|p| {
            p.schema.clone().map(|schema| RegisteredPort {
                key_id: schema.key_codec().and_then(Codec::avro).map(|_| 0),
                schema,
                value_id: 0,
            })
        })
        .collect()
}

impl Context {
    /// Uses the schema ids the compatibility gate registered.
    pub(crate) fn set_encoders(&mut self, encoders: Vec<Option<RegisteredPort>>) {
        self.encoders = encoders.into();
    }

    /// The encoders in use, to hand to a new context.
    #[cfg(all(feature = "testing", feature = "state"))]
    pub(crate) fn encoders(&self) -> &[Option<RegisteredPort>] {
        &self.encoders
    }

    /// Raw bytes may go only to a port of raw bytes: a typed port's
    /// contract holds.
    pub(super) fn check_untyped(&self, port: &str, index: usize) -> Result<(), EmitError> {
        match self.encoders.get(index) {
            Some(Some(registered)) => Err(EmitError::AvroPort {
                port: port.to_string(),
                type_name: registered.schema.value_codec().type_name(),
                format: registered.schema.value_codec().format().name(),
            }),
            _ => Ok(()),
        }
    }

    /// Emits `value` to output port `port`, which carries values of type `V`
    /// (encoded in the port's format: Avro framed with the schema id
    /// registered at start, or JSON); `key`, if any, as raw bytes.
    ///
    /// A product declared with the DSL sends through its typed handles
    /// instead ([`Output::send`](crate::Output::send)), which the compiler checks.
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
    pub fn emit_value<V: Any>(
        &mut self,
        port: &str,
        key: Option<Vec<u8>>,
        value: &V,
    ) -> Result<(), EmitError> {
        let index = self.port_index(port)?;
        let registered = self.registered(port, index)?;
        if registered.schema.key_codec().is_some() {
            return Err(EmitError::KeyMismatch {
                port: port.to_string(),
                keyed: true,
            });
        }
        let bytes = encode_part(
            port,
            registered.schema.value_codec(),
            registered.value_id,
            value,
            "value",
        )?;
        self.pending.push((
            index,
            OutputRecord {
                key,
                ..OutputRecord::new(bytes)
            },
        ));
        Ok(())
    }

    /// Emits `value` with key `key` to keyed output port `port`.
    ///
    /// # Errors
    ///
    /// As [`emit_value`](Self::emit_value), and [`EmitError::KeyMismatch`] if
    /// the port has no key type.
    pub fn emit_keyed<K: Any, V: Any>(&mut self, port: &str, key: &K, value: &V) -> Result<(), EmitError> {
        let index = self.port_index(port)?;
        self.send_at(index, port, Some(key), value, None)
    }

    /// What a typed handle sends through: `key` (`None`, or a `()`, on a port
    /// without keys) and `value` to output port `index`, named `port`.
    pub(crate) fn send_at<K: Any, V: Any>(
        &mut self,
        index: usize,
        port: &str,
        key: Option<&K>,
        value: &V,
        timestamp: Option<i64>,
    ) -> Result<(), EmitError> {
        let registered = self.registered(port, index)?;
        let key = key.filter(|_| TypeId::of::<K>() != TypeId::of::<()>());
        let key = match (registered.schema.key_codec(), key) {
            (Some(codec), Some(key)) => Some(encode_part(
                port,
                codec,
                registered.key_id.unwrap_or_default(),
                key,
                "key",
            )?),
            (None, None) => None,
            (keyed, _) => {
                return Err(EmitError::KeyMismatch {
                    port: port.to_string(),
                    keyed: keyed.is_some(),
                })
            }
        };
        let bytes = encode_part(
            port,
            registered.schema.value_codec(),
            registered.value_id,
            value,
            "value",
        )?;
        let mut record = OutputRecord::new(bytes);
        record.key = key;
        record.timestamp = timestamp;
        self.pending.push((index, record));
        Ok(())
    }

    /// Emits a tombstone for `key` to the keyed port at `index`.
    pub(crate) fn send_tombstone_at<K: Any>(
        &mut self,
        index: usize,
        port: &str,
        key: &K,
    ) -> Result<(), EmitError> {
        let registered = self.registered(port, index)?;
        let Some(codec) = registered
            .schema
            .key_codec()
            .filter(|_| TypeId::of::<K>() != TypeId::of::<()>())
        else {
            return Err(EmitError::KeyMismatch {
                port: port.to_string(),
                keyed: false,
            });
        };
        let key = encode_part(port, codec, registered.key_id.unwrap_or_default(), key, "key")?;
        self.pending.push((index, OutputRecord::tombstone(key)));
        Ok(())
    }

    fn registered(&self, port: &str, index: usize) -> Result<&RegisteredPort, EmitError> {
        match self.encoders.get(index) {
            Some(Some(registered)) => Ok(registered),
            _ => Err(EmitError::NotAvro {
                port: port.to_string(),
            }),
        }
    }
}

/// `value` encoded by `codec` (framed with `id` if Avro), after checking its type.
fn encode_part<T: Any>(
    port: &str,
    codec: &Codec,
    id: u32,
    value: &T,
    part: &'static str,
) -> Result<Vec<u8>, EmitError> {
    if codec.type_id() != TypeId::of::<T>() {
        return Err(EmitError::WrongType {
            port: port.to_string(),
            part,
            expected: codec.type_name(),
            got: std::any::type_name::<T>(),
        });
    }
    codec
        .encode_payload(id, value)
        .map_err(|source| EmitError::Encode {
            port: port.to_string(),
            source,
        })
}
