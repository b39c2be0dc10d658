//! Grouped streams and their aggregations, plain and windowed, each kept in
//! a store of the product's, and the repartition a re-keyed group goes
//! through first.

use std::collections::{BTreeMap, HashSet};

use apache_avro::schema::{Name, NamespaceRef, RecordField, RecordSchema, Schema};
use apache_avro::AvroSchemaComponent;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::{repartitioned, Slot, Stream};
use crate::error::TransformError;
use crate::product::StoreDescriptor;
use crate::runtime::contract::{Context, SessionStoreRef, SlidingStoreRef, StoreRef, WindowStoreRef};
use crate::stores::WindowUpdate;
use crate::window::{Window, WindowKind, Windows};

/// A windowed aggregate's key: the window and the group's key. An output
/// port can carry it as its key (`key = Windowed<String>`): its Avro schema
/// is the record `meshkit.Windowed` of the window (`meshkit.Window`, start
/// and end in ms) and the group's key, as Kafka Streams publishes windowed
/// keys.
///
/// # Examples
///
/// ```
/// use apache_avro::AvroSchema;
/// use meshkit::ops::Windowed;
///
/// let schema = Windowed::<String>::get_schema();
/// assert!(schema.canonical_form().contains(r#""name":"meshkit.Windowed""#));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Windowed<K> {
    /// The window.
    pub window: Window,
    /// The group's key.
    pub key: K,
}

// By hand rather than derived: the derive would require `K`'s schema of
// every `Windowed`, also those that never travel as Avro.
impl<K: AvroSchemaComponent> AvroSchemaComponent for Windowed<K> {
    fn get_schema_in_ctxt(named: &mut HashSet<Name>, enclosing: NamespaceRef) -> Schema {
        let name = match Name::new_with_enclosing_namespace("meshkit.Windowed", enclosing) {
            Ok(name) => name,
            // A fixed, valid name: this arm is never taken.
            Err(_) => return Schema::Null,
        };
        if named.contains(&name) {
            return Schema::Ref { name };
        }
        named.insert(name.clone());
        let fields = Self::get_record_fields_in_ctxt(named, name.namespace()).unwrap_or_default();
        Schema::Record(RecordSchema::builder().name(name).fields(fields).build())
    }

    fn get_record_fields_in_ctxt(
        named: &mut HashSet<Name>,
        enclosing: NamespaceRef,
    ) -> Option<Vec<RecordField>> {
        let field = |name: &str, schema: Schema| RecordField {
            name: name.to_string(),
            doc: None,
            default: None,
            aliases: Vec::new(),
            schema,
            custom_attributes: BTreeMap::new(),
        };
        Some(vec![
            field("window", Window::get_schema_in_ctxt(named, enclosing)),
            field("key", K::get_schema_in_ctxt(named, enclosing)),
        ])
    }
}

/// A stream grouped by key, for an aggregation: from
/// [`Stream::group_by_key`] or [`Stream::group_by`].
///
/// Each aggregation keeps its value per key in the store it names
/// (declared by [`Dataflow::declare`](super::Dataflow::declare)) and gives
/// the stream of its updates: the new value each time a record changes it.
pub struct Grouped<K, V> {
    stream: Stream<K, V>,
    /// Whether the records reach the aggregation through a repartition topic.
    repartition: bool,
}

impl<K, V> std::fmt::Debug for Grouped<K, V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Grouped")
            .field("repartition", &self.repartition)
            .finish_non_exhaustive()
    }
}

/// What an aggregation does with one record, given the stream of its updates.
type Aggregate<K, V, K2, A> =
    Box<dyn Fn(&Slot<K2, A>, &mut Context, &K, &V) -> Result<(), TransformError> + Send + Sync>;

impl<K, V> Grouped<K, V> {
    pub(super) fn new(stream: Stream<K, V>, repartition: bool) -> Self {
        Self { stream, repartition }
    }
}

impl<K, V> Grouped<K, V>
where
    K: Serialize + DeserializeOwned + Clone + 'static,
    V: Serialize + DeserializeOwned + 'static,
{
    /// Declares `store`, routes the records to `op` (through the store's
    /// repartition topic if the keys changed), and returns its updates.
    fn aggregation<K2: 'static, A: 'static>(
        &self,
        store: StoreDescriptor,
        op: Aggregate<K, V, K2, A>,
    ) -> Stream<K2, A> {
        let mut parts = self.stream.parts.borrow_mut();
        let next = parts.slot::<K2, A>();
        let name = store.name.clone();
        parts.stores.push(store);
        let target = next.clone();
        let run = move |ctx: &mut Context, k: &K, v: &V| op(&target, ctx, k, v);
        if self.repartition {
            let read_back = repartitioned(&mut parts, &self.stream.slot, &name);
            read_back.add(Box::new(run));
        } else {
            self.stream.slot.add(Box::new(run));
        }
        Stream {
            parts: self.stream.parts.clone(),
            slot: next,
            rekeyed: false,
        }
    }

    /// The number of records of each key so far, kept in `store`.
    pub fn count(&self, store: &'static str) -> Stream<K, i64> {
        self.aggregate(store, || 0, |n, _, _| n + 1)
    }

    /// Each key's records combined, `f(so far, next)`, the first as it is,
    /// kept in `store`.
    pub fn reduce(&self, store: &'static str, f: impl Fn(V, &V) -> V + Send + Sync + 'static) -> Stream<K, V>
    where
        V: Clone,
    {
        let handle = StoreRef::<K, V>::new(store);
        self.aggregation(
            StoreDescriptor::new(store),
            Box::new(move |next, ctx, k, v| {
                let value = handle.update(ctx, k, |acc| match acc {
                    Some(acc) => f(acc, v),
                    None => v.clone(),
                })?;
                next.push(ctx, k, &value)
            }),
        )
    }

    /// Each key's records folded into an `A`, `add(so far, key, next)`
    /// starting from `init()`, kept in `store`.
    pub fn aggregate<A>(
        &self,
        store: &'static str,
        init: impl Fn() -> A + Send + Sync + 'static,
        add: impl Fn(A, &K, &V) -> A + Send + Sync + 'static,
    ) -> Stream<K, A>
    where
        A: Serialize + DeserializeOwned + 'static,
    {
        let handle = StoreRef::<K, A>::new(store);
        self.aggregation(
            StoreDescriptor::new(store),
            Box::new(move |next, ctx, k, v| {
                let value = handle.update(ctx, k, |acc| add(acc.unwrap_or_else(&init), k, v))?;
                next.push(ctx, k, &value)
            }),
        )
    }

    /// The group in `windows` of event time: its aggregations are per key
    /// and window, published as `windows` emits (every update, or each
    /// window's final value when it closes).
    pub fn window(self, windows: Windows) -> WindowedGrouped<K, V> {
        WindowedGrouped {
            grouped: self,
            windows,
        }
    }
}

/// A grouped stream in windows, for an aggregation per key and window:
/// from [`Grouped::window`]. Its aggregations give a stream keyed by
/// [`Windowed`] key; a record too late for its windows is dead-lettered
/// (reason `late-record`).
pub struct WindowedGrouped<K, V> {
    grouped: Grouped<K, V>,
    windows: Windows,
}

impl<K, V> std::fmt::Debug for WindowedGrouped<K, V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WindowedGrouped")
            .field("windows", &self.windows)
            .finish_non_exhaustive()
    }
}

/// Publishes what a windowed store's update says to publish, and
/// dead-letters a late record.
fn publish<K: Clone, A>(
    next: &Slot<Windowed<K>, A>,
    ctx: &mut Context,
    update: WindowUpdate<K, A>,
) -> Result<(), TransformError> {
    if update.late {
        ctx.dead_letter(
            "late-record",
            "the record came after every window it falls in closed",
        );
    }
    for (window, key, value) in update.into_results() {
        next.push(ctx, &Windowed { window, key }, &value)?;
    }
    Ok(())
}

impl<K, V> WindowedGrouped<K, V>
where
    K: Serialize + DeserializeOwned + Clone + 'static,
    V: Serialize + DeserializeOwned + 'static,
{
    fn store(&self, name: &'static str) -> StoreDescriptor {
        StoreDescriptor {
            window: Some(self.windows),
            ..StoreDescriptor::new(name)
        }
    }

    /// Notes that `what` does not go with these windows.
    fn refuse<A: 'static>(&self, store: &'static str, what: &str) -> Stream<Windowed<K>, A> {
        let stream = &self.grouped.stream;
        stream.refuse(format!(
            "`{what}` of store `{store}` does not work on {} windows",
            self.windows.kind.name()
        ));
        let slot = stream.parts.borrow_mut().slot::<Windowed<K>, A>();
        Stream {
            parts: stream.parts.clone(),
            slot,
            rekeyed: true,
        }
    }

    /// The number of records of each key in each window, kept in `store`.
    pub fn count(&self, store: &'static str) -> Stream<Windowed<K>, i64> {
        match self.windows.kind {
            WindowKind::Sliding => {
                let handle = SlidingStoreRef::<K, i64>::new(store);
                self.grouped.aggregation(
                    self.store(store),
                    Box::new(move |next, ctx, k, _| {
                        let update = handle.update(ctx, k, 1, |a, b| a + b)?;
                        publish(next, ctx, update)
                    }),
                )
            }
            _ => self.aggregate_merging(store, || 0, |n, _, _| n + 1, |a, b| a + b),
        }
    }

    /// Each key's records in each window combined, `f(so far, next)`, kept
    /// in `store`.
    pub fn reduce(
        &self,
        store: &'static str,
        f: impl Fn(V, &V) -> V + Send + Sync + 'static,
    ) -> Stream<Windowed<K>, V>
    where
        V: Clone,
    {
        match self.windows.kind {
            WindowKind::Sliding => {
                let handle = SlidingStoreRef::<K, V>::new(store);
                self.grouped.aggregation(
                    self.store(store),
                    Box::new(move |next, ctx, k, v| {
                        let update = handle.update(ctx, k, v.clone(), &f)?;
                        publish(next, ctx, update)
                    }),
                )
            }
            WindowKind::Session => {
                let handle = SessionStoreRef::<K, V>::new(store);
                self.grouped.aggregation(
                    self.store(store),
                    Box::new(move |next, ctx, k, v| {
                        let add = |acc: Option<V>| acc.map_or_else(|| v.clone(), |acc| f(acc, v));
                        let update = handle.update(ctx, k, add, |a, b| f(a, &b))?;
                        publish(next, ctx, update)
                    }),
                )
            }
            _ => {
                let handle = WindowStoreRef::<K, V>::new(store);
                self.grouped.aggregation(
                    self.store(store),
                    Box::new(move |next, ctx, k, v| {
                        let add = |acc: Option<V>| acc.map_or_else(|| v.clone(), |acc| f(acc, v));
                        let update = handle.update(ctx, k, add)?;
                        publish(next, ctx, update)
                    }),
                )
            }
        }
    }

    /// Each key's records in each window folded into an `A`, `add(so far,
    /// key, next)` from `init()`, kept in `store`: for tumbling and hopping
    /// windows. Session windows merge, so they need
    /// [`aggregate_merging`](Self::aggregate_merging); sliding windows
    /// [`reduce`](Self::reduce) their records.
    pub fn aggregate<A>(
        &self,
        store: &'static str,
        init: impl Fn() -> A + Send + Sync + 'static,
        add: impl Fn(A, &K, &V) -> A + Send + Sync + 'static,
    ) -> Stream<Windowed<K>, A>
    where
        A: Serialize + DeserializeOwned + Clone + 'static,
    {
        if self.windows.kind != WindowKind::Time {
            return self.refuse(store, "aggregate");
        }
        let handle = WindowStoreRef::<K, A>::new(store);
        self.grouped.aggregation(
            self.store(store),
            Box::new(move |next, ctx, k, v| {
                let update = handle.update(ctx, k, |acc| add(acc.unwrap_or_else(&init), k, v))?;
                publish(next, ctx, update)
            }),
        )
    }

    /// As [`aggregate`](Self::aggregate), and for session windows too: two
    /// sessions a record joins combine as `merge(older, newer)`.
    pub fn aggregate_merging<A>(
        &self,
        store: &'static str,
        init: impl Fn() -> A + Send + Sync + 'static,
        add: impl Fn(A, &K, &V) -> A + Send + Sync + 'static,
        merge: impl Fn(A, A) -> A + Send + Sync + 'static,
    ) -> Stream<Windowed<K>, A>
    where
        A: Serialize + DeserializeOwned + Clone + 'static,
    {
        match self.windows.kind {
            WindowKind::Session => {
                let handle = SessionStoreRef::<K, A>::new(store);
                self.grouped.aggregation(
                    self.store(store),
                    Box::new(move |next, ctx, k, v| {
                        let update =
                            handle.update(ctx, k, |acc| add(acc.unwrap_or_else(&init), k, v), &merge)?;
                        publish(next, ctx, update)
                    }),
                )
            }
            WindowKind::Time => self.aggregate(store, init, add),
            _ => self.refuse(store, "aggregate_merging"),
        }
    }
}
