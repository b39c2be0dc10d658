//! A context's stores: the partition's stores a transform opens, and the
//! writes it made, for the changelog.

use std::marker::PhantomData;
use std::sync::Arc;

use serde::de::DeserializeOwned;
use serde::Serialize;

use super::Context;
use crate::product::ProductDescriptor;
use crate::stores::{
    ChangelogWrite, SessionStore, SlidingStore, StateError, StateManager, Store, WindowStore,
};
use crate::window::{WindowKind, Windows};

/// In-memory stores for `descriptor`'s declarations, partition 0 open.
pub(crate) fn memory_state(descriptor: &ProductDescriptor) -> StateManager {
    StateManager::in_memory(descriptor.stores.iter().map(|s| s.name.clone()).collect())
        .with_ttls(ttls(descriptor))
}

/// Each declared store's time to live, by index.
pub(crate) fn ttls(descriptor: &ProductDescriptor) -> Vec<Option<crate::timer::Ttl>> {
    descriptor.stores.iter().map(|s| s.ttl).collect()
}

/// What a context keeps of the product's stores.
#[derive(Debug)]
pub(super) struct ContextStores {
    manager: Option<Arc<StateManager>>,
    changelog: Vec<ChangelogWrite>,
    /// By store index: its windows, for a windowed store.
    windows: Arc<[Option<Windows>]>,
}

impl ContextStores {
    pub(super) fn new(descriptor: &ProductDescriptor, manager: Option<Arc<StateManager>>) -> Self {
        Self {
            manager,
            changelog: Vec::new(),
            windows: descriptor.stores.iter().map(|s| s.window).collect(),
        }
    }
}

impl ContextStores {
    /// Drops the writes not yet taken for the changelog.
    pub(super) fn discard(&mut self) {
        self.changelog.clear();
    }
}

impl Context {
    /// A context whose stores live in memory, to unit-test a stateful
    /// transform by hand. Writes persist across records (as if each
    /// transaction committed).
    pub fn with_memory_state(descriptor: &ProductDescriptor) -> Self {
        Self {
            state: ContextStores::new(descriptor, Some(Arc::new(memory_state(descriptor)))),
            ..Self::new(descriptor)
        }
    }

    pub(crate) fn with_state(descriptor: &ProductDescriptor, state: Option<Arc<StateManager>>) -> Self {
        Self {
            state: ContextStores::new(descriptor, state),
            ..Self::new(descriptor)
        }
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
        let manager = self.state.manager.as_deref().ok_or(StateError::NoState)?;
        let index = manager.store_index(name)?;
        Ok(Store {
            manager,
            changelog: &mut self.state.changelog,
            partition: if manager.is_memory() { 0 } else { self.partition },
            index,
            _types: PhantomData,
        })
    }

    /// Windowed store `name` of the partition being processed (tumbling or
    /// hopping windows).
    ///
    /// # Errors
    ///
    /// [`StateError::UnknownStore`] if the product declared no windowed store
    /// of that name; [`StateError::WrongWindowKind`] if it holds sliding or
    /// session windows; [`StateError::NoState`] outside the runtime.
    pub fn window_store<K, V>(&mut self, name: &str) -> Result<WindowStore<'_, K, V>, StateError>
    where
        K: Serialize + DeserializeOwned + Clone,
        V: Serialize + DeserializeOwned + Clone,
    {
        let (store, windows) = self.windowed(name, WindowKind::Time)?;
        Ok(WindowStore { store, windows })
    }

    /// Session-window store `name` of the partition being processed.
    ///
    /// # Errors
    ///
    /// As [`window_store`](Self::window_store), for a store declared with
    /// [`Windows::session`].
    pub fn session_store<K, V>(&mut self, name: &str) -> Result<SessionStore<'_, K, V>, StateError>
    where
        K: Serialize + DeserializeOwned + Clone,
        V: Serialize + DeserializeOwned + Clone,
    {
        let (store, windows) = self.windowed(name, WindowKind::Session)?;
        Ok(SessionStore { store, windows })
    }

    /// Sliding-window store `name` of the partition being processed.
    ///
    /// # Errors
    ///
    /// As [`window_store`](Self::window_store), for a store declared with
    /// [`Windows::sliding`].
    pub fn sliding_store<K, V>(&mut self, name: &str) -> Result<SlidingStore<'_, K, V>, StateError>
    where
        K: Serialize + DeserializeOwned + Clone,
        V: Serialize + DeserializeOwned + Clone,
    {
        let (store, windows) = self.windowed(name, WindowKind::Sliding)?;
        Ok(SlidingStore { store, windows })
    }

    /// Windowed store `name` as a typed store, checked to hold `kind` windows.
    fn windowed<K, V>(
        &mut self,
        name: &str,
        kind: WindowKind,
    ) -> Result<(Store<'_, K, V>, Windows), StateError>
    where
        K: Serialize + DeserializeOwned,
        V: Serialize + DeserializeOwned,
    {
        let manager = self.state.manager.as_deref().ok_or(StateError::NoState)?;
        let index = manager.store_index(name)?;
        let Some(windows) = self.state.windows.get(index).copied().flatten() else {
            return Err(StateError::UnknownStore {
                name: format!("{name} (a plain store, not a windowed one)"),
                known: manager.store_names().to_vec(),
            });
        };
        if windows.kind != kind {
            return Err(StateError::WrongWindowKind {
                store: name.to_string(),
                declared: windows.kind.name(),
                open_with: open_with(windows.kind),
            });
        }
        let store = Store {
            manager,
            changelog: &mut self.state.changelog,
            partition: if manager.is_memory() { 0 } else { self.partition },
            index,
            _types: PhantomData,
        };
        Ok((store, windows))
    }

    /// Notes the timestamp of the record about to be processed: its task's
    /// stream time moves on (stores expiring on stream time follow it).
    pub(crate) fn observe(&mut self, timestamp: Option<i64>) {
        if let (Some(manager), Some(timestamp)) = (&self.state.manager, timestamp) {
            let partition = if manager.is_memory() { 0 } else { self.partition };
            manager.observe(partition, timestamp);
        }
    }

    /// Removes the due entries of the bound task's expiring stores in the
    /// open transaction, their tombstones going with this context's
    /// changelog writes. Returns how many it removed.
    pub(crate) fn expire_due(&mut self) -> Result<usize, StateError> {
        let Some(manager) = self.state.manager.as_deref() else {
            return Ok(0);
        };
        let partition = if manager.is_memory() { 0 } else { self.partition };
        manager.expire_due(partition, &mut self.state.changelog)
    }

    /// Takes the store writes made since the last call, for the changelog.
    pub(crate) fn take_changelog(&mut self) -> Vec<ChangelogWrite> {
        std::mem::take(&mut self.state.changelog)
    }

    /// Gives back the (drained) vector [`take_changelog`](Self::take_changelog)
    /// took, so that the next record's writes reuse its allocation.
    pub(crate) fn return_changelog(&mut self, mut spare: Vec<ChangelogWrite>) {
        if self.state.changelog.is_empty() {
            spare.clear();
            self.state.changelog = spare;
        }
    }
}

/// The context method that opens a store of `kind` windows.
fn open_with(kind: WindowKind) -> &'static str {
    match kind {
        WindowKind::Sliding => "sliding_store",
        WindowKind::Session => "session_store",
        _ => "window_store",
    }
}
