//! Stream operators: a product's logic as a small typed topology over its
//! ports (filter, map, re-key, aggregate, window, send), beside the
//! imperative transform.
//!
//! A [`Topology`] is built once, by a function the product gives
//! [`Dataflow::new`]; each step is a closure typed by the records it takes
//! and gives, so a step that does not fit the one before it, or an output
//! port of another type, is a compile error on the user's code. Built, it
//! is a [`Dataflow`]: its [`process`](Dataflow::process) runs a record
//! through the steps of its port, on the [`Context`] the runtime hands the
//! product. There is no second engine: the stores the aggregations keep are
//! the product's declared stores ([`Dataflow::declare`] adds them), with
//! their changelogs, and what the steps send goes into the record's
//! transaction like any transform's output.
//!
//! Tables ([`Topology::table`]) keep a table port per task in a store;
//! global tables ([`Topology::global_table`]) hold a global table port
//! whole on every instance. Streams join them ([`Stream::join`],
//! [`Stream::join_global`]), tables join tables ([`Table::join`] and its
//! left and outer kinds), and streams join streams within a window
//! ([`Stream::join_within`]).
//!
//! Re-keying ([`Stream::group_by`], or grouping a stream whose keys a
//! [`map`](Stream::map) changed) goes through a repartition topic, as in
//! Kafka Streams: the records are written with their new key to the
//! aggregation's internal port and read back by the task that owns that
//! key, so the aggregate of a key is whole in one task.
//!
//! # Examples
//!
//! Views per page, counted by page although the views are keyed by user:
//!
//! ```
//! use meshkit::ops::{Dataflow, Input};
//! use meshkit::{Context, DataProduct, DescriptorError, Output, ProductDescriptor, Record, TransformError};
//! use meshkit::schema::PortSchema;
//!
//! #[derive(Clone, serde::Serialize, serde::Deserialize, apache_avro::AvroSchema)]
//! struct View {
//!     page: String,
//! }
//!
//! const VIEWS: Input<String, View> = Input::new("views");
//! const PER_PAGE: Output<String, i64> = Output::new("per-page");
//!
//! struct ViewsPerPage {
//!     flow: Dataflow,
//! }
//!
//! impl ViewsPerPage {
//!     fn new() -> Self {
//!         let flow = Dataflow::new(|t| {
//!             t.stream(VIEWS)
//!                 .group_by(|_user, view| view.page.clone())
//!                 .count("views-per-page")
//!                 .to(PER_PAGE);
//!         });
//!         Self { flow }
//!     }
//! }
//!
//! impl DataProduct for ViewsPerPage {
//!     fn descriptor(&self) -> Result<ProductDescriptor, DescriptorError> {
//!         let ports = ProductDescriptor::builder("web", "views-per-page")
//!             .version("1.0.0")
//!             .owner("team-web")
//!             .input_with("views", "web.views", PortSchema::value::<View>().with_string_key())
//!             .output_with("per-page", "web.views-per-page", PortSchema::value::<i64>().with_string_key());
//!         self.flow.declare(ports)?.build()
//!     }
//!
//!     async fn process(&mut self, record: &Record<'_>, ctx: &mut Context) -> Result<(), TransformError> {
//!         self.flow.process(record, ctx)
//!     }
//! }
//!
//! let descriptor = ViewsPerPage::new().descriptor()?;
//! assert_eq!(descriptor.stores[0].name, "views-per-page");
//! assert_eq!(descriptor.repartitions, ["views-per-page"]);
//! # Ok::<(), meshkit::DescriptorError>(())
//! ```

mod global;
mod grouped;
mod input;
mod join;
mod table;

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::{Arc, Mutex, OnceLock};

pub use global::GlobalTable;
pub use grouped::{Grouped, Windowed, WindowedGrouped};
pub use input::{GlobalTableInput, Input, TableInput};
pub use join::JoinWindows;
pub use table::Table;

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::error::{DescriptorError, TransformError};
use crate::product::{repartition_port, DescriptorBuilder, StoreDescriptor};
use crate::record::Record;
use crate::runtime::contract::{Context, DeadLetterReason, Output};
use crate::stores::{decode_key, decode_value, encode_key, encode_value};

/// One step: what it does with a record, given the steps after it.
type Step<K, V> = Box<dyn Fn(&mut Context, &K, &V) -> Result<(), TransformError> + Send + Sync>;

/// Where a stream's records go: the steps that take them. Steps are added
/// while the topology is built and frozen once it is, so that running reads
/// them without a lock.
struct Slot<K, V> {
    building: Mutex<Vec<Step<K, V>>>,
    steps: OnceLock<Box<[Step<K, V>]>>,
}

impl<K, V> Slot<K, V> {
    fn new() -> Self {
        Self {
            building: Mutex::new(Vec::new()),
            steps: OnceLock::new(),
        }
    }

    fn add(&self, step: Step<K, V>) {
        self.building
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(step);
    }

    /// Passes a record to every step that takes this stream.
    fn push(&self, ctx: &mut Context, key: &K, value: &V) -> Result<(), TransformError> {
        for step in self.steps.get().map_or(&[][..], |s| &s[..]) {
            step(ctx, key, value)?;
        }
        Ok(())
    }
}

/// A slot of any record type, frozen when the topology is built.
trait Freeze: Send + Sync {
    fn freeze(&self);
}

impl<K, V> Freeze for Slot<K, V> {
    fn freeze(&self) {
        let steps = std::mem::take(
            &mut *self
                .building
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        );
        let _ = self.steps.set(steps.into_boxed_slice());
    }
}

/// How records of an input port enter the topology.
type Entry = Box<dyn Fn(&Record<'_>, &mut Context) -> Result<(), TransformError> + Send + Sync>;

/// What a topology declares while it is built.
#[derive(Default)]
struct Parts {
    entries: Vec<(String, Entry)>,
    slots: Vec<Arc<dyn Freeze>>,
    stores: Vec<StoreDescriptor>,
    repartitions: Vec<String>,
    errors: Vec<String>,
}

impl Parts {
    fn slot<K: 'static, V: 'static>(&mut self) -> Arc<Slot<K, V>> {
        let slot = Arc::new(Slot::new());
        self.slots.push(slot.clone());
        slot
    }
}

/// Routes what `from` gives through repartition `name`: each record is
/// written with its key to the repartition's internal port, and read back
/// by the task that owns the key into the slot returned.
fn repartitioned<K, V>(parts: &mut Parts, from: &Slot<K, V>, name: &str) -> Arc<Slot<K, V>>
where
    K: Serialize + DeserializeOwned + 'static,
    V: Serialize + DeserializeOwned + 'static,
{
    let port = repartition_port(name);
    parts.repartitions.push(name.to_string());
    let (to, what) = (port.clone(), name.to_string());
    from.add(Box::new(move |ctx, k, v| {
        let (key, value) = (encode_key(&what, k)?, encode_value(&what, v)?);
        ctx.emit(&to, Some(key), value)?;
        Ok(())
    }));
    let read_back = parts.slot::<K, V>();
    let (target, what) = (read_back.clone(), name.to_string());
    parts.entries.push((
        port,
        Box::new(move |record, ctx| {
            let key: K = decode_key(&what, record.key().unwrap_or_default())?;
            let value: V = decode_value(&what, record.value().unwrap_or_default())?;
            target.push(ctx, &key, &value)
        }),
    ));
    read_back
}

/// The topology being built: where streams start. Handed to the function
/// given to [`Dataflow::new`] (the DSL's `#[topology]` method).
pub struct Topology {
    parts: Rc<RefCell<Parts>>,
}

impl std::fmt::Debug for Topology {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let parts = self.parts.borrow();
        f.debug_struct("Topology")
            .field(
                "inputs",
                &parts.entries.iter().map(|(p, _)| p).collect::<Vec<_>>(),
            )
            .field(
                "stores",
                &parts.stores.iter().map(|s| &s.name).collect::<Vec<_>>(),
            )
            .finish()
    }
}

impl Topology {
    /// The stream of input port `input`'s records: its keys (`()` on a port
    /// without keys) and decoded values. A port can start several streams;
    /// each gets every record.
    pub fn stream<K: 'static, V: 'static>(&mut self, input: Input<K, V>) -> Stream<K, V> {
        let slot = self.parts.borrow_mut().slot::<K, V>();
        let target = slot.clone();
        let entry: Entry = Box::new(move |record, ctx| {
            let (key, value) = input.decode(record)?;
            target.push(ctx, key, value)
        });
        self.parts
            .borrow_mut()
            .entries
            .push((input.name().to_string(), entry));
        Stream {
            parts: self.parts.clone(),
            slot,
            rekeyed: false,
        }
    }
}

/// A stream of records keyed by `K` with values `V`, in a topology being
/// built. Each operator adds a step and returns the stream of what it gives;
/// a stream can feed several operators (each gets every record).
pub struct Stream<K, V> {
    parts: Rc<RefCell<Parts>>,
    slot: Arc<Slot<K, V>>,
    /// Whether a step changed the keys since the input: grouping then goes
    /// through a repartition topic.
    rekeyed: bool,
}

impl<K, V> Clone for Stream<K, V> {
    fn clone(&self) -> Self {
        Self {
            parts: self.parts.clone(),
            slot: self.slot.clone(),
            rekeyed: self.rekeyed,
        }
    }
}

impl<K, V> std::fmt::Debug for Stream<K, V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Stream")
            .field("rekeyed", &self.rekeyed)
            .finish_non_exhaustive()
    }
}

impl<K: 'static, V: 'static> Stream<K, V> {
    /// Adds `step` after this stream; returns the stream it feeds.
    fn then<K2: 'static, V2: 'static>(
        &self,
        rekeyed: bool,
        step: impl Fn(&Slot<K2, V2>, &mut Context, &K, &V) -> Result<(), TransformError> + Send + Sync + 'static,
    ) -> Stream<K2, V2> {
        let next = self.parts.borrow_mut().slot::<K2, V2>();
        let target = next.clone();
        self.slot
            .add(Box::new(move |ctx, key, value| step(&target, ctx, key, value)));
        Stream {
            parts: self.parts.clone(),
            slot: next,
            rekeyed,
        }
    }

    /// The records for which `keep` is true.
    pub fn filter(&self, keep: impl Fn(&K, &V) -> bool + Send + Sync + 'static) -> Stream<K, V> {
        self.then(self.rekeyed, move |next, ctx, k, v| {
            if keep(k, v) {
                next.push(ctx, k, v)
            } else {
                Ok(())
            }
        })
    }

    /// Each record as a new key and value. Grouping the result by key goes
    /// through a repartition topic.
    pub fn map<K2: 'static, V2: 'static>(
        &self,
        f: impl Fn(&K, &V) -> (K2, V2) + Send + Sync + 'static,
    ) -> Stream<K2, V2> {
        self.then(true, move |next, ctx, k, v| {
            let (key, value) = f(k, v);
            next.push(ctx, &key, &value)
        })
    }

    /// Each record with a new value, its key kept.
    pub fn map_values<V2: 'static>(&self, f: impl Fn(&V) -> V2 + Send + Sync + 'static) -> Stream<K, V2> {
        self.then(self.rekeyed, move |next, ctx, k, v| next.push(ctx, k, &f(v)))
    }

    /// Each record with a new key, its value kept: what
    /// [`group_by`](Self::group_by) does before repartitioning.
    pub fn select_key<K2: 'static>(&self, f: impl Fn(&K, &V) -> K2 + Send + Sync + 'static) -> Stream<K2, V> {
        self.then(true, move |next, ctx, k, v| next.push(ctx, &f(k, v), v))
    }

    /// Each record as any number of records. Grouping the result by key
    /// goes through a repartition topic.
    pub fn flat_map<K2: 'static, V2: 'static, I>(
        &self,
        f: impl Fn(&K, &V) -> I + Send + Sync + 'static,
    ) -> Stream<K2, V2>
    where
        I: IntoIterator<Item = (K2, V2)>,
    {
        self.then(true, move |next, ctx, k, v| {
            f(k, v)
                .into_iter()
                .try_for_each(|(key, value)| next.push(ctx, &key, &value))
        })
    }

    /// Each record as any number of values, its key kept.
    pub fn flat_map_values<V2: 'static, I>(
        &self,
        f: impl Fn(&V) -> I + Send + Sync + 'static,
    ) -> Stream<K, V2>
    where
        I: IntoIterator<Item = V2>,
    {
        self.then(self.rekeyed, move |next, ctx, k, v| {
            f(v).into_iter().try_for_each(|value| next.push(ctx, k, &value))
        })
    }

    /// The records for which `refuse` is false; the others are sent to the
    /// dead-letter topic with reason `code` (the `meshkit.dlq.reason`
    /// header, lowercase words joined by `-`), in the record's transaction,
    /// as [`Context::dead_letter`] does. After a repartition, the record
    /// dead-lettered is the repartitioned one.
    pub fn dead_letter_if(
        &self,
        code: &'static str,
        refuse: impl Fn(&K, &V) -> bool + Send + Sync + 'static,
    ) -> Stream<K, V> {
        self.then(self.rekeyed, move |next, ctx, k, v| {
            if refuse(k, v) {
                ctx.dead_letter(code, format!("the record broke the product's rule `{code}`"));
                Ok(())
            } else {
                next.push(ctx, k, v)
            }
        })
    }

    /// The records for which `check` gives no reason; the others are sent to
    /// the dead-letter topic with the reason it gives
    /// ([`Context::dead_letter_for`]).
    pub fn dead_letter_for<R: DeadLetterReason>(
        &self,
        check: impl Fn(&K, &V) -> Option<R> + Send + Sync + 'static,
    ) -> Stream<K, V> {
        self.then(self.rekeyed, move |next, ctx, k, v| match check(k, v) {
            Some(reason) => {
                ctx.dead_letter_for(&reason);
                Ok(())
            }
            None => next.push(ctx, k, v),
        })
    }

    /// Calls `f` on each record and passes it on unchanged.
    pub fn inspect(&self, f: impl Fn(&K, &V) + Send + Sync + 'static) -> Stream<K, V> {
        self.then(self.rekeyed, move |next, ctx, k, v| {
            f(k, v);
            next.push(ctx, k, v)
        })
    }

    /// Sends every record to output port `output`, whose key and value
    /// types must be this stream's (`()` keys for a port without keys).
    pub fn to(&self, output: Output<K, V>)
    where
        K: std::any::Any,
        V: std::any::Any,
    {
        self.slot.add(Box::new(move |ctx, key, value| {
            output.send(ctx, key, value)?;
            Ok(())
        }));
    }

    /// The same records, through repartition topic `name`: each reaches
    /// the task that owns its key. What a join or an aggregation of a
    /// re-keyed stream needs (an aggregation does it by itself).
    pub fn repartition(&self, name: &str) -> Stream<K, V>
    where
        K: Serialize + DeserializeOwned,
        V: Serialize + DeserializeOwned,
    {
        let slot = repartitioned(&mut self.parts.borrow_mut(), &self.slot, name);
        Stream {
            parts: self.parts.clone(),
            slot,
            rekeyed: false,
        }
    }

    /// Notes a mistake of the topology, reported by `Dataflow::declare`.
    fn refuse(&self, reason: String) {
        self.parts.borrow_mut().errors.push(reason);
    }

    /// Groups the records by their key, for an aggregation. If a step
    /// changed the keys since the input, the aggregation reads them through
    /// a repartition topic first.
    pub fn group_by_key(&self) -> Grouped<K, V> {
        Grouped::new(self.clone(), self.rekeyed)
    }

    /// Groups the records by a new key, `key(k, v)`, for an aggregation,
    /// which reads them through a repartition topic so that each new key's
    /// records reach one task.
    pub fn group_by<K2: 'static>(
        &self,
        key: impl Fn(&K, &V) -> K2 + Send + Sync + 'static,
    ) -> Grouped<K2, V> {
        Grouped::new(self.select_key(key), true)
    }
}

/// A built topology: the steps of each input port, and the stores and
/// repartitions they need. Cheap to share: running it takes `&self`.
pub struct Dataflow {
    entries: Vec<(String, Entry)>,
    stores: Vec<StoreDescriptor>,
    repartitions: Vec<String>,
    errors: Vec<String>,
}

impl std::fmt::Debug for Dataflow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Dataflow")
            .field("inputs", &self.entries.iter().map(|(p, _)| p).collect::<Vec<_>>())
            .field("stores", &self.stores.iter().map(|s| &s.name).collect::<Vec<_>>())
            .field("repartitions", &self.repartitions)
            .finish_non_exhaustive()
    }
}

impl Dataflow {
    /// Builds the topology `build` describes.
    pub fn new(build: impl FnOnce(&mut Topology)) -> Self {
        let mut topology = Topology { parts: Rc::default() };
        build(&mut topology);
        let parts = std::mem::take(&mut *topology.parts.borrow_mut());
        for slot in &parts.slots {
            slot.freeze();
        }
        Self {
            entries: parts.entries,
            stores: parts.stores,
            repartitions: parts.repartitions,
            errors: parts.errors,
        }
    }

    /// Adds the stores and repartitions the topology keeps to a product's
    /// declaration (its identity and ports).
    ///
    /// # Errors
    ///
    /// [`DescriptorError::InvalidTopology`] if the topology combines steps
    /// that do not go together (an aggregation its windows do not support).
    pub fn declare(&self, mut builder: DescriptorBuilder) -> Result<DescriptorBuilder, DescriptorError> {
        if let Some(reason) = self.errors.first() {
            return Err(DescriptorError::InvalidTopology {
                reason: reason.clone(),
            });
        }
        for store in &self.stores {
            builder = builder.store_with(store.clone());
        }
        for name in &self.repartitions {
            builder = builder.repartition(name.clone());
        }
        Ok(builder)
    }

    /// The input ports the topology reads (a repartition's internal port
    /// included), in the order they were first read.
    pub fn inputs(&self) -> impl Iterator<Item = &str> {
        let mut seen: Vec<&str> = Vec::new();
        for (port, _) in &self.entries {
            if !seen.contains(&port.as_str()) {
                seen.push(port);
            }
        }
        seen.into_iter()
    }

    /// Runs `record` through the steps of its port.
    ///
    /// # Errors
    ///
    /// What a step fails with (a store or output that fails, a repartitioned
    /// record that does not decode), or a [`TransformError`] if no step
    /// reads the record's port.
    pub fn process(&self, record: &Record<'_>, ctx: &mut Context) -> Result<(), TransformError> {
        let mut read = false;
        for (port, entry) in &self.entries {
            if port == record.port() {
                read = true;
                entry(record, ctx)?;
            }
        }
        if read {
            Ok(())
        } else {
            Err(TransformError::new(format!(
                "no step of the product's topology reads input port `{}`",
                record.port()
            )))
        }
    }
}
