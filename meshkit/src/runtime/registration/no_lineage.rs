//! A build without the `lineage` feature: no lineage run (the runtime
//! refused a configuration that names a lineage endpoint when it was built).

use super::super::Error;
use crate::catalog::CatalogRecord;
use crate::config::Config;

/// No lineage run in this build.
pub(super) enum Lineage {}

/// Nothing to beat.
pub(super) enum Beats {}

impl Lineage {
    pub(super) fn start(
        _config: &Config,
        _local: &CatalogRecord,
        _brokers: &str,
    ) -> Result<Option<Self>, Error> {
        Ok(None)
    }

    pub(super) fn beats(&self) -> Beats {
        match *self {}
    }

    pub(super) async fn finish(self, _reason: Option<String>) {
        match self {}
    }
}

impl Beats {
    pub(super) fn running(&self) {
        match *self {}
    }
}
