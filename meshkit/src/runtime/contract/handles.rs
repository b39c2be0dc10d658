//! Typed names of the stores a product declares (what a transform receives
//! for each store it uses, opened on the context when needed), and stores on
//! disk outside the runtime, for tests and benchmarks.

use std::fmt;
use std::marker::PhantomData;

use serde::de::DeserializeOwned;
use serde::Serialize;

use super::Context;
use crate::product::ProductDescriptor;
use crate::stores::{StateError, StateManager, Store, WindowStore};

/// The typed name of a plain store: opening it on the [`Context`] gives the
/// partition's [`Store`]. It holds no borrow, so a transform can keep it
/// beside `&mut Context` and open it only where it reads or writes.
///
/// # Examples
///
/// ```
/// use meshkit::state::StoreRef;
/// use meshkit::{Context, ProductDescriptor};
///
/// const TOTALS: StoreRef<String, i64> = StoreRef::new("totals");
///
/// let descriptor = ProductDescriptor::builder("sales", "totals")
///     .version("1.0.0")
///     .owner("team-sales")
///     .input("orders", "sales.orders")
///     .output("totals", "sales.totals")
///     .store("totals")
///     .build()?;
/// let mut ctx = Context::with_memory_state(&descriptor);
/// TOTALS.open(&mut ctx)?.put(&"c1".to_string(), &5)?;
/// assert_eq!(TOTALS.open(&mut ctx)?.get(&"c1".to_string())?, Some(5));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct StoreRef<K, V> {
    name: &'static str,
    _types: PhantomData<fn(K) -> V>,
}

/// The typed name of a windowed store; see [`StoreRef`].
pub struct WindowStoreRef<K, V> {
    name: &'static str,
    _types: PhantomData<fn(K) -> V>,
}

macro_rules! handle_common {
    ($handle:ident) => {
        impl<K, V> Clone for $handle<K, V> {
            fn clone(&self) -> Self {
                *self
            }
        }

        impl<K, V> Copy for $handle<K, V> {}

        impl<K, V> fmt::Debug for $handle<K, V> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_tuple(stringify!($handle))
                    .field(&self.name)
                    .finish()
            }
        }

        impl<K, V> $handle<K, V> {
            /// The store named `name`. Whether the product declares it is
            /// checked when it is opened.
            pub const fn new(name: &'static str) -> Self {
                Self {
                    name,
                    _types: PhantomData,
                }
            }

            /// Its name.
            pub const fn name(&self) -> &'static str {
                self.name
            }
        }
    };
}

handle_common!(StoreRef);
handle_common!(WindowStoreRef);

impl<K: Serialize + DeserializeOwned, V: Serialize + DeserializeOwned> StoreRef<K, V> {
    /// Opens the store of the partition being processed: exactly
    /// [`Context::store`].
    ///
    /// # Errors
    ///
    /// As [`Context::store`].
    pub fn open<'c>(&self, ctx: &'c mut Context) -> Result<Store<'c, K, V>, StateError> {
        ctx.store(self.name)
    }

    /// Reads `key` in the partition being processed.
    ///
    /// # Errors
    ///
    /// As [`Context::store`], and [`StateError`] if the store cannot be read.
    pub fn get(&self, ctx: &mut Context, key: &K) -> Result<Option<V>, StateError> {
        self.open(ctx)?.get(key)
    }

    /// Writes `value` under `key`, in the open transaction.
    ///
    /// # Errors
    ///
    /// As [`get`](Self::get).
    pub fn put(&self, ctx: &mut Context, key: &K, value: &V) -> Result<(), StateError> {
        self.open(ctx)?.put(key, value)
    }

    /// Deletes `key`, in the open transaction.
    ///
    /// # Errors
    ///
    /// As [`get`](Self::get).
    pub fn delete(&self, ctx: &mut Context, key: &K) -> Result<(), StateError> {
        self.open(ctx)?.delete(key)
    }

    /// Reads `key`, writes what `f` makes of it and returns that: a running
    /// total in one call.
    ///
    /// # Errors
    ///
    /// As [`get`](Self::get).
    ///
    /// # Examples
    ///
    /// ```
    /// use meshkit::state::StoreRef;
    /// use meshkit::{Context, ProductDescriptor};
    ///
    /// const TOTALS: StoreRef<String, i64> = StoreRef::new("totals");
    ///
    /// let descriptor = ProductDescriptor::builder("sales", "totals")
    ///     .version("1.0.0")
    ///     .owner("team-sales")
    ///     .input("orders", "sales.orders")
    ///     .output("totals", "sales.totals")
    ///     .store("totals")
    ///     .build()?;
    /// let mut ctx = Context::with_memory_state(&descriptor);
    /// let c1 = "c1".to_string();
    /// TOTALS.update(&mut ctx, &c1, |t| t.unwrap_or(0) + 5)?;
    /// assert_eq!(TOTALS.update(&mut ctx, &c1, |t| t.unwrap_or(0) + 2)?, 7);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn update(
        &self,
        ctx: &mut Context,
        key: &K,
        f: impl FnOnce(Option<V>) -> V,
    ) -> Result<V, StateError> {
        let mut store = self.open(ctx)?;
        let value = f(store.get(key)?);
        store.put(key, &value)?;
        Ok(value)
    }
}

impl<K, V> WindowStoreRef<K, V>
where
    K: Serialize + DeserializeOwned + Clone,
    V: Serialize + DeserializeOwned + Clone,
{
    /// Opens the windowed store of the partition being processed: exactly
    /// [`Context::window_store`].
    ///
    /// # Errors
    ///
    /// As [`Context::window_store`].
    pub fn open<'c>(&self, ctx: &'c mut Context) -> Result<WindowStore<'c, K, V>, StateError> {
        ctx.window_store(self.name)
    }

    /// Updates `key`'s windows that the record being processed falls in (by
    /// its timestamp, [`Context::timestamp`]), as [`WindowStore::update`]
    /// does: what to publish is
    /// [`WindowUpdate::into_results`](crate::state::WindowUpdate::into_results).
    ///
    /// # Errors
    ///
    /// As [`update_at`](Self::update_at), and [`StateError::NoTimestamp`]
    /// for a record without a timestamp.
    pub fn update(
        &self,
        ctx: &mut Context,
        key: &K,
        f: impl FnMut(Option<V>) -> V,
    ) -> Result<crate::stores::WindowUpdate<K, V>, StateError> {
        let timestamp = ctx.timestamp().ok_or_else(|| StateError::NoTimestamp {
            store: self.name.to_string(),
        })?;
        self.update_at(ctx, key, timestamp, f)
    }

    /// Updates `key`'s windows that `timestamp` falls in.
    ///
    /// # Errors
    ///
    /// As [`Context::window_store`], and [`StateError`] if the store cannot
    /// be read or written.
    pub fn update_at(
        &self,
        ctx: &mut Context,
        key: &K,
        timestamp: i64,
        f: impl FnMut(Option<V>) -> V,
    ) -> Result<crate::stores::WindowUpdate<K, V>, StateError> {
        self.open(ctx)?.update(key, timestamp, f)
    }

    /// Moves the task's stream time on to `time` without a record (in a
    /// wall-clock timer, `ctx.timestamp()`) and closes the windows it
    /// passes, with their final values: how an idle partition's last
    /// windows close. See [`WindowStore::advance_to`](crate::state::WindowStore::advance_to).
    ///
    /// # Errors
    ///
    /// As [`update`](Self::update).
    pub fn advance_to(
        &self,
        ctx: &mut Context,
        time: i64,
    ) -> Result<Vec<(crate::window::Window, K, V)>, StateError> {
        self.open(ctx)?.advance_to(time)
    }
}

/// Stores on disk outside the runtime: to test or benchmark a stateful
/// transform against real RocksDB, committing when you say.
///
/// # Examples
///
/// ```
/// use meshkit::state::LocalState;
/// use meshkit::ProductDescriptor;
///
/// let descriptor = ProductDescriptor::builder("sales", "spend")
///     .version("1.0.0")
///     .owner("team-sales")
///     .input("orders", "sales.orders")
///     .output("totals", "sales.spend")
///     .store("spend")
///     .build()?;
/// let dir = tempfile::tempdir()?;
/// let state = LocalState::open(dir.path(), &descriptor)?;
/// let mut ctx = state.context(&descriptor);
/// ctx.store::<String, u64>("spend")?.put(&"c-1".into(), &5)?;
/// state.commit()?;
/// state.abort(); // nothing open: a no-op
/// assert_eq!(ctx.store::<String, u64>("spend")?.get(&"c-1".into())?, Some(5));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct LocalState {
    manager: std::sync::Arc<StateManager>,
}

impl LocalState {
    /// Opens (or creates) `descriptor`'s stores for partition 0 under `dir`.
    ///
    /// # Errors
    ///
    /// [`StateError::Open`] if the directory cannot be created,
    /// [`StateError::Db`] if RocksDB cannot open it.
    pub fn open(dir: &std::path::Path, descriptor: &ProductDescriptor) -> Result<Self, StateError> {
        let manager = StateManager::local(
            dir.to_path_buf(),
            descriptor.stores.iter().map(|s| s.name.clone()).collect(),
        )
        .with_ttls(super::ttls(descriptor));
        manager.open_local(0)?;
        Ok(Self {
            manager: std::sync::Arc::new(manager),
        })
    }

    /// A context whose stores are these, on partition 0.
    pub fn context(&self, descriptor: &ProductDescriptor) -> Context {
        Context::with_state(descriptor, Some(self.manager.clone()))
    }

    /// Writes what was written since the last commit, atomically.
    ///
    /// # Errors
    ///
    /// [`StateError::Db`] if RocksDB fails.
    pub fn commit(&self) -> Result<(), StateError> {
        self.manager.persist(
            &std::collections::HashMap::new(),
            &std::collections::HashMap::new(),
        )
    }

    /// Drops what was written since the last commit.
    pub fn abort(&self) {
        self.manager.discard();
    }
}
