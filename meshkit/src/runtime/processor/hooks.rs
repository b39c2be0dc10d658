//! The loop's lifecycle hooks: `on_assigned` for each task it owns once the
//! task is restored (before its first record), `on_revoked` for each task
//! it no longer owns, and, at a clean stop, `on_revoked` for the rest and
//! `on_stop`.

use rdkafka::consumer::StreamConsumer;

use super::timers::now_ms;
use super::{Hook, Loop, Transform};
use crate::error::ErrorChain;
use crate::policy::ErrorPolicy;
use crate::runtime::txn::RebalanceContext;
use crate::runtime::Error;
use crate::timer::TIMER_SOURCE;

impl Loop<'_> {
    /// Runs the hooks the assignment calls for: `on_revoked` for started
    /// tasks no longer owned, `on_assigned` for owned, restored tasks not
    /// yet started.
    pub(super) async fn sync_hooks<P: Transform>(
        &mut self,
        product: &mut P,
        consumer: &StreamConsumer<RebalanceContext>,
    ) -> Result<(), Error> {
        let owned = self.owned_tasks(consumer);
        let gone: Vec<i32> = self.started.difference(&owned).copied().collect();
        for partition in gone {
            self.started.remove(&partition);
            self.notify(product, Hook::Revoked(partition)).await;
        }
        let new: Vec<i32> = (owned.iter())
            .filter(|p| !self.started.contains(*p) && !self.is_restoring(**p))
            .copied()
            .collect();
        for partition in new {
            self.assign(product, consumer, partition).await?;
        }
        Ok(())
    }

    /// Whether `partition`'s task has had its `on_assigned`.
    pub(super) fn started(&self, partition: i32) -> bool {
        self.started.contains(&partition)
    }

    /// Runs `on_assigned` for `partition` in the open transaction (opening
    /// one): the task counts as started once it returns `Ok`. A failure
    /// aborts the transaction (the hook runs again at the next turn), or
    /// stops the loop under `ErrorPolicy::Stop`.
    pub(super) async fn assign<P: Transform>(
        &mut self,
        product: &mut P,
        consumer: &StreamConsumer<RebalanceContext>,
        partition: i32,
    ) -> Result<(), Error> {
        let hook = Hook::Assigned(partition);
        self.txn.begin()?;
        self.ctx.bind(partition, None);
        match product.hook(hook, &mut self.ctx).await {
            Ok(()) => {
                if self.ctx.take_dead_letter().is_some() {
                    tracing::warn!(partition, "on_assigned has no record to dead-letter; ignored");
                }
                let source = (TIMER_SOURCE.to_string(), partition);
                let now = now_ms();
                if let Err(err) = self.produce_outputs(Some(now), &source, now).await {
                    return self
                        .replay_transaction(consumer, "on_assigned's output", &err)
                        .await;
                }
                self.started.insert(partition);
                Ok(())
            }
            Err(err) => {
                self.ctx.discard();
                if self.config.error_policy == ErrorPolicy::Stop {
                    self.abort(consumer)?;
                    return Err(Error::Hook {
                        hook: hook.name(),
                        partition: Some(partition),
                        source: err,
                    });
                }
                tracing::warn!(
                    partition, error = %ErrorChain(&err),
                    "on_assigned failed; aborting its transaction (its records are processed again), it runs again"
                );
                self.abort(consumer)
            }
        }
    }

    /// Runs a hook that has nothing to commit; its error is logged.
    async fn notify<P: Transform>(&mut self, product: &mut P, hook: Hook) {
        if let Err(err) = product.hook(hook, &mut self.ctx).await {
            tracing::warn!(hook = hook.name(), error = %ErrorChain(&err), "lifecycle hook failed");
        }
        self.ctx.discard();
    }

    /// At a clean stop, after the last commit: `on_revoked` for each
    /// started task, then `on_stop`.
    pub(super) async fn stop_hooks<P: Transform>(&mut self, product: &mut P) {
        for partition in std::mem::take(&mut self.started) {
            self.notify(product, Hook::Revoked(partition)).await;
        }
        self.notify(product, Hook::Stop).await;
    }
}
