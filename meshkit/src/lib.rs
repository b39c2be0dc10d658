//! # meshkit
//!
//! Build data products for a data mesh on Kafka: declare a product's identity
//! and ports, write its transform, and the runtime consumes, transforms and
//! produces **exactly once**: outputs, dead letters and input offsets commit in
//! one Kafka transaction.
//!
//! Every part can be written by hand against public traits:
//! [`DataProduct`] (its [`ProductDescriptor`] and its transform), run by a
//! [`Runtime`] configured by a [`Config`].
//!
//! ```no_run
//! use meshkit::{Config, Context, DataProduct, DescriptorError, ProductDescriptor, Record, Runtime, TransformError};
//!
//! struct Shout;
//!
//! impl DataProduct for Shout {
//!     fn descriptor(&self) -> Result<ProductDescriptor, DescriptorError> {
//!         ProductDescriptor::builder("demo", "shout")
//!             .version("1.0.0")
//!             .owner("team-demo")
//!             .input("words", "demo.words")
//!             .output("loud", "demo.words.loud")
//!             .build()
//!     }
//!
//!     async fn process(&mut self, record: &Record<'_>, ctx: &mut Context) -> Result<(), TransformError> {
//!         let loud = record.value().unwrap_or_default().to_ascii_uppercase();
//!         ctx.emit("loud", record.key().map(<[u8]>::to_vec), loud)?;
//!         Ok(())
//!     }
//! }
//!
//! # async fn run() -> Result<(), meshkit::Error> {
//! // With no MESHKIT_BROKERS set, this runs on the embedded local cluster.
//! Runtime::new(Shout, Config::from_env()?)?.await
//! # }
//! ```
//!
//! ## Which brokers give full exactly-once
//!
//! Exactly-once needs a broker that implements Kafka transactions: Apache
//! Kafka (and compatible brokers that implement KIP-98 and KIP-447 fully),
//! which is the broker meshkit's tests run on. The embedded local cluster
//! does not (it is for running examples). meshkit's tests judge exactly-once
//! by reading the raw log and applying the transaction markers themselves, an
//! oracle independent of the broker's own read_committed filtering (and
//! tested to agree with it).

#![cfg_attr(docsrs, feature(doc_cfg))]

// The layers, each importing only those above it in this list (checked by
// the `layers` test in meshkit/tests):
//
// 1. core types: leaf errors, records, the error policy, window
//    specifications;
// 2. Kafka I/O: client settings, topic administration, the embedded cluster;
// 3. codecs (`schema`: Avro, the wire format, registries, the start-up gate)
//    and state (`stores`: RocksDB stores and their changelogs);
// 4. the product's descriptor (identity, ports with their codecs, stores);
// 5. the runtime's settings (`config`) and its metrics;
// 6. the catalog: records, contracts, lineage, the catalog reader;
// 7. the runtime, with the user contract (`DataProduct`, `Context`, store
//    handles) it serves;
// 7b. what reads what the runtime writes: the dead-letter tools (`dlq`, the
//    runtime's dead-letter header names) and the test driver;
// 8. this file: the public paths, re-exported from the layers.
mod error;
mod policy;
mod record;
mod timer;
mod window;

pub mod kafka;

pub mod schema;
#[cfg(feature = "state")]
mod stores;

mod product;

mod config;
mod metrics;

#[cfg(feature = "catalog")]
#[cfg_attr(docsrs, doc(cfg(feature = "catalog")))]
pub mod catalog;

#[cfg(feature = "dlq")]
#[cfg_attr(docsrs, doc(cfg(feature = "dlq")))]
pub mod dlq;
mod runtime;
#[cfg(feature = "testing")]
#[cfg_attr(docsrs, doc(cfg(feature = "testing")))]
pub mod testing;

// The tests that use it run the embedded registry against the broker.
#[cfg(all(test, feature = "registry-server"))]
mod test_support;

pub use config::{Config, ConfigBuilder};
pub use error::{ConfigError, DescriptorError, ErrorChain, TransformError};
#[cfg(feature = "embedded-kafka")]
pub use kafka::EmbeddedCluster;
#[cfg(feature = "metrics")]
pub use metrics::Metrics;
pub use policy::{ErrorPolicy, Guarantee};
pub use product::{
    repartition_port, repartition_topic, DescriptorBuilder, InputPort, OutputPort, PortKind,
    ProductDescriptor, ProductIdentity, Slo, StoreDescriptor,
};
pub use record::{EventTime, OutputRecord, Record};
#[cfg(feature = "ops")]
pub use runtime::ops;
#[cfg(feature = "avro")]
pub use runtime::Output;
pub use runtime::{
    dlq_headers, Context, DataProduct, DeadLetterReason, EmitError, Error, Health, Lifecycle, RawOutput,
    Runtime, RuntimeHandle, Status,
};
#[cfg(feature = "avro")]
pub use schema::{AvroType, Format, JsonType, PortSchema};
#[cfg(feature = "state")]
pub use state::{changelog_topic, StateError, Store};
pub use timer::{Clock, TimerDescriptor, Ttl};

pub use meshkit_macros as macros;
pub use meshkit_macros::{product, timer, topology, transform};

#[cfg(feature = "state")]
#[cfg_attr(docsrs, doc(cfg(feature = "state")))]
pub mod state {
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

    pub use crate::runtime::{LocalState, SessionStoreRef, SlidingStoreRef, StoreRef, WindowStoreRef};
    pub use crate::stores::{
        changelog_topic, RestoreStats, SessionStore, SlidingStore, StateError, Store, WindowStore,
        WindowUpdate,
    };
    pub use crate::timer::{Clock, Ttl};
    pub use crate::window::{Emit, Window, WindowKind, Windows};
}

/// Not public API: what the `meshkit-macros` DSL generates code against, so
/// that generated code names the runtime through one path (overridable with
/// `crate = "…"`).
#[doc(hidden)]
pub mod __private {
    #[cfg(feature = "avro")]
    pub use crate::schema::{AvroType, JsonType, PortSchema};
    #[cfg(feature = "avro")]
    pub use crate::Output;
    pub use crate::RawOutput;

    /// A type that `key_format = string` can carry.
    #[diagnostic::on_unimplemented(
        message = "`key_format = string` carries `String` keys, not `{Self}`",
        label = "not a `String`",
        note = "declare `key = String`, or another key format: `key_format = json` or `key_format = avro`"
    )]
    pub trait StringKey {}
    impl StringKey for String {}

    /// Compiles only for `K` = `String`: the DSL's check of `key_format = string`.
    pub fn string_key<K: StringKey>() {}
    #[cfg(feature = "state")]
    pub use crate::state::{Emit, SessionStoreRef, SlidingStoreRef, StoreRef, WindowStoreRef, Windows};
    pub use crate::{
        __requires_avro as requires_avro, __requires_json_schema as requires_json_schema,
        __requires_protobuf as requires_protobuf, __requires_state as requires_state,
    };
    pub use crate::{
        Clock, Context, DataProduct, DescriptorError, EventTime, Lifecycle, ProductDescriptor, Record,
        StoreDescriptor, TransformError, Ttl,
    };
    pub use serde;

    pub use crate::__requires_ops as requires_ops;
    #[cfg(feature = "ops")]
    pub use crate::ops::{Dataflow, GlobalTableInput, Input, TableInput};
}

#[cfg(feature = "ops")]
#[doc(hidden)]
#[macro_export]
macro_rules! __requires_ops {
    () => {};
}
#[cfg(not(feature = "ops"))]
#[doc(hidden)]
#[macro_export]
macro_rules! __requires_ops {
    () => {
        ::core::compile_error!(
            "this product builds a topology of stream operators, which needs meshkit's `ops` feature: \
             `meshkit = { features = [\"ops\"] }` in Cargo.toml"
        );
    };
}

// What the DSL generates for a declaration that needs a feature: nothing
// when the feature is on, a compile error on the declaration when it is off.
#[cfg(feature = "state")]
#[doc(hidden)]
#[macro_export]
macro_rules! __requires_state {
    () => {};
}
#[cfg(not(feature = "state"))]
#[doc(hidden)]
#[macro_export]
macro_rules! __requires_state {
    () => {
        ::core::compile_error!(
            "this product declares a store, which needs meshkit's `state` feature: \
             `meshkit = { features = [\"state\"] }` in Cargo.toml"
        );
    };
}
#[cfg(feature = "avro")]
#[doc(hidden)]
#[macro_export]
macro_rules! __requires_avro {
    () => {};
}
#[cfg(not(feature = "avro"))]
#[doc(hidden)]
#[macro_export]
macro_rules! __requires_avro {
    () => {
        ::core::compile_error!(
            "this port carries a typed value, which needs meshkit's `avro` feature: \
             `meshkit = { features = [\"avro\"] }` in Cargo.toml"
        );
    };
}

#[cfg(feature = "json-schema")]
#[doc(hidden)]
#[macro_export]
macro_rules! __requires_json_schema {
    () => {};
}
#[cfg(not(feature = "json-schema"))]
#[doc(hidden)]
#[macro_export]
macro_rules! __requires_json_schema {
    () => {
        ::core::compile_error!(
            "this port carries JSON Schema values, which need meshkit's `json-schema` feature: \
             `meshkit = { features = [\"json-schema\"] }` in Cargo.toml"
        );
    };
}

#[cfg(feature = "protobuf")]
#[doc(hidden)]
#[macro_export]
macro_rules! __requires_protobuf {
    () => {};
}
#[cfg(not(feature = "protobuf"))]
#[doc(hidden)]
#[macro_export]
macro_rules! __requires_protobuf {
    () => {
        ::core::compile_error!(
            "this port carries Protobuf messages, which need meshkit's `protobuf` feature: \
             `meshkit = { features = [\"protobuf\"] }` in Cargo.toml"
        );
    };
}

/// The README's examples, compiled as doc tests so that they stay true.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
