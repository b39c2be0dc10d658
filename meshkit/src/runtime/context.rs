//! The context a transform emits its outputs through.

use std::sync::Arc;

use crate::error::EmitError;
use crate::product::ProductDescriptor;
use crate::record::OutputRecord;

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
        }
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
    /// [`EmitError::UnknownPort`] if the product has no such output port.
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
    pub fn emit_record(&mut self, port: &str, record: OutputRecord) -> Result<(), EmitError> {
        let index = self.port_index(port)?;
        self.pending.push((index, record));
        Ok(())
    }

    /// Takes what was emitted since the last call, as `(port, record)` pairs.
    pub fn take_emitted(&mut self) -> Vec<(String, OutputRecord)> {
        self.pending
            .drain(..)
            .map(|(i, r)| (self.outputs[i].0.clone(), r))
            .collect()
    }

    /// Takes what was emitted as `(topic, record)` pairs, for the runtime.
    pub(crate) fn drain_to_topics(&mut self) -> impl Iterator<Item = (&str, OutputRecord)> + '_ {
        let outputs = &self.outputs;
        self.pending
            .drain(..)
            .map(move |(i, r)| (outputs[i].1.as_str(), r))
    }

    /// Drops what was emitted (the transform failed).
    pub(crate) fn discard(&mut self) {
        self.pending.clear();
    }
}
