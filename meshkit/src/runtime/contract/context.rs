//! The context a transform emits its outputs through.

use std::sync::Arc;

use super::EmitError;
use crate::product::ProductDescriptor;
use crate::record::OutputRecord;
#[cfg(feature = "avro")]
use crate::schema::RegisteredPort;

#[cfg(feature = "state")]
mod stores;
#[cfg(all(feature = "state", feature = "testing"))]
pub(crate) use stores::memory_state;
#[cfg(feature = "state")]
pub(crate) use stores::ttls;
#[cfg(feature = "avro")]
mod typed;

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
    timestamp: Option<i64>,
    #[cfg(feature = "state")]
    state: stores::ContextStores,
    dead_letter: Option<(String, String)>,
    /// By output port: its Avro types and registered ids (0 until registered).
    #[cfg(feature = "avro")]
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
            timestamp: None,
            #[cfg(feature = "state")]
            state: stores::ContextStores::new(descriptor, None),
            dead_letter: None,
            #[cfg(feature = "avro")]
            encoders: typed::encoders(descriptor),
        }
    }

    /// Points the stores at the partition of the record about to be
    /// processed, and notes its timestamp.
    pub(crate) fn bind(&mut self, partition: i32, timestamp: Option<i64>) {
        self.partition = partition;
        self.timestamp = timestamp;
    }

    /// The timestamp of the record being processed (its event time, in
    /// milliseconds since the Unix epoch), if it has one: what windowed
    /// stores count it by.
    pub fn timestamp(&self) -> Option<i64> {
        self.timestamp
    }

    /// Sends the record being processed to the dead-letter topic with
    /// `reason` (e.g. `late-record`) and `message`, in the same transaction as
    /// its offset, without failing it: what the transform emitted for it is
    /// kept. The record is not passed to the transform again.
    pub fn dead_letter(&mut self, reason: &str, message: impl Into<String>) {
        self.dead_letter = Some((reason.to_string(), message.into()));
    }

    /// Sends the record being processed to the dead-letter topic for a
    /// typed `reason`: its [`code`](DeadLetterReason::code) is the
    /// `meshkit.dlq.reason` header, its `Display` the message. Otherwise as
    /// [`dead_letter`](Self::dead_letter).
    ///
    /// # Examples
    ///
    /// ```
    /// use meshkit::{Context, DeadLetterReason};
    ///
    /// #[derive(Debug, thiserror::Error)]
    /// enum Refused {
    ///     #[error("order {0} has a negative amount")]
    ///     NegativeAmount(i64),
    /// }
    ///
    /// impl DeadLetterReason for Refused {
    ///     fn code(&self) -> &'static str {
    ///         match self {
    ///             Self::NegativeAmount(_) => "negative-amount",
    ///         }
    ///     }
    /// }
    ///
    /// fn check(order: i64, amount: i64, ctx: &mut Context) {
    ///     if amount < 0 {
    ///         ctx.dead_letter_for(&Refused::NegativeAmount(order));
    ///     }
    /// }
    /// # let _ = check;
    /// ```
    pub fn dead_letter_for<R: DeadLetterReason + ?Sized>(&mut self, reason: &R) {
        self.dead_letter(reason.code(), reason.to_string());
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
    /// [`EmitError::AvroPort`] if it carries a typed value.
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
    /// [`EmitError::AvroPort`] if the port carries a typed value: emit
    /// through [`emit_value`](Self::emit_value) so that the contract holds.
    pub fn emit_record(&mut self, port: &str, record: OutputRecord) -> Result<(), EmitError> {
        let index = self.port_index(port)?;
        self.push_raw(index, port, record)
    }

    /// What a [`RawOutput`](crate::RawOutput) handle sends through.
    pub(crate) fn emit_record_at(
        &mut self,
        hint: usize,
        port: &str,
        record: OutputRecord,
    ) -> Result<(), EmitError> {
        let index = self.port_at(hint, port)?;
        self.push_raw(index, port, record)
    }

    fn push_raw(&mut self, index: usize, port: &str, record: OutputRecord) -> Result<(), EmitError> {
        #[cfg(feature = "avro")]
        self.check_untyped(port, index)?;
        #[cfg(not(feature = "avro"))]
        let _ = port;
        self.pending.push((index, record));
        Ok(())
    }

    /// The output port at `hint` that a handle named `port` was made for,
    /// checked by name (a handle of another product's port is an error).
    pub(crate) fn port_at(&self, hint: usize, port: &str) -> Result<usize, EmitError> {
        match self.outputs.get(hint) {
            Some((name, _)) if name == port => Ok(hint),
            _ => self.port_index(port),
        }
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

/// Why a transform dead-letters a record, as a type (usually an enum, its
/// messages from `thiserror`): [`Context::dead_letter_for`] sends it, and the
/// test driver's dead letters compare with it
/// (`testing::DeadLetter::is`).
pub trait DeadLetterReason: std::fmt::Display {
    /// The reason's code, the dead letter's `meshkit.dlq.reason` header and
    /// metrics label: lowercase words joined by `-` (`negative-amount`).
    fn code(&self) -> &'static str;
}
