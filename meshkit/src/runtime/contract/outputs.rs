//! Typed handles of a product's output ports: what a transform sends
//! through, checked by the compiler (the DSL generates one per port).

#[cfg(feature = "avro")]
use std::any::Any;
use std::fmt;
#[cfg(feature = "avro")]
use std::marker::PhantomData;

use super::{Context, EmitError};
use crate::record::OutputRecord;

#[cfg(feature = "avro")]
/// The typed handle of an output port whose keys are `K` (`()` on a port
/// without keys) and values `V`: a transform sends through it, and sending
/// another type does not compile.
///
/// The DSL generates one per `output(...)` as a field of the product's
/// outputs struct (`Self::OUT.spend`); written by hand, it is a constant
/// beside the descriptor, as [`StoreRef`](crate::state::StoreRef) is for
/// stores. That the port carries these types is checked when it sends.
///
/// # Examples
///
/// ```
/// use meshkit::{Context, Output, ProductDescriptor};
/// use meshkit::schema::PortSchema;
///
/// #[derive(serde::Serialize, serde::Deserialize)]
/// struct Spend {
///     cents: i64,
/// }
///
/// const SPEND: Output<String, Spend> = Output::new("spend");
///
/// let descriptor = ProductDescriptor::builder("sales", "spend")
///     .version("1.0.0")
///     .owner("team-sales")
///     .input("orders", "sales.orders")
///     .output_with("spend", "sales.spend", PortSchema::json::<Spend>().with_string_key())
///     .build()?;
/// let mut ctx = Context::new(&descriptor);
/// SPEND.send(&mut ctx, &"c-1".to_string(), &Spend { cents: 5 })?;
/// let sent = ctx.take_emitted();
/// assert_eq!(sent[0].1.key.as_deref(), Some(&b"c-1"[..]));
/// assert_eq!(sent[0].1.value.as_deref(), Some(&br#"{"cents":5}"#[..]));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct Output<K, V> {
    name: &'static str,
    /// Where the port is among the product's outputs, if known: saves a
    /// search by name per record.
    index: usize,
    _types: PhantomData<fn(&K, &V)>,
}

#[cfg(feature = "avro")]
impl<K, V> Output<K, V> {
    /// The handle of output port `name`.
    pub const fn new(name: &'static str) -> Self {
        Self::at(0, name)
    }

    /// The handle of output port `name`, declared at `index` among the
    /// product's outputs (what the DSL generates; a wrong index only costs a
    /// search by name).
    pub const fn at(index: usize, name: &'static str) -> Self {
        Self {
            name,
            index,
            _types: PhantomData,
        }
    }

    /// The port's name.
    pub const fn name(&self) -> &'static str {
        self.name
    }
}

#[cfg(feature = "avro")]
impl<K: Any, V: Any> Output<K, V> {
    /// Sends `value` with `key` (a `&()` on a port without keys), encoded in
    /// the port's formats, in the open transaction.
    ///
    /// # Errors
    ///
    /// An [`EmitError`] if the product has no such output port, the port
    /// carries other types (a handle written by hand), or the value cannot be
    /// encoded.
    pub fn send(&self, ctx: &mut Context, key: &K, value: &V) -> Result<(), EmitError> {
        let index = ctx.port_at(self.index, self.name)?;
        ctx.send_at(index, self.name, Some(key), value, None)
    }

    /// Sends a tombstone for `key` (the key, no value): on a compacted
    /// topic, the key's deletion. The port must be keyed.
    ///
    /// # Errors
    ///
    /// As [`send`](Self::send); [`EmitError::KeyMismatch`] on a port
    /// without keys.
    pub fn delete(&self, ctx: &mut Context, key: &K) -> Result<(), EmitError> {
        let index = ctx.port_at(self.index, self.name)?;
        ctx.send_tombstone_at(index, self.name, key)
    }

    /// As [`send`](Self::send), with the record's timestamp (milliseconds
    /// since the Unix epoch), e.g. a window's end.
    ///
    /// # Errors
    ///
    /// As [`send`](Self::send).
    pub fn send_at(&self, ctx: &mut Context, key: &K, value: &V, timestamp: i64) -> Result<(), EmitError> {
        let index = ctx.port_at(self.index, self.name)?;
        ctx.send_at(index, self.name, Some(key), value, Some(timestamp))
    }
}

#[cfg(feature = "avro")]
impl<V: Any> Output<(), V> {
    /// Sends `value` with no key.
    ///
    /// # Errors
    ///
    /// As [`send`](Self::send).
    pub fn send_value(&self, ctx: &mut Context, value: &V) -> Result<(), EmitError> {
        self.send(ctx, &(), value)
    }
}

/// The handle of an output port of raw bytes (declared without a `value`
/// type): what the DSL generates for it.
///
/// # Examples
///
/// ```
/// use meshkit::{Context, ProductDescriptor, RawOutput};
///
/// const AUDIT: RawOutput = RawOutput::new("audit");
///
/// let descriptor = ProductDescriptor::builder("sales", "audit")
///     .version("1.0.0")
///     .owner("team-sales")
///     .input("orders", "sales.orders")
///     .output("audit", "sales.audit")
///     .build()?;
/// let mut ctx = Context::new(&descriptor);
/// AUDIT.send(&mut ctx, Some(b"k"), b"seen")?;
/// assert_eq!(ctx.take_emitted()[0].1.value.as_deref(), Some(&b"seen"[..]));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Copy)]
pub struct RawOutput {
    name: &'static str,
    index: usize,
}

impl RawOutput {
    /// The handle of output port `name`.
    pub const fn new(name: &'static str) -> Self {
        Self::at(0, name)
    }

    /// The handle of output port `name`, declared at `index` among the
    /// product's outputs.
    pub const fn at(index: usize, name: &'static str) -> Self {
        Self { name, index }
    }

    /// The port's name.
    pub const fn name(&self) -> &'static str {
        self.name
    }

    /// Sends `value` with `key` as they are.
    ///
    /// # Errors
    ///
    /// An [`EmitError`] if the product has no such port, or it carries a
    /// typed value.
    pub fn send(&self, ctx: &mut Context, key: Option<&[u8]>, value: &[u8]) -> Result<(), EmitError> {
        let mut record = OutputRecord::new(value.to_vec());
        record.key = key.map(<[u8]>::to_vec);
        self.send_record(ctx, record)
    }

    /// Sends a whole record (key, value, headers, timestamp).
    ///
    /// # Errors
    ///
    /// As [`send`](Self::send).
    pub fn send_record(&self, ctx: &mut Context, record: OutputRecord) -> Result<(), EmitError> {
        ctx.emit_record_at(self.index, self.name, record)
    }
}

impl fmt::Debug for RawOutput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("RawOutput").field(&self.name).finish()
    }
}

#[cfg(feature = "avro")]
impl<K, V> Clone for Output<K, V> {
    fn clone(&self) -> Self {
        *self
    }
}

#[cfg(feature = "avro")]
impl<K, V> Copy for Output<K, V> {}

#[cfg(feature = "avro")]
impl<K, V> fmt::Debug for Output<K, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Output")
            .field("name", &self.name)
            .field("key", &std::any::type_name::<K>())
            .field("value", &std::any::type_name::<V>())
            .finish()
    }
}
