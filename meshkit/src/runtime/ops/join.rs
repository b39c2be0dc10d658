//! Joins of a stream: with a table (each record looks its key up), and with
//! another stream within a time window (both sides buffered).

use std::any::Any;
use std::time::Duration;

use serde::de::DeserializeOwned;
use serde::Serialize;

use super::{Slot, Stream, Table};
use crate::error::TransformError;
use crate::product::StoreDescriptor;
use crate::runtime::contract::{record_time, Context, StoreRef};
use crate::timer::{Clock, Ttl};

/// How far apart in event time two records of a stream-stream join may be:
/// a record at `t` joins the other side's records from `t - before` to
/// `t + after`, as long as they arrive within `grace` of the stream time
/// that would have passed them.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use meshkit::ops::JoinWindows;
///
/// // Payments within five minutes of their order, either way, a minute late at most.
/// let windows = JoinWindows::within(Duration::from_secs(300)).grace(Duration::from_secs(60));
/// assert_eq!(windows.retention(), Duration::from_secs(360));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JoinWindows {
    before: Duration,
    after: Duration,
    grace: Duration,
}

impl JoinWindows {
    /// Records up to `distance` apart, either way; no grace.
    pub fn within(distance: Duration) -> Self {
        Self {
            before: distance,
            after: distance,
            grace: Duration::ZERO,
        }
    }

    /// Joins a record at `t` with the other side's from `t - before`.
    pub fn before(mut self, before: Duration) -> Self {
        self.before = before;
        self
    }

    /// Joins a record at `t` with the other side's up to `t + after`.
    pub fn after(mut self, after: Duration) -> Self {
        self.after = after;
        self
    }

    /// How long past its window a record is still kept for a late partner.
    pub fn grace(mut self, grace: Duration) -> Self {
        self.grace = grace;
        self
    }

    /// How long a record is buffered, on stream time: its window and grace.
    pub fn retention(&self) -> Duration {
        self.before.max(self.after) + self.grace
    }

    fn ms(d: Duration) -> i64 {
        i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
    }
}

/// A buffer of one side of a stream-stream join: a store keyed by (key,
/// event time), holding the records of that time.
struct Buffer {
    name: String,
}

impl Buffer {
    fn add<K, V>(&self, ctx: &mut Context, key: &K, at: i64, value: &V) -> Result<(), TransformError>
    where
        K: Serialize + DeserializeOwned + Clone,
        V: Serialize + DeserializeOwned + Clone,
    {
        let mut store = ctx.store::<(K, i64), Vec<V>>(&self.name)?;
        let slot = (key.clone(), at);
        let mut held = store.get(&slot)?.unwrap_or_default();
        held.push(value.clone());
        store.put(&slot, &held)?;
        Ok(())
    }

    fn between<K, V>(&self, ctx: &mut Context, key: &K, from: i64, to: i64) -> Result<Vec<V>, TransformError>
    where
        K: Serialize + DeserializeOwned + Clone,
        V: Serialize + DeserializeOwned,
    {
        let store = ctx.store::<(K, i64), Vec<V>>(&self.name)?;
        let held = store.range((key.clone(), from)..=(key.clone(), to))?;
        Ok(held.into_iter().flat_map(|(_, values)| values).collect())
    }
}

impl<K: 'static, V: 'static> Stream<K, V> {
    /// The refusal of a join of a stream whose keys changed since the input.
    fn check_joinable(&self, what: &str) {
        if self.rekeyed {
            self.refuse(format!(
                "`{what}` of a stream whose keys a step changed: its records are not in the task that owns \
                 their key; repartition it first (`stream.repartition(\"name\")`)"
            ));
        }
    }

    /// The inner join with table `table` (same keys, co-partitioned): each
    /// record whose key the table holds gives `f(record, table's value)`;
    /// the others give nothing. The table's value is the one it holds when
    /// the record is processed; the result carries the record's timestamp.
    pub fn join<VT, O>(
        &self,
        table: &Table<K, VT>,
        f: impl Fn(&V, &VT) -> O + Send + Sync + 'static,
    ) -> Stream<K, O>
    where
        K: Serialize + DeserializeOwned,
        VT: Serialize + DeserializeOwned + 'static,
        O: 'static,
    {
        self.lookup(
            table,
            "join",
            move |next, ctx, k, v, found: Option<VT>| match found {
                Some(t) => next.push(ctx, k, &f(v, &t)),
                None => Ok(()),
            },
        )
    }

    /// The left join with table `table`: each record gives `f(record, the
    /// table's value if it holds the key)`.
    pub fn left_join<VT, O>(
        &self,
        table: &Table<K, VT>,
        f: impl Fn(&V, Option<&VT>) -> O + Send + Sync + 'static,
    ) -> Stream<K, O>
    where
        K: Serialize + DeserializeOwned,
        VT: Serialize + DeserializeOwned + 'static,
        O: 'static,
    {
        self.lookup(table, "left_join", move |next, ctx, k, v, found: Option<VT>| {
            next.push(ctx, k, &f(v, found.as_ref()))
        })
    }

    fn lookup<VT, O>(
        &self,
        table: &Table<K, VT>,
        what: &str,
        then: impl Fn(&Slot<K, O>, &mut Context, &K, &V, Option<VT>) -> Result<(), TransformError>
            + Send
            + Sync
            + 'static,
    ) -> Stream<K, O>
    where
        K: Serialize + DeserializeOwned,
        VT: Serialize + DeserializeOwned + 'static,
        O: 'static,
    {
        self.check_joinable(what);
        // Refused (by `store_for`) when the table has no store: never run.
        let store = table.store_for(what).unwrap_or_default();
        let handle = StoreRef::<K, VT>::new(store);
        self.then(false, move |next, ctx, k, v| {
            let found = handle.get(ctx, k)?;
            then(next, ctx, k, v, found)
        })
    }

    /// The inner join with stream `other` (same keys, co-partitioned)
    /// within `windows` of event time: each pair of records, one of each
    /// side, of one key, at most `windows` apart, gives `f(this, other)`
    /// once, when the second of the two is processed (and carries its
    /// timestamp). Both sides are buffered in stores named
    /// `<store>-this` and `<store>-other`, expiring on stream time after
    /// [`JoinWindows::retention`].
    pub fn join_within<V2, O>(
        &self,
        other: &Stream<K, V2>,
        windows: JoinWindows,
        store: &str,
        f: impl Fn(&V, &V2) -> O + Send + Sync + 'static,
    ) -> Stream<K, O>
    where
        K: Serialize + DeserializeOwned + Clone + Any,
        V: Serialize + DeserializeOwned + Clone,
        V2: Serialize + DeserializeOwned + Clone + 'static,
        O: 'static,
    {
        self.check_joinable("join_within");
        other.check_joinable("join_within");
        let ttl = Ttl::new(Clock::Stream, windows.retention());
        let this = Buffer {
            name: format!("{store}-this"),
        };
        let that = Buffer {
            name: format!("{store}-other"),
        };
        let next = {
            let mut parts = self.parts.borrow_mut();
            for buffer in [&this, &that] {
                parts
                    .stores
                    .push(StoreDescriptor::new(buffer.name.clone()).ttl(ttl));
            }
            parts.slot::<K, O>()
        };
        let (before, after) = (JoinWindows::ms(windows.before), JoinWindows::ms(windows.after));
        let f = std::sync::Arc::new(f);
        let (target, join) = (next.clone(), f.clone());
        let (mine, theirs) = (
            Buffer {
                name: this.name.clone(),
            },
            Buffer {
                name: that.name.clone(),
            },
        );
        self.slot.add(Box::new(move |ctx, k, v| {
            let at = record_time(ctx, &mine.name)?;
            mine.add(ctx, k, at, v)?;
            for partner in
                theirs.between::<K, V2>(ctx, k, at.saturating_sub(before), at.saturating_add(after))?
            {
                target.push(ctx, k, &join(v, &partner))?;
            }
            Ok(())
        }));
        let target = next.clone();
        other.slot.add(Box::new(move |ctx, k, v2| {
            let at = record_time(ctx, &that.name)?;
            that.add(ctx, k, at, v2)?;
            for partner in
                this.between::<K, V>(ctx, k, at.saturating_sub(after), at.saturating_add(before))?
            {
                target.push(ctx, k, &f(&partner, v2))?;
            }
            Ok(())
        }));
        Stream {
            parts: self.parts.clone(),
            slot: next,
            rekeyed: false,
        }
    }
}
