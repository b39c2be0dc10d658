//! Emitting to typed ports: values (and keys) encoded in the Confluent wire
//! format with the ids the compatibility gate registered.

use std::sync::Arc;

use super::super::EmitError;
use super::Context;
use crate::product::ProductDescriptor;
use crate::record::OutputRecord;
use crate::schema::{encode_framed, AvroType, PortSchema, RegisteredPort};

/// By output port: its types, with ids 0 until the gate registers them.
pub(super) fn encoders(descriptor: &ProductDescriptor) -> Arc<[Option<RegisteredPort>]> {
    (descriptor.outputs.iter())
        .map(|p| {
            p.schema.clone().map(|schema| RegisteredPort {
                key_id: schema.key_codec().map(|_| 0),
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

    /// Raw bytes may go only to a port of raw bytes: a typed port's
    /// contract holds.
    pub(super) fn check_untyped(&self, port: &str, index: usize) -> Result<(), EmitError> {
        match self.encoders.get(index) {
            Some(Some(registered)) => Err(EmitError::AvroPort {
                port: port.to_string(),
                type_name: registered.schema.value_codec().type_name(),
            }),
            _ => Ok(()),
        }
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
}
