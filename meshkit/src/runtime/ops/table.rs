//! Tables: table ports materialized per task in a store of their own, the
//! stream of their changes, and the joins of two tables.

use std::any::Any;
use std::cell::RefCell;
use std::rc::Rc;
use std::sync::Arc;

use serde::de::DeserializeOwned;
use serde::Serialize;

use super::{Parts, Slot, Stream, TableInput, Topology};
use crate::error::TransformError;
use crate::product::StoreDescriptor;
use crate::runtime::contract::{Context, Output, StoreRef};

/// One change of a table's key: its value before and after (`None`:
/// absent).
pub(super) struct Change<V> {
    pub(super) old: Option<V>,
    pub(super) new: Option<V>,
}

/// A table in a topology being built: the latest value of each key, and
/// the stream of its changes. From [`Topology::table`] (held in a store
/// named after its port, restored from its changelog like any store), or
/// the result of a join of two tables (which has no store of its own).
pub struct Table<K, V> {
    pub(super) parts: Rc<RefCell<Parts>>,
    /// The store that holds it: the port's name, for a table read from a
    /// port; `None` for a join's result.
    pub(super) store: Option<&'static str>,
    pub(super) changes: Arc<Slot<K, Change<V>>>,
}

impl<K, V> std::fmt::Debug for Table<K, V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Table")
            .field("store", &self.store)
            .finish_non_exhaustive()
    }
}

impl Topology {
    /// Table port `input`, kept per task in a store named after the port:
    /// each record puts its key's value, a tombstone deletes it. Every
    /// change flows on to what reads the table's changes
    /// ([`Table::to_stream`], [`Table::to`], the joins of two tables);
    /// stream records look values up in it ([`Stream::join`]).
    pub fn table<K, V>(&mut self, input: TableInput<K, V>) -> Table<K, V>
    where
        K: Serialize + DeserializeOwned + Any,
        V: Serialize + DeserializeOwned + Clone + Any,
    {
        let name = input.name();
        let mut parts = self.parts.borrow_mut();
        parts.stores.push(StoreDescriptor::new(name));
        let changes = parts.slot::<K, Change<V>>();
        let target = changes.clone();
        let handle = StoreRef::<K, V>::new(name);
        parts.entries.push((
            name.to_string(),
            Box::new(move |record, ctx| {
                let (key, value) = input.decode(record)?;
                let old = handle.get(ctx, key)?;
                match value {
                    Some(value) => handle.put(ctx, key, value)?,
                    None if old.is_some() => handle.delete(ctx, key)?,
                    // Deleting what is not there changes nothing.
                    None => return Ok(()),
                }
                target.push(
                    ctx,
                    key,
                    &Change {
                        old,
                        new: value.cloned(),
                    },
                )
            }),
        ));
        Table {
            parts: self.parts.clone(),
            store: Some(name),
            changes,
        }
    }
}

impl<K: 'static, V: 'static> Table<K, V> {
    /// The stream of the table's changes: each key's new value, `None`
    /// when it was deleted.
    pub fn to_stream(&self) -> Stream<K, Option<V>>
    where
        V: Clone,
    {
        let mut parts = self.parts.borrow_mut();
        let next = parts.slot::<K, Option<V>>();
        let target = next.clone();
        self.changes
            .add(Box::new(move |ctx, k, change| target.push(ctx, k, &change.new)));
        Stream {
            parts: self.parts.clone(),
            slot: next,
            rekeyed: false,
        }
    }

    /// Sends every change to output port `output`: the new value, or a
    /// tombstone for a deleted key (so a compacted output topic holds the
    /// table).
    pub fn to(&self, output: Output<K, V>)
    where
        K: Any,
        V: Any,
    {
        self.changes.add(Box::new(move |ctx, key, change| {
            match &change.new {
                Some(value) => output.send(ctx, key, value)?,
                None => output.delete(ctx, key)?,
            }
            Ok(())
        }));
    }

    /// Notes a mistake of the topology, reported by `Dataflow::declare`.
    fn refuse(&self, reason: String) {
        self.parts.borrow_mut().errors.push(reason);
    }

    /// The table's store, or a refusal naming `what` needed it.
    pub(super) fn store_for(&self, what: &str) -> Option<&'static str> {
        if self.store.is_none() {
            self.refuse(format!(
                "`{what}` reads a table from a table port (`t.table(...)`): the result of a join has no store to read"
            ));
        }
        self.store
    }

    /// The inner join with `other` (same keys, co-partitioned): a key has a
    /// value while both tables hold it, `f(this, other)`, re-computed on
    /// either side's change; it is deleted when either side is.
    pub fn join<V2, O>(
        &self,
        other: &Table<K, V2>,
        f: impl Fn(&V, &V2) -> O + Send + Sync + 'static,
    ) -> Table<K, O>
    where
        K: Serialize + DeserializeOwned,
        V: Serialize + DeserializeOwned,
        V2: Serialize + DeserializeOwned + 'static,
        O: 'static,
    {
        self.join_with(other, "join", move |l, r| Some(f(l?, r?)))
    }

    /// The left join with `other`: a key has a value while this table holds
    /// it, `f(this, other's value if any)`, re-computed on either side's
    /// change.
    pub fn left_join<V2, O>(
        &self,
        other: &Table<K, V2>,
        f: impl Fn(&V, Option<&V2>) -> O + Send + Sync + 'static,
    ) -> Table<K, O>
    where
        K: Serialize + DeserializeOwned,
        V: Serialize + DeserializeOwned,
        V2: Serialize + DeserializeOwned + 'static,
        O: 'static,
    {
        self.join_with(other, "left_join", move |l, r| Some(f(l?, r)))
    }

    /// The outer join with `other`: a key has a value while either table
    /// holds it, `f(this's value if any, other's value if any)`,
    /// re-computed on either side's change.
    pub fn outer_join<V2, O>(
        &self,
        other: &Table<K, V2>,
        f: impl Fn(Option<&V>, Option<&V2>) -> O + Send + Sync + 'static,
    ) -> Table<K, O>
    where
        K: Serialize + DeserializeOwned,
        V: Serialize + DeserializeOwned,
        V2: Serialize + DeserializeOwned + 'static,
        O: 'static,
    {
        self.join_with(other, "outer_join", move |l, r| {
            (l.is_some() || r.is_some()).then(|| f(l, r))
        })
    }

    /// The join of the two tables' changes: on a change of either side, the
    /// result before and after it, from the other side's current value;
    /// `combine` says what a key's result is (`None`: none).
    fn join_with<V2, O>(
        &self,
        other: &Table<K, V2>,
        what: &str,
        combine: impl Fn(Option<&V>, Option<&V2>) -> Option<O> + Send + Sync + 'static,
    ) -> Table<K, O>
    where
        K: Serialize + DeserializeOwned,
        V: Serialize + DeserializeOwned,
        V2: Serialize + DeserializeOwned + 'static,
        O: 'static,
    {
        let (this, that) = (self.store_for(what), other.store_for(what));
        let next = self.parts.borrow_mut().slot::<K, Change<O>>();
        let result = Table {
            parts: self.parts.clone(),
            store: None,
            changes: next.clone(),
        };
        let (Some(this), Some(that)) = (this, that) else {
            return result;
        };
        let combine = Arc::new(combine);
        let (left, target) = (combine.clone(), next.clone());
        let right_store = StoreRef::<K, V2>::new(that);
        self.changes.add(Box::new(move |ctx, key, change| {
            let right = right_store.get(ctx, key)?;
            emit(&target, ctx, key, |side| left(side, right.as_ref()), change)
        }));
        let left_store = StoreRef::<K, V>::new(this);
        other.changes.add(Box::new(move |ctx, key, change| {
            let left = left_store.get(ctx, key)?;
            emit(&next, ctx, key, |side| combine(left.as_ref(), side), change)
        }));
        result
    }
}

/// Passes on the change of a join's result that `change` of one side makes,
/// if any: `result(side)` is the result for that side's value.
fn emit<K, V, O>(
    next: &Slot<K, Change<O>>,
    ctx: &mut Context,
    key: &K,
    result: impl Fn(Option<&V>) -> Option<O>,
    change: &Change<V>,
) -> Result<(), TransformError> {
    let old = result(change.old.as_ref());
    let new = result(change.new.as_ref());
    if old.is_none() && new.is_none() {
        return Ok(());
    }
    next.push(ctx, key, &Change { old, new })
}
