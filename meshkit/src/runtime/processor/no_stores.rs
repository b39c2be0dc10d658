//! The processing loop without stores (meshkit built without its `state`
//! feature): the same calls as `stores.rs`, with nothing to do. The runtime
//! refuses at start a product that declares stores.

use std::collections::{HashMap, HashSet};

use rdkafka::consumer::StreamConsumer;
use rdkafka::error::KafkaError;
use rdkafka::ClientConfig;

use super::super::contract::Context;
use super::super::txn::{RebalanceContext, Tp, Txn};
use super::super::Shared;
use super::Loop;
use crate::config::Config;
use crate::kafka::EmbeddedCluster;
use crate::product::ProductDescriptor;
use crate::runtime::Error;

/// No stores, nothing kept.
pub(super) struct LoopStores;

impl LoopStores {
    pub(super) fn new(_stores: Option<NoStores>, _restore_client: ClientConfig) -> Self {
        LoopStores
    }
}

/// Stores that cannot exist in this build.
#[derive(Clone)]
pub(super) enum NoStores {}

/// No stores for any loop.
pub(super) type Stores = NoStores;

pub(super) fn stores_for_thread(_stores: Option<&NoStores>, _thread: usize) -> Option<NoStores> {
    None
}

/// Never any store: the runtime refused a product that declares one.
pub(super) async fn open_stores(
    _descriptor: &ProductDescriptor,
    _config: &Config,
    _names: (&str, &str),
    _embedded: Option<&EmbeddedCluster>,
    _partitions: &HashMap<String, usize>,
    _schemas: &super::Schemas,
) -> Result<Option<NoStores>, Error> {
    Ok(None)
}

pub(super) fn changelog_topics(_stores: Option<&NoStores>) -> HashSet<String> {
    HashSet::new()
}

pub(super) fn assign_whole_tasks(
    _consumer: &mut ClientConfig,
    _stores: Option<&NoStores>,
    _config: &Config,
) -> Result<(), Error> {
    Ok(())
}

pub(super) fn attach_stores(_txn: &mut Txn, _stores: Option<&NoStores>) {}

pub(super) fn context_with_stores(descriptor: &ProductDescriptor, _stores: Option<&NoStores>) -> Context {
    Context::new(descriptor)
}

impl Loop<'_> {
    pub(super) fn observe(&mut self, _timestamp: Option<i64>) {}

    pub(super) fn expire_due(&mut self) -> Result<usize, crate::TransformError> {
        Ok(0)
    }

    pub(super) fn restoring_any(&self) -> bool {
        false
    }

    pub(super) fn sample_state(&mut self, _now: bool) {}

    pub(super) fn is_restoring(&self, _partition: i32) -> bool {
        false
    }

    pub(super) fn hold_back(&mut self, _tp: Tp, _offset: i64) {}

    pub(super) fn sync_state(
        &mut self,
        _consumer: &StreamConsumer<RebalanceContext>,
        _shared: &Shared,
    ) -> Result<(), Error> {
        Ok(())
    }

    pub(super) fn restore_step(
        &mut self,
        _consumer: &StreamConsumer<RebalanceContext>,
        _shared: &Shared,
    ) -> Result<(), Error> {
        Ok(())
    }

    pub(super) async fn write_changelog(
        &mut self,
        _input_timestamp: Option<i64>,
        _source: &Tp,
        _offset: i64,
    ) -> Result<(), KafkaError> {
        Ok(())
    }
}
