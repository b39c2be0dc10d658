//! The context a transform emits its outputs through.

use std::marker::PhantomData;
use std::sync::Arc;

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::error::EmitError;
use crate::product::ProductDescriptor;
use crate::record::OutputRecord;
use crate::state::{ChangelogWrite, StateError, StateManager, Store, WindowStore, Windows};

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
    state: Option<Arc<StateManager>>,
    partition: i32,
    changelog: Vec<ChangelogWrite>,
    windows: Arc<[Option<Windows>]>,
    dead_letter: Option<(String, String)>,
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
            state: None,
            partition: 0,
            changelog: Vec::new(),
            windows: descriptor.stores.iter().map(|s| s.window).collect(),
            dead_letter: None,
        }
    }

    /// A context whose stores live in memory, to unit-test a stateful
    /// transform by hand. Writes persist across records (as if each
    /// transaction committed).
    pub fn with_memory_state(descriptor: &ProductDescriptor) -> Self {
        let stores = descriptor.stores.iter().map(|s| s.name.clone()).collect();
        Self {
            state: Some(Arc::new(StateManager::in_memory(stores))),
            ..Self::new(descriptor)
        }
    }

    pub(crate) fn with_state(descriptor: &ProductDescriptor, state: Option<Arc<StateManager>>) -> Self {
        Self {
            state,
            ..Self::new(descriptor)
        }
    }

    /// Points the stores at the partition of the record about to be processed.
    pub(crate) fn bind(&mut self, partition: i32) {
        self.partition = partition;
    }

    /// Store `name` of the partition being processed.
    ///
    /// # Errors
    ///
    /// [`StateError::UnknownStore`] if the product declared no such store;
    /// [`StateError::NoState`] outside the runtime (see
    /// [`with_memory_state`](Context::with_memory_state)).
    pub fn store<K, V>(&mut self, name: &str) -> Result<Store<'_, K, V>, StateError>
    where
        K: Serialize + DeserializeOwned,
        V: Serialize + DeserializeOwned,
    {
        let manager = self.state.as_deref().ok_or(StateError::NoState)?;
        let index = manager.store_index(name)?;
        Ok(Store {
            manager,
            changelog: &mut self.changelog,
            partition: if manager.is_memory() { 0 } else { self.partition },
            index,
            _types: PhantomData,
        })
    }

    /// Windowed store `name` of the partition being processed.
    ///
    /// # Errors
    ///
    /// [`StateError::UnknownStore`] if the product declared no windowed store
    /// of that name; [`StateError::NoState`] outside the runtime.
    pub fn window_store<K, V>(&mut self, name: &str) -> Result<WindowStore<'_, K, V>, StateError>
    where
        K: Serialize + DeserializeOwned + Clone,
        V: Serialize + DeserializeOwned + Clone,
    {
        let manager = self.state.as_deref().ok_or(StateError::NoState)?;
        let index = manager.store_index(name)?;
        let Some(windows) = self.windows.get(index).copied().flatten() else {
            return Err(StateError::UnknownStore {
                name: format!("{name} (a plain store, not a windowed one)"),
                known: manager.store_names().to_vec(),
            });
        };
        Ok(WindowStore {
            store: Store {
                manager,
                changelog: &mut self.changelog,
                partition: if manager.is_memory() { 0 } else { self.partition },
                index,
                _types: PhantomData,
            },
            windows,
        })
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

    /// Takes the store writes made since the last call, for the changelog.
    pub(crate) fn take_changelog(&mut self) -> Vec<ChangelogWrite> {
        std::mem::take(&mut self.changelog)
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

    /// Drops what was emitted and written (the transform failed; the
    /// transaction's abort drops the store writes themselves).
    pub(crate) fn discard(&mut self) {
        self.pending.clear();
        self.changelog.clear();
        self.dead_letter = None;
    }
}
