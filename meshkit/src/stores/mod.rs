//! Stores kept in RocksDB: the key-value and window stores, their codec,
//! and the manager that persists, checkpoints and restores them (see
//! [`crate::state`] for how a store stays exact).

mod codec;
pub(crate) mod manager;
mod session;
mod sliding;
mod store;
mod ttl;
mod window;

pub use manager::RestoreStats;
pub use session::SessionStore;
pub use sliding::SlidingStore;
pub use store::Store;
pub use window::{WindowStore, WindowUpdate};

// The stream operators' repartition topics carry keys and values as stores keep them.
#[cfg(feature = "ops")]
pub(crate) use codec::{decode_key, decode_value, encode_key, encode_value};
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
    /// A windowed store was updated for a record without a timestamp:
    /// windows are of event time.
    #[error("windowed store `{store}`: the record has no timestamp to place it in a window; give one with `update_at`")]
    NoTimestamp {
        /// The store.
        store: String,
    },
    /// A windowed store was opened as another kind of windows than it was
    /// declared with.
    #[error("store `{store}` holds {declared} windows: open it with `{open_with}`")]
    WrongWindowKind {
        /// The store.
        store: String,
        /// The kind it was declared with.
        declared: &'static str,
        /// The method that opens it.
        open_with: &'static str,
    },
    /// A store whose entries expire on stream time was written before its
    /// task saw any record timestamp: the entry's expiry has no start.
    #[error("store `{store}` expires entries on stream time, and its task has seen no record timestamp yet")]
    NoStreamTime {
        /// The store.
        store: String,
    },
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
    /// A store directory could not be created or opened.
    #[error("cannot open the store directory {}", dir.display())]
    Open {
        /// The directory.
        dir: std::path::PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// RocksDB failed.
    #[error("RocksDB {operation} failed")]
    Db {
        /// What meshkit was doing.
        operation: String,
        /// RocksDB's error.
        #[source]
        source: rocksdb::Error,
    },
}

impl StateError {
    /// Whether trying again can help: for RocksDB errors that are not
    /// corruption (e.g. a full disk freed meanwhile) and for a directory the
    /// OS could not open for a passing reason.
    pub fn is_retriable(&self) -> bool {
        match self {
            StateError::Db { source, .. } => source.kind() != rocksdb::ErrorKind::Corruption,
            StateError::Open { source, .. } => crate::error::io_retriable(source),
            _ => false,
        }
    }
}

impl From<StateError> for crate::error::TransformError {
    fn from(err: StateError) -> Self {
        let retriable = err.is_retriable();
        let message = "a store operation failed";
        let base = if retriable {
            crate::error::TransformError::retriable(message)
        } else {
            crate::error::TransformError::new(message)
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

/// What the window stores' unit tests share (the layer check reads
/// `#[cfg(test)] mod tests` as test code, so it is named so).
#[cfg(test)]
mod tests {
    use crate::state::Windows;
    use crate::{Context, ProductDescriptor};

    /// A context with one windowed store, `w`, in memory.
    pub(super) fn context(windows: Windows) -> Context {
        let descriptor = ProductDescriptor::builder("t", "w")
            .version("1.0.0")
            .owner("o")
            .input("in", "a")
            .output("out", "b")
            .window_store("w", windows)
            .build()
            .expect("valid");
        Context::with_memory_state(&descriptor)
    }

    /// A seeded generator of test data: `next(m)` is in `0..m`.
    pub(super) fn numbers(seed: u64) -> impl FnMut(u64) -> u64 {
        let mut x = seed;
        move |m| {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (x >> 33) % m.max(1)
        }
    }
}
