//! Typed names of the stores a product declares (what a transform receives
//! for each store it uses, opened on the context when needed), and stores on
//! disk outside the runtime, for tests and benchmarks.

use std::fmt;
use std::marker::PhantomData;

use serde::de::DeserializeOwned;
use serde::Serialize;

use super::Context;
use crate::product::ProductDescriptor;
use crate::stores::{SessionStore, SlidingStore, StateError, StateManager, Store, WindowStore, WindowUpdate};

/// A typed store name: the struct, with its docs, and what every kind shares.
macro_rules! handle {
    ($(#[$doc:meta])* $handle:ident) => {
        $(#[$doc])*
        pub struct $handle<K, V> {
            name: &'static str,
            _types: PhantomData<fn(K) -> V>,
        }

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

handle!(
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
    StoreRef
);
handle!(
    /// The typed name of a windowed store (tumbling or hopping windows); see
    /// [`StoreRef`].
    WindowStoreRef
);
handle!(
    /// The typed name of a session-window store; see [`StoreRef`].
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use meshkit::state::{SessionStoreRef, Windows};
    /// use meshkit::{Context, ProductDescriptor};
    ///
    /// const VISITS: SessionStoreRef<String, u64> = SessionStoreRef::new("visits");
    ///
    /// let descriptor = ProductDescriptor::builder("web", "visits")
    ///     .version("1.0.0")
    ///     .owner("team-web")
    ///     .input("clicks", "web.clicks")
    ///     .output("visits", "web.visits")
    ///     .window_store("visits", Windows::session(Duration::from_secs(60)))
    ///     .build()?;
    /// let mut ctx = Context::with_memory_state(&descriptor);
    /// let u = "u-1".to_string();
    /// VISITS.update_at(&mut ctx, &u, 1_000, |n| n.unwrap_or(0) + 1, |a, b| a + b)?;
    /// let update = VISITS.update_at(&mut ctx, &u, 30_000, |n| n.unwrap_or(0) + 1, |a, b| a + b)?;
    /// assert_eq!(update.updated[0].1, 2);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    SessionStoreRef
);
handle!(
    /// The typed name of a sliding-window store; see [`StoreRef`].
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use meshkit::state::{SlidingStoreRef, Windows};
    /// use meshkit::{Context, ProductDescriptor};
    ///
    /// const SPEND: SlidingStoreRef<String, u64> = SlidingStoreRef::new("spend");
    ///
    /// let descriptor = ProductDescriptor::builder("payments", "bursts")
    ///     .version("1.0.0")
    ///     .owner("team-risk")
    ///     .input("payments", "payments.made")
    ///     .output("bursts", "payments.bursts")
    ///     .window_store("spend", Windows::sliding(Duration::from_secs(60)))
    ///     .build()?;
    /// let mut ctx = Context::with_memory_state(&descriptor);
    /// let card = "c-1".to_string();
    /// SPEND.update_at(&mut ctx, &card, 1_000, 30, |a, b| a + b)?;
    /// let update = SPEND.update_at(&mut ctx, &card, 2_000, 20, |a, b| a + b)?;
    /// assert!(update.updated.iter().any(|(_, total)| *total == 50));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    SlidingStoreRef
);

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
    ) -> Result<WindowUpdate<K, V>, StateError> {
        let timestamp = record_time(ctx, self.name)?;
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
    ) -> Result<WindowUpdate<K, V>, StateError> {
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

impl<K, V> SessionStoreRef<K, V>
where
    K: Serialize + DeserializeOwned + Clone,
    V: Serialize + DeserializeOwned + Clone,
{
    /// Opens the session store of the partition being processed: exactly
    /// [`Context::session_store`].
    ///
    /// # Errors
    ///
    /// As [`Context::session_store`].
    pub fn open<'c>(&self, ctx: &'c mut Context) -> Result<SessionStore<'c, K, V>, StateError> {
        ctx.session_store(self.name)
    }

    /// Adds the record being processed (at its timestamp) to `key`'s
    /// sessions, as [`SessionStore::update`] does.
    ///
    /// # Errors
    ///
    /// As [`update_at`](Self::update_at), and [`StateError::NoTimestamp`]
    /// for a record without a timestamp.
    pub fn update(
        &self,
        ctx: &mut Context,
        key: &K,
        f: impl FnOnce(Option<V>) -> V,
        merge: impl FnMut(V, V) -> V,
    ) -> Result<WindowUpdate<K, V>, StateError> {
        let timestamp = record_time(ctx, self.name)?;
        self.update_at(ctx, key, timestamp, f, merge)
    }

    /// Adds a record of `key` at `timestamp` to its sessions.
    ///
    /// # Errors
    ///
    /// As [`Context::session_store`], and [`StateError`] if the store cannot
    /// be read or written.
    pub fn update_at(
        &self,
        ctx: &mut Context,
        key: &K,
        timestamp: i64,
        f: impl FnOnce(Option<V>) -> V,
        merge: impl FnMut(V, V) -> V,
    ) -> Result<WindowUpdate<K, V>, StateError> {
        self.open(ctx)?.update(key, timestamp, f, merge)
    }

    /// Moves stream time on to `time` and closes the sessions it passes:
    /// see [`SessionStore::advance_to`].
    ///
    /// # Errors
    ///
    /// As [`update_at`](Self::update_at).
    pub fn advance_to(
        &self,
        ctx: &mut Context,
        time: i64,
    ) -> Result<Vec<(crate::window::Window, K, V)>, StateError> {
        self.open(ctx)?.advance_to(time)
    }
}

impl<K, V> SlidingStoreRef<K, V>
where
    K: Serialize + DeserializeOwned + Clone,
    V: Serialize + DeserializeOwned + Clone,
{
    /// Opens the sliding-window store of the partition being processed:
    /// exactly [`Context::sliding_store`].
    ///
    /// # Errors
    ///
    /// As [`Context::sliding_store`].
    pub fn open<'c>(&self, ctx: &'c mut Context) -> Result<SlidingStore<'c, K, V>, StateError> {
        ctx.sliding_store(self.name)
    }

    /// Adds the record being processed (at its timestamp), with `value`, to
    /// `key`'s windows, as [`SlidingStore::update`] does.
    ///
    /// # Errors
    ///
    /// As [`update_at`](Self::update_at), and [`StateError::NoTimestamp`]
    /// for a record without a timestamp.
    pub fn update(
        &self,
        ctx: &mut Context,
        key: &K,
        value: V,
        reduce: impl FnMut(V, &V) -> V,
    ) -> Result<WindowUpdate<K, V>, StateError> {
        let timestamp = record_time(ctx, self.name)?;
        self.update_at(ctx, key, timestamp, value, reduce)
    }

    /// Adds a record of `key` at `timestamp`, with `value`, to its windows.
    ///
    /// # Errors
    ///
    /// As [`Context::sliding_store`], and [`StateError`] if the store cannot
    /// be read or written.
    pub fn update_at(
        &self,
        ctx: &mut Context,
        key: &K,
        timestamp: i64,
        value: V,
        reduce: impl FnMut(V, &V) -> V,
    ) -> Result<WindowUpdate<K, V>, StateError> {
        self.open(ctx)?.update(key, timestamp, value, reduce)
    }

    /// Moves stream time on to `time` and closes the windows it passes:
    /// see [`SlidingStore::advance_to`].
    ///
    /// # Errors
    ///
    /// As [`update_at`](Self::update_at).
    pub fn advance_to(
        &self,
        ctx: &mut Context,
        time: i64,
        reduce: impl FnMut(V, &V) -> V,
    ) -> Result<Vec<(crate::window::Window, K, V)>, StateError> {
        self.open(ctx)?.advance_to(time, reduce)
    }
}

/// The timestamp of the record being processed, for a windowed store's update.
pub(crate) fn record_time(ctx: &Context, store: &str) -> Result<i64, StateError> {
    ctx.timestamp().ok_or_else(|| StateError::NoTimestamp {
        store: store.to_string(),
    })
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
