//! The product run's OpenLineage run: START when it starts, RUNNING on each
//! heartbeat, COMPLETE or FAIL when it ends, posted without ever blocking
//! the product.

use std::time::Duration;

use super::super::Error;
use crate::catalog::{CatalogRecord, LineageConfig, LineageEmitter, LineageRun, LineageSender, Timestamp};
use crate::config::Config;

/// A started lineage run and the emitter that posts its events.
pub(super) struct Lineage {
    emitter: LineageEmitter,
    run: LineageRun,
}

/// What the heartbeat task needs to emit RUNNING.
pub(super) struct Beats {
    sender: LineageSender,
    run: LineageRun,
}

impl Lineage {
    /// Emits START, when the configuration names a lineage endpoint.
    pub(super) fn start(
        config: &Config,
        local: &CatalogRecord,
        brokers: &str,
    ) -> Result<Option<Self>, Error> {
        let Some(url) = &config.openlineage_url else {
            return Ok(None);
        };
        let mut lineage_config = LineageConfig::new(url.clone());
        if let Some(key) = &config.openlineage_api_key {
            lineage_config = lineage_config.with_api_key(key.0.clone());
        }
        let emitter = LineageEmitter::spawn(lineage_config).map_err(|e| Error::Io {
            operation: format!("starting the OpenLineage emitter for {url}"),
            source: std::io::Error::other(e),
        })?;
        let run = LineageRun::new(local, brokers, &config.openlineage_namespace);
        emitter.emit(run.start(Timestamp::now()));
        tracing::info!(%url, run_id = %run.run_id(), "OpenLineage run started");
        Ok(Some(Self { emitter, run }))
    }

    pub(super) fn beats(&self) -> Beats {
        Beats {
            sender: self.emitter.sender(),
            run: self.run.clone(),
        }
    }

    /// Emits COMPLETE, or FAIL with `reason`, and waits (a little) for the
    /// events still queued to be posted.
    pub(super) async fn finish(self, reason: Option<String>) {
        let Self { emitter, run } = self;
        let now = Timestamp::now();
        emitter.emit(match reason {
            Some(reason) => run.fail(now, reason),
            None => run.complete(now),
        });
        let stats = emitter.shutdown(Duration::from_secs(5)).await;
        tracing::info!(
            sent = stats.sent,
            failed = stats.failed,
            dropped = stats.dropped,
            "OpenLineage run ended"
        );
    }
}

impl Beats {
    pub(super) fn running(&self) {
        self.sender.emit(self.run.running(Timestamp::now()));
    }
}
