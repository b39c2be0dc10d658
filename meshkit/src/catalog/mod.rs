//! Metadata registration: what a data product *is*, published where others
//! can find it.
//!
//! - [`record`]: the [`CatalogRecord`] each product publishes to the
//!   compacted catalog topic ([`CATALOG_TOPIC`], keyed `domain/name`), shaped
//!   as an Open Data Product Standard (ODPS v1.0.0) document, and the
//!   in-memory [`Catalog`] a reader (the CLI) folds the topic into.
//! - [`contract`]: one output port's contract as an Open Data Contract
//!   Standard (ODCS v3.0.2) YAML document, with the port's Avro schema mapped
//!   to ODCS properties.
//! - [`reader`]: a [`CatalogReader`] that reads the whole catalog topic
//!   into a [`Catalog`] snapshot, with the Kafka settings of a
//!   [`Config`](crate::Config) (what the `meshkit` CLI runs).
//! - [`follow`]: a [`CatalogFollower`] that keeps a [`Catalog`] current
//!   by tailing the catalog topic (what `meshkit catalog serve` shows).
//! - [`write`]: a [`CatalogWriter`] that publishes an existing stream as a
//!   data product, or removes a product (`meshkit catalog publish/remove`).
//! - [`lineage`]: OpenLineage run events (START, RUNNING, COMPLETE, FAIL) and
//!   a [`LineageEmitter`] that posts them without ever blocking the product.
//!
//! Everything is built from plain inputs ([`DescriptorInput`]) that the
//! runtime fills from its `ProductDescriptor` and the schema gate's results,
//! so this module depends on nothing else in meshkit (except the reader,
//! which takes its Kafka settings from [`Config`](crate::Config)).

pub mod contract;
mod fields;
pub mod follow;
pub mod graph;
mod input;
#[cfg(feature = "lineage")]
#[cfg_attr(docsrs, doc(cfg(feature = "lineage")))]
pub mod lineage;
pub mod reader;
pub mod record;
mod time;
#[cfg(feature = "catalog-web")]
#[cfg_attr(docsrs, doc(cfg(feature = "catalog-web")))]
pub mod web;
pub mod write;

pub use contract::{export_contract, ContractError, ContractOptions, DataContract};
pub use fields::SchemaField;
pub use follow::{CatalogFollower, FollowStatus};
pub use graph::{
    GraphEdge, GraphFormat, GraphNode, GraphScope, LineageGraph, NodeId, NodeRole, ProductNode,
    UnknownGraphFormat,
};
pub use input::{DescriptorInput, PortInput, SchemaInput, StoreInput};
#[cfg(feature = "lineage")]
pub use lineage::{
    LineageConfig, LineageEmitter, LineageError, LineageRun, LineageSender, RunEvent, RunEventType,
};
pub use reader::{CatalogReadError, CatalogReader, CatalogSnapshot, SkippedRecord, DEFAULT_READ_TIMEOUT};
pub use record::{
    Catalog, CatalogError, CatalogRecord, CatalogUpdate, InstanceRecord, InstanceStatus, ProductKey,
    ProductStatus, CATALOG_TOPIC, DEFAULT_HEARTBEAT, MISSED_HEARTBEATS,
};
pub use time::{Timestamp, TimestampError};
pub use write::{CatalogWriteError, CatalogWriter};
