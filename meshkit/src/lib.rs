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

pub mod catalog;
mod config;
mod error;
pub mod kafka;
mod metrics;
mod product;
mod record;
mod runtime;
pub mod schema;
pub mod state;
#[cfg(test)]
mod test_support;

pub use config::{Config, ConfigBuilder};
pub use error::{ConfigError, DescriptorError, EmitError, Error, TransformError};
pub use kafka::EmbeddedCluster;
pub use metrics::Metrics;
pub use product::{
    DataProduct, DescriptorBuilder, InputPort, OutputPort, ProductDescriptor, ProductIdentity, Slo,
    StoreDescriptor,
};
pub use record::{OutputRecord, Record};
pub use runtime::{dlq_headers, Context, ErrorPolicy, Health, Runtime, RuntimeHandle, Status};
pub use schema::{AvroType, PortSchema};
pub use state::{changelog_topic, StateError, Store};

pub use meshkit_macros as macros;
pub use meshkit_macros::{product, transform};

/// Not public API: what the `meshkit-macros` DSL generates code against, so
/// that generated code names the runtime through one path (overridable with
/// `crate = "…"`).
#[doc(hidden)]
pub mod __private {
    pub use crate::schema::{AvroType, PortSchema};
    pub use crate::state::{Emit, StoreRef, WindowStoreRef, Windows};
    pub use crate::{Context, DataProduct, DescriptorError, ProductDescriptor, Record, TransformError};
    pub use serde;
}

/// The README's examples, compiled as doc tests so that they stay true.
#[doc = include_str!("../../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
