//! Global tables: reference data every instance holds whole, in memory,
//! and the joins of a stream with them.

use std::any::Any;
use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Arc, PoisonError, RwLock};

use super::{GlobalTableInput, Stream, Topology};
use crate::error::TransformError;

/// A global table in a topology: every key and its latest value, from
/// every partition of its topic, whatever tasks the instance owns. The
/// runtime reads its topic whole before the first record is processed and
/// keeps up with it between records; it lives in memory (each start reads
/// the topic again), so it suits reference data, not large tables.
pub struct GlobalTable<K, V> {
    entries: Arc<RwLock<HashMap<K, V>>>,
}

impl<K, V> Clone for GlobalTable<K, V> {
    fn clone(&self) -> Self {
        Self {
            entries: self.entries.clone(),
        }
    }
}

impl<K, V> std::fmt::Debug for GlobalTable<K, V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let len = self.entries.read().unwrap_or_else(PoisonError::into_inner).len();
        f.debug_struct("GlobalTable").field("entries", &len).finish()
    }
}

impl<K: Eq + Hash, V> GlobalTable<K, V> {
    /// How many keys it holds now.
    pub fn len(&self) -> usize {
        self.entries.read().unwrap_or_else(PoisonError::into_inner).len()
    }

    /// Whether it holds no key.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// `f` of the value of `key`, if the table holds it.
    fn with<R>(&self, key: &K, f: impl FnOnce(Option<&V>) -> R) -> R {
        f(self
            .entries
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(key))
    }
}

impl Topology {
    /// Global table port `input`, held whole in memory: each record puts
    /// its key's value, a tombstone deletes it. Streams look values up in
    /// it by a key of their choice ([`Stream::join_global`]).
    pub fn global_table<K, V>(&mut self, input: GlobalTableInput<K, V>) -> GlobalTable<K, V>
    where
        K: Any + Eq + Hash + Clone + Send + Sync,
        V: Any + Clone + Send + Sync,
    {
        let table = GlobalTable {
            entries: Arc::new(RwLock::new(HashMap::new())),
        };
        let (entries, port) = (table.entries.clone(), input.as_table());
        self.parts.borrow_mut().entries.push((
            input.name().to_string(),
            Box::new(move |record, _ctx| {
                let (key, value) = port.decode(record)?;
                let mut entries = entries.write().unwrap_or_else(PoisonError::into_inner);
                match value {
                    Some(value) => entries.insert(key.clone(), value.clone()),
                    None => entries.remove(key),
                };
                Ok(())
            }),
        ));
        table
    }
}

impl<K: 'static, V: 'static> Stream<K, V> {
    /// The inner join with global table `table`: each record whose
    /// `key(record)` the table holds gives `f(record, table's value)`; the
    /// others give nothing. No co-partitioning needed: every instance holds
    /// the whole table.
    pub fn join_global<KG, VG, O>(
        &self,
        table: &GlobalTable<KG, VG>,
        key: impl Fn(&K, &V) -> KG + Send + Sync + 'static,
        f: impl Fn(&V, &VG) -> O + Send + Sync + 'static,
    ) -> Stream<K, O>
    where
        KG: Eq + Hash + Send + Sync + 'static,
        VG: Send + Sync + 'static,
        O: 'static,
    {
        let table = table.clone();
        self.then(
            self.rekeyed,
            move |next, ctx, k, v| -> Result<(), TransformError> {
                match table.with(&key(k, v), |found| found.map(|g| f(v, g))) {
                    Some(out) => next.push(ctx, k, &out),
                    None => Ok(()),
                }
            },
        )
    }

    /// The left join with global table `table`: each record gives
    /// `f(record, the table's value of key(record), if any)`.
    pub fn left_join_global<KG, VG, O>(
        &self,
        table: &GlobalTable<KG, VG>,
        key: impl Fn(&K, &V) -> KG + Send + Sync + 'static,
        f: impl Fn(&V, Option<&VG>) -> O + Send + Sync + 'static,
    ) -> Stream<K, O>
    where
        KG: Eq + Hash + Send + Sync + 'static,
        VG: Send + Sync + 'static,
        O: 'static,
    {
        let table = table.clone();
        self.then(self.rekeyed, move |next, ctx, k, v| {
            let out = table.with(&key(k, v), |found| f(v, found));
            next.push(ctx, k, &out)
        })
    }
}
