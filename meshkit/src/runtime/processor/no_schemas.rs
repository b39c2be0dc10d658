//! A build without the `avro` feature has no typed ports: the same calls as
//! `schemas.rs`, with nothing to settle or decode.

use rdkafka::consumer::StreamConsumer;
use rdkafka::message::BorrowedMessage;

use super::super::contract::Context;
use super::super::txn::{RebalanceContext, Tp};
use super::Loop;
use crate::config::Config;
use crate::product::ProductDescriptor;
use crate::record::Record;
use crate::runtime::Error;

/// No registry can be handed to this build.
pub(crate) enum Registry {}

/// Nothing to decode with.
pub(super) type LoopDecoder = ();

/// What cannot be decoded in this build.
pub(super) enum DecodedRecord {}

/// Nothing settled.
pub(super) struct Schemas {
    pub(super) decoder: Option<()>,
}

impl Schemas {
    pub(super) async fn stop_server(&mut self) {}

    pub(super) fn set_encoders(&self, _ctx: &mut Context) {}

    pub(super) fn decoder_for_thread(&self) -> Option<()> {
        None
    }
}

pub(super) async fn settle_schemas(
    _descriptor: &ProductDescriptor,
    _config: &Config,
    _names: (&str, &str),
    _embedded: bool,
    _registry: Option<Registry>,
) -> Result<Schemas, Error> {
    Ok(Schemas { decoder: None })
}

/// Nothing to decode with.
pub(super) struct LoopSchemas;

impl LoopSchemas {
    pub(super) fn new(_decoder: Option<()>) -> Self {
        LoopSchemas
    }
}

pub(super) fn with_decoded<'a>(record: Record<'a>, _decoded: &'a Option<DecodedRecord>) -> Record<'a> {
    record
}

impl Loop<'_> {
    /// Every port carries raw bytes: nothing to decode.
    pub(super) async fn decode(
        &mut self,
        _consumer: &StreamConsumer<RebalanceContext>,
        _message: &BorrowedMessage<'_>,
        _tp: &Tp,
    ) -> Result<Option<Option<DecodedRecord>>, Error> {
        Ok(Some(None))
    }
}
