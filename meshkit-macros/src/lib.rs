//! The declarative DSL of meshkit: declare a data product's identity, ports,
//! stores and transforms in one attribute, and get its
//! [`DataProduct`](../meshkit/trait.DataProduct.html) implementation.
//!
//! The macro only writes glue: a `ProductDescriptor` builder chain of static
//! metadata and a `process` that dispatches each record, by input port, to
//! your method, unchanged. Everything it generates can be written by hand
//! (see [the hand-written equivalent](#the-hand-written-equivalent)). It is
//! re-exported by `meshkit`, which pins it with an exact version.
//!
//! # A product in 30 lines
//!
//! ```ignore
//! use meshkit::state::StoreRef;
//! use meshkit::{Context, TransformError};
//!
//! #[derive(Default)]
//! pub struct CustomerSpend;
//!
//! #[meshkit::product(
//!     domain = "sales",
//!     name = "customer-spend",
//!     version = "1.0.0",
//!     owner = "team-sales@example.com",
//!     description = "Each customer's paid orders and total spend",
//!     tags = ["sales", "tier-1"],
//!     slo(freshness = "5m", latency = "250ms"),
//!     input(orders, topic = "sales.orders", value = Order),
//!     store(totals, key = String, value = Spend),
//!     output(spend, topic = "sales.customer-spend", value = Spend),
//! )]
//! impl CustomerSpend {
//!     #[transform(orders, stores = [totals])]
//!     fn on_order(&mut self, order: &Order, totals: StoreRef<String, Spend>, ctx: &mut Context)
//!         -> Result<(), TransformError> {
//!         let mut totals = totals.open(ctx)?;
//!         let mut spend = totals.get(&order.customer)?.unwrap_or_default();
//!         spend.orders += 1;
//!         spend.total_cents += order.amount_cents;
//!         totals.put(&order.customer, &spend)?;
//!         ctx.emit_value("spend", Some(order.customer.clone().into_bytes()), &spend)?;
//!         Ok(())
//!     }
//! }
//! ```
//!
//! (`Order` and `Spend` derive `apache_avro::AvroSchema`, `serde::Serialize`
//! and `serde::Deserialize`; `Spend` also `Default`.)
//!
//! # Reference
//!
//! `#[meshkit::product(...)]` goes on the `impl` block of your product type
//! (a struct of yours, which may hold configuration). Its arguments are
//! comma-separated `key = value`, `key = [values]` or `key(...)` entries, in
//! any order. Durations are strings of a number and a unit, `ms`, `s`, `m`,
//! `h` or `d`, which may be combined: `"250ms"`, `"10s"`, `"1h30m"`.
//!
//! ## Identity
//!
//! | Key | Required | Meaning | Example |
//! |---|---|---|---|
//! | `domain` | yes | The business domain that owns the product; ASCII letters, digits, `.`, `_`, `-` (it names the consumer group and changelog topics) | `domain = "sales"` |
//! | `name` | yes | The product's name within its domain; same characters | `name = "customer-spend"` |
//! | `version` | yes | Its semantic version, `MAJOR.MINOR.PATCH[-PRE][+BUILD]`, checked at compile time | `version = "1.0.0"` |
//! | `owner` | yes | The accountable team or person | `owner = "team-sales@example.com"` |
//! | `description` | no | What it offers, for the catalog | `description = "Spend per customer"` |
//! | `tags` | no | Catalog tags, non-empty and distinct | `tags = ["sales", "tier-1"]` |
//! | `slo(...)` | no | Service level objectives: `freshness` (how old the newest output may be relative to its input) and `latency` (from consuming a record to committing its outputs), positive durations | `slo(freshness = "5m", latency = "250ms")` |
//! | `crate` | no | Where meshkit is, if not at `::meshkit` (e.g. re-exported by your own crate) | `crate = "my_reexport::meshkit"` |
//!
//! ## Ports
//!
//! `input(name, ...)` and `output(name, ...)`, one entry per port, each
//! starting with the port's name (an identifier, unique across inputs and
//! outputs):
//!
//! | Key | Required | Meaning | Example |
//! |---|---|---|---|
//! | `topic` | yes | The Kafka topic: ASCII letters, digits, `.`, `_`, `-`, at most 249 characters; an output's topic is no input's | `topic = "sales.orders"` |
//! | `value` | no | The Avro type of the values (a type with `AvroSchema` and serde); without it, the port carries raw bytes | `value = Order` |
//! | `key` | no | The Avro type of the keys, making the port keyed (needs `value`) | `key = OrderId` |
//!
//! A product has at least one input and one output.
//!
//! `table(name, ...)` and `global_table(name, ...)` declare input ports read
//! as tables, with the keys of an output port (no `event_time`); both need
//! `key` and `value`. A table is kept per task and must be co-partitioned
//! with the streams; a global table is read whole by every instance. The
//! `#[topology]` reads them (`t.table(Self::IN.name)`,
//! `t.global_table(Self::IN.name)`); no `#[transform]` takes them.
//!
//! ## Stores
//!
//! `store(name, ...)`, one entry per store, starting with its name (an ASCII
//! identifier, unique within the product):
//!
//! | Key | Required | Meaning | Example |
//! |---|---|---|---|
//! | `key` | yes | The type of its keys (serde) | `key = String` |
//! | `value` | yes | The type of its values (serde) | `value = Spend` |
//! | `window(...)` | no | Makes it a windowed store of event-time windows: `kind = tumbling \| hopping \| sliding \| session` (default tumbling, or hopping when `advance` is given), `size` (required but for sessions), `advance` (hopping windows; at most `size`), `gap` (sessions only, required: how long a key may be inactive and its session go on), `grace` (how long a window accepts late records, default none), `emit = on_close \| every_update` (default `every_update`), `retention` (tumbling and hopping: how long a closed window's final value stays readable, default none) | `window(size = "1m", grace = "10s", emit = on_close)`, `window(kind = session, gap = "30m")`, `window(kind = sliding, size = "5m")` |
//!
//! ## Transforms
//!
//! Each input port is handled by one method of the `impl` block marked
//! `#[transform(port, ...)]`:
//!
//! | Entry | Meaning | Example |
//! |---|---|---|
//! | `port` (first, required) | The input port it handles | `#[transform(orders)]` |
//! | `stores = [...]` | The stores it uses, passed in this order | `stores = [totals, per_minute]` |
//! | `record` | Also pass the `&Record<'_>` (timestamp, headers, offsets), first | `record` |
//!
//! The method takes, after an optional `&self` or `&mut self`, in order:
//! 1. `record: &Record<'_>`, with the `record` flag;
//! 2. `key: &K`, on a keyed port (`key = K`);
//! 3. `value: &V`, the decoded value (`value = V`), or `Option<&[u8]>` on a
//!    raw port;
//! 4. for each store listed, a `StoreRef<K, V>` (or, for a windowed store,
//!    `WindowStoreRef<K, V>`, `SlidingStoreRef<K, V>` or
//!    `SessionStoreRef<K, V>` by its kind): a typed handle, opened with
//!    `.open(ctx)`;
//! 5. `ctx: &mut Context`, to emit outputs and open stores;
//!
//! and returns `Result<(), TransformError>`. It may be `async`. A store
//! handle borrows the context while open, and Rust ends that borrow at its
//! last use, so open a store, use it, then emit.
//!
//! ## Timers
//!
//! A method marked `#[timer(every = "30s", ...)]` runs once per period for
//! each task (input partition) the instance owns, in the open transaction:
//!
//! | Entry | Meaning | Example |
//! |---|---|---|
//! | `every` (required) | The period | `every = "30s"` |
//! | `clock` | `wall` (the default: the machine's clock, so it fires on idle partitions too) or `stream` (the records' timestamps) | `clock = stream` |
//! | `stores = [...]` | The stores it uses, passed in this order | `stores = [pending]` |
//!
//! The method takes, after an optional `&self` or `&mut self`, a handle per
//! store listed, then `ctx: &mut Context` (`ctx.timestamp()` is the tick),
//! and returns `Result<(), TransformError>`. It may be `async`. Its name is
//! the timer's (`DataProduct::on_timer`).
//!
//! ## Topology
//!
//! One method marked `#[topology]`, `fn flow(t: &mut Topology)` (no
//! `self`, not `async`), builds the product's logic as stream operators
//! (`meshkit::ops`, feature `ops`): streams start from `Self::IN.<port>`,
//! one typed handle per input port with a value type, and end in
//! `Self::OUT.<port>`. It runs once per product type; the stores its
//! aggregations name, and the repartition topics its re-keying needs, are
//! added to the descriptor. Input ports without a `#[transform]` are the
//! topology's to read, so they need a value type; a product can mix the
//! two, a transform for some ports and the topology for the others. A step
//! that does not fit the one before it, or an output of another type, is a
//! type error on the step. (`meshkit-macros/tests/pass/topology.rs` runs a
//! product like this one.)
//!
//! ```ignore
//! use meshkit::ops::Topology;
//!
//! #[derive(Clone, serde::Serialize, serde::Deserialize)]
//! pub struct View {
//!     pub page: String,
//! }
//!
//! pub struct ViewsPerPage;
//!
//! #[meshkit::product(
//!     domain = "web", name = "views-per-page", version = "1.0.0", owner = "team-web",
//!     input(views, topic = "web.views", key = String, value = View, format = json),
//!     output(per_page, topic = "web.views-per-page", key = String, value = i64, format = json),
//! )]
//! impl ViewsPerPage {
//!     #[topology]
//!     fn flow(t: &mut Topology) {
//!         t.stream(Self::IN.views)
//!             .group_by(|_user, view| view.page.clone())
//!             .count("per-page")
//!             .to(Self::OUT.per_page);
//!     }
//! }
//! ```
//!
//! ## What is checked at compile time
//!
//! By the macro, each with a message on your tokens, all at once: unknown
//! keys (listing the valid ones and suggesting the nearest), repeated keys,
//! missing `domain`, `name`, `version` or `owner`, a version that is not
//! semver, invalid topic names, duplicate port or store names, an output
//! topic that is an input topic, a window without a size, a transform bound to
//! an unknown port or using an unknown store, an input port without transform,
//! a transform or a timer with the wrong number of parameters, a timer
//! without `every` or on an unknown clock.
//!
//! By the compiler, on your tokens: a port type without an Avro schema, a store
//! type that serde cannot encode, a parameter or return type that does not
//! match. On any mistake the macro still emits your `impl` block and a stub
//! `DataProduct` implementation, so that one mistake gives one error.
//!
//! # The hand-written equivalent
//!
//! The product above expands to your `impl` block without `#[transform]`,
//! and this (`::meshkit::__private` re-exports meshkit's public items for
//! generated code; by hand, use them from `meshkit` directly). The calls
//! that carry a user type are spanned on it, so that the compiler's error
//! (no Avro schema, not serializable, wrong parameter or return type) lands
//! on your tokens.
//!
//! ```ignore
//! const _: () = {
//!     use ::meshkit::__private as __meshkit;
//!
//!     #[automatically_derived]
//!     impl __meshkit::DataProduct for CustomerSpend {
//!         fn descriptor(&self) -> Result<__meshkit::ProductDescriptor, __meshkit::DescriptorError> {
//!             // Compile-time checks that the store's types can be kept in a
//!             // store (a local trait, so that a type missing both serde
//!             // traits gets one error, with this message).
//!             #[diagnostic::on_unimplemented(message = "`{Self}` cannot be kept in a store: …")]
//!             trait StoreType {}
//!             impl<T: __meshkit::serde::Serialize + __meshkit::serde::de::DeserializeOwned> StoreType for T {}
//!             fn store_type<T: StoreType>() {}
//!             store_type::<String>();
//!             store_type::<Spend>();
//!             __meshkit::ProductDescriptor::builder("sales", "customer-spend")
//!                 .version("1.0.0")
//!                 .owner("team-sales@example.com")
//!                 .description("Each customer's paid orders and total spend")
//!                 .tag("sales")
//!                 .tag("tier-1")
//!                 .freshness_slo(::core::time::Duration::from_millis(300000u64))
//!                 .latency_slo(::core::time::Duration::from_millis(250u64))
//!                 .input_avro::<Order>("orders", "sales.orders")
//!                 .output_avro::<Spend>("spend", "sales.customer-spend")
//!                 .store("totals")
//!                 .build()
//!         }
//!
//!         async fn process(
//!             &mut self,
//!             record: &__meshkit::Record<'_>,
//!             ctx: &mut __meshkit::Context,
//!         ) -> Result<(), __meshkit::TransformError> {
//!             match record.port() {
//!                 "orders" => {
//!                     let __value = record.value_as::<Order>()?;
//!                     self.on_order(__value, __meshkit::StoreRef::<String, Spend>::new("totals"), ctx)
//!                 }
//!                 __port => Err(__meshkit::TransformError::new(format!(
//!                     "no transform for input port `{}`",
//!                     __port
//!                 ))),
//!             }
//!         }
//!     }
//! };
//! ```
//!
//! A keyed port becomes `.input_with("orders", "sales.orders",
//! PortSchema::value::<Order>().with_key::<OrderId>())` and passes
//! `record.key_as::<OrderId>()?` before the value; a raw port becomes
//! `.input("raw", "sales.raw")` and passes `record.value()`; a windowed store
//! becomes `.window_store("per_minute", Windows::hopping(size,
//! advance).grace(grace).emit(Emit::OnClose))` and passes a
//! `WindowStoreRef`; an `async` method is awaited.

#![deny(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
#![cfg_attr(test, allow(clippy::indexing_slicing))]

mod check;
mod errors;
mod expand;
mod keys;
mod lit;
mod model;
mod parse;

use proc_macro::TokenStream;

/// Declares a data product on the `impl` block of its type: identity, ports,
/// stores, and the methods marked `#[transform(port)]` that handle each input
/// port. Implements `meshkit::DataProduct` for the type.
///
/// See the [crate documentation](crate) for every key and an example.
#[proc_macro_attribute]
pub fn product(args: TokenStream, item: TokenStream) -> TokenStream {
    expand::product(args.into(), item.into()).into()
}

/// Binds a method of a `#[meshkit::product(...)]` `impl` block to an input
/// port: `#[transform(orders, stores = [totals], record)]`.
///
/// It is read by [`macro@product`]; used anywhere else it is an error. See the
/// [crate documentation](crate#transforms) for the parameters the method takes.
#[proc_macro_attribute]
pub fn transform(_args: TokenStream, item: TokenStream) -> TokenStream {
    expand::stray_transform(item.into()).into()
}

/// Makes a method of a `#[meshkit::product(...)]` block a timer:
/// `#[timer(every = "30s", clock = wall, stores = [pending])]`, run once per
/// period for each task with the stores listed and the context (see
/// `meshkit::DataProduct::on_timer`). `clock` is `wall` (the default: fires
/// on idle partitions too) or `stream` (the records' timestamps). Read by
/// `product`; on its own it is an error.
#[proc_macro_attribute]
pub fn timer(_args: TokenStream, item: TokenStream) -> TokenStream {
    expand::stray_timer(item.into()).into()
}

/// Marks the method of a `#[meshkit::product(...)]` block that builds the
/// product's stream operators: `#[topology] fn flow(t: &mut Topology)`, an
/// associated function run once per product type (see `meshkit::ops`).
/// Input ports without a `#[transform]` are the topology's to read. Read by
/// `product`; on its own it is an error.
#[proc_macro_attribute]
pub fn topology(_args: TokenStream, item: TokenStream) -> TokenStream {
    expand::stray_topology(item.into()).into()
}
