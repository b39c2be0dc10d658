//! State: typed key-value stores kept in RocksDB, one per declared store name
//! and input partition, backed by a compacted changelog topic, and exactly as
//! consistent as the outputs.
//!
//! # How a store stays exact
//!
//! - A transform's writes go to an **overlay** that its reads see. They are
//!   also produced to the store's changelog topic, in the same Kafka
//!   transaction as the outputs and the input offsets.
//! - When the transaction **commits**, the overlay is applied to RocksDB in one
//!   atomic write batch, together with a checkpoint: the input offsets it
//!   committed and the changelog's end. When it **aborts**, the overlay is
//!   dropped. So after a SIGKILL the local store holds the last committed state,
//!   or the one before it if the process died between the Kafka commit and the
//!   local write.
//! - When a partition is **assigned**, its checkpoint is compared with the
//!   group's committed offsets. Equal: nothing to replay. Behind (that one
//!   lost write, or a partition another instance processed meanwhile): the
//!   changelog is replayed from the checkpoint's position to its end. No local
//!   state: from the beginning.
//! - The replay reads the changelog at read_committed and applies a record
//!   only if the input record that wrote it is below the group's committed
//!   offset (each record carries its source in headers). On Apache Kafka the
//!   second check drops nothing; it keeps the restore exact on a broker that
//!   shows aborted writes to read_committed readers, where later
//!   re-processing overwrites the writes of aborted attempts, as a store
//!   holds absolute values.
//!
//! Unlike Kafka Streams under exactly-once, a crash does not wipe local state.

mod codec;
mod handle;
pub(crate) mod manager;
mod store;
mod window;

pub use handle::{StoreRef, WindowStoreRef};
pub use manager::RestoreStats;
pub use store::Store;
pub use window::{Emit, Window, WindowStore, WindowUpdate, Windows};

pub(crate) use manager::{ChangelogWrite, StateManager};

/// A store operation that failed.
///
/// # Examples
///
/// ```
/// use meshkit::{StateError, TransformError};
///
/// let err = StateError::UnknownStore { name: "totals".into(), known: vec!["counts".into()] };
/// assert!(err.to_string().contains("counts"));
/// let as_transform_error: TransformError = err.into();
/// assert!(!as_transform_error.is_retriable());
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StateError {
    /// The product declared no store of that name.
    #[error("no store `{name}`; the product's stores are: {}", known.join(", "))]
    UnknownStore {
        /// The name asked for.
        name: String,
        /// The declared stores.
        known: Vec<String>,
    },
    /// Stores are reached through the runtime's context, while it processes a
    /// record; this context has none (e.g. one made by hand for a unit test
    /// without [`Context::with_memory_state`](crate::Context::with_memory_state)).
    #[error("this context has no state: stores are available while the runtime processes a record")]
    NoState,
    /// A key or value could not be encoded or decoded.
    #[error("store `{store}`: cannot {action} a {what}: {message}")]
    Codec {
        /// The store.
        store: String,
        /// `encode` or `decode`.
        action: &'static str,
        /// `key` or `value`.
        what: &'static str,
        /// The codec's message.
        message: String,
    },
    /// RocksDB failed.
    #[error("RocksDB {operation} failed: {source}")]
    Db {
        /// What meshkit was doing.
        operation: String,
        /// RocksDB's error.
        #[source]
        source: rocksdb::Error,
    },
}

impl StateError {
    /// Whether trying again can help: only for RocksDB errors that are not
    /// corruption (e.g. a full disk freed meanwhile).
    pub fn is_retriable(&self) -> bool {
        matches!(self, StateError::Db { source, .. } if source.kind() != rocksdb::ErrorKind::Corruption)
    }
}

impl From<StateError> for crate::error::TransformError {
    fn from(err: StateError) -> Self {
        let retriable = err.is_retriable();
        let base = if retriable {
            crate::error::TransformError::retriable(err.to_string())
        } else {
            crate::error::TransformError::new(err.to_string())
        };
        base.with_source(err)
    }
}

/// The changelog topic of `store` in application `application_id`.
///
/// # Examples
///
/// ```
/// assert_eq!(meshkit::changelog_topic("sales.spend", "totals"), "sales.spend-totals-changelog");
/// ```
pub fn changelog_topic(application_id: &str, store: &str) -> String {
    format!("{application_id}-{store}-changelog")
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
    /// [`StateError`] if RocksDB cannot open the directory.
    pub fn open(dir: &std::path::Path, descriptor: &crate::ProductDescriptor) -> Result<Self, StateError> {
        let manager = StateManager::local(
            dir.to_path_buf(),
            descriptor.stores.iter().map(|s| s.name.clone()).collect(),
        );
        manager.open_local(0).map_err(|e| match e {
            manager::RestoreError::State(e) => e,
            other => StateError::Codec {
                store: String::new(),
                action: "open",
                what: "store directory",
                message: other.to_string(),
            },
        })?;
        Ok(Self {
            manager: std::sync::Arc::new(manager),
        })
    }

    /// A context whose stores are these, on partition 0.
    pub fn context(&self, descriptor: &crate::ProductDescriptor) -> crate::Context {
        crate::Context::with_state(descriptor, Some(self.manager.clone()))
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
