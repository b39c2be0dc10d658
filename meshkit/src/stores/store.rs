//! The typed store a transform uses.

use std::marker::PhantomData;
use std::ops::{Bound, RangeBounds};

use serde::de::DeserializeOwned;
use serde::Serialize;

use super::codec::{decode_key, encode_key};
use super::{ttl, ChangelogWrite, StateError, StateManager};

/// A typed key-value store of the partition being processed, from
/// [`Context::store`](crate::Context::store).
///
/// Keys are encoded so that their byte order is their order, so
/// [`range`](Store::range) scans in key order. Writes belong to the open
/// transaction: reads see them at once, and they become durable (and go to
/// the changelog) only if it commits.
///
/// A store declared with a time to live
/// ([`store_with_ttl`](crate::DescriptorBuilder::store_with_ttl)) reads an
/// expired entry as absent, and each write starts its entry's time again.
///
/// # Examples
///
/// ```
/// use meshkit::{Context, ProductDescriptor};
///
/// let descriptor = ProductDescriptor::builder("sales", "spend")
///     .version("1.0.0")
///     .owner("team-sales")
///     .input("orders", "sales.orders")
///     .output("totals", "sales.spend")
///     .store("spend")
///     .build()?;
/// let mut ctx = Context::with_memory_state(&descriptor);
/// let mut spend = ctx.store::<String, u64>("spend")?;
/// spend.put(&"c-1".to_string(), &250)?;
/// spend.put(&"c-2".to_string(), &100)?;
/// assert_eq!(spend.get(&"c-1".to_string())?, Some(250));
/// let all = spend.range(..)?;
/// assert_eq!(all, vec![("c-1".to_string(), 250), ("c-2".to_string(), 100)]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct Store<'a, K, V> {
    pub(crate) manager: &'a StateManager,
    pub(crate) changelog: &'a mut Vec<ChangelogWrite>,
    pub(crate) partition: i32,
    pub(crate) index: usize,
    pub(crate) _types: PhantomData<fn(K) -> V>,
}

impl<K, V> std::fmt::Debug for Store<'_, K, V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("name", &self.manager.store_names()[self.index])
            .field("partition", &self.partition)
            .finish()
    }
}

impl<K: Serialize + DeserializeOwned, V: Serialize + DeserializeOwned> Store<'_, K, V> {
    /// The store's declared name.
    pub fn name(&self) -> &str {
        &self.manager.store_names()[self.index]
    }

    /// The value of `key`, if any.
    ///
    /// # Errors
    ///
    /// [`StateError`] if RocksDB fails or the stored bytes do not decode as `V`.
    pub fn get(&self, key: &K) -> Result<Option<V>, StateError> {
        let name = self.name();
        let key = encode_key(name, key)?;
        let Some(bytes) = self.manager.get(self.partition, self.index, &key)? else {
            return Ok(None);
        };
        match self.live(&bytes)? {
            Some(payload) => Ok(Some(self.manager.decode_value(self.index, payload)?)),
            None => Ok(None),
        }
    }

    /// The encoded value in stored `bytes`, `None` if it expired; for a
    /// store without a TTL, `bytes` as they are.
    fn live<'b>(&self, bytes: &'b [u8]) -> Result<Option<&'b [u8]>, StateError> {
        let Some(ttl) = self.manager.ttl(self.index) else {
            return Ok(Some(bytes));
        };
        let (at, payload) = ttl::split(bytes).ok_or_else(|| StateError::Codec {
            store: self.name().to_string(),
            action: "decode",
            what: "value",
            message: "an expiring store's value is shorter than its expiry time".into(),
        })?;
        let now = self.manager.now(self.partition, ttl.clock)?;
        Ok(if now.is_some_and(|now| at <= now) {
            None
        } else {
            Some(payload)
        })
    }

    /// Sets `key` to `value`.
    ///
    /// # Errors
    ///
    /// [`StateError`] if the key or value cannot be encoded.
    pub fn put(&mut self, key: &K, value: &V) -> Result<(), StateError> {
        let name = self.name();
        let key = encode_key(name, key)?;
        let mut value = self.manager.encode_value(self.index, value)?;
        if let Some(ttl) = self.manager.ttl(self.index) {
            let now =
                self.manager
                    .now(self.partition, ttl.clock)?
                    .ok_or_else(|| StateError::NoStreamTime {
                        store: name.to_string(),
                    })?;
            let at = ttl.expires_at(now);
            value = ttl::frame(at, &value);
            // The index entry is local (a restore rebuilds it from values).
            let slot = ttl::index_slot(self.index);
            self.manager
                .put(self.partition, slot, &ttl::index_key(at, &key), Some(Vec::new()))?;
        }
        self.write(key, Some(value))
    }

    /// Removes `key`.
    ///
    /// # Errors
    ///
    /// [`StateError`] if the key cannot be encoded.
    pub fn delete(&mut self, key: &K) -> Result<(), StateError> {
        let key = encode_key(self.name(), key)?;
        self.write(key, None)
    }

    fn write(&mut self, key: Vec<u8>, value: Option<Vec<u8>>) -> Result<(), StateError> {
        if self.manager.changelogged() {
            self.manager
                .put(self.partition, self.index, &key, value.clone())?;
            self.changelog.push(ChangelogWrite {
                store: self.index,
                partition: self.partition,
                key,
                value,
            });
        } else {
            self.manager.put(self.partition, self.index, &key, value)?;
        }
        Ok(())
    }

    /// The entries with keys in `range`, in key order.
    ///
    /// # Errors
    ///
    /// [`StateError`] if RocksDB fails or stored bytes do not decode.
    pub fn range(&self, range: impl RangeBounds<K>) -> Result<Vec<(K, V)>, StateError> {
        let name = self.name();
        let bound = |b: Bound<&K>| -> Result<Bound<Vec<u8>>, StateError> {
            Ok(match b {
                Bound::Included(k) => Bound::Included(encode_key(name, k)?),
                Bound::Excluded(k) => Bound::Excluded(encode_key(name, k)?),
                Bound::Unbounded => Bound::Unbounded,
            })
        };
        let entries = self.manager.range(
            self.partition,
            self.index,
            bound(range.start_bound())?,
            bound(range.end_bound())?,
        )?;
        let mut out = Vec::with_capacity(entries.len());
        for (k, v) in entries {
            if let Some(payload) = self.live(&v)? {
                out.push((
                    decode_key(name, &k)?,
                    self.manager.decode_value(self.index, payload)?,
                ));
            }
        }
        Ok(out)
    }
}
