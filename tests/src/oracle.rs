//! The committed-view test oracle.
//!
//! Reads a topic's *raw* log over the Kafka wire protocol (Fetch with `isolation_level = 0`,
//! read_uncommitted), decodes every record batch with its producer id, transactional flag and
//! control flag, and applies the transaction markers itself:
//!
//! * a non-transactional record is committed as soon as it is in the log;
//! * a transactional record is buffered per producer id until that producer's next control
//!   record in the same partition: COMMIT moves the buffer to [`CommittedView::committed`],
//!   ABORT to [`CommittedView::aborted`];
//! * whatever is still buffered at the end of the log is [`CommittedView::pending`].
//!
//! This is what a correct read_committed consumer delivers (plus what it hides), independently of
//! the broker's own filtering: exactly-once tests are judged by this view, so that a broker (or a
//! client) that shows aborted records cannot make a test pass. `tests/tests/oracle.rs` checks that
//! it agrees with Apache Kafka's read_committed consumers on committed, aborted and open
//! transactions.
//!
//! The end of a partition is not taken from a single high watermark: the reader keeps fetching
//! from the next offset until a fetch at the current position returns no records *and* the
//! position is at or past the high watermark of that same fetch (a watermark read apart from the
//! data may be stale by the time the data is read).

mod batch;
mod wire;

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;
use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};
use bytes::Bytes;

use batch::{Batch, ControlType};
use wire::{error_name, Connection};

/// How long [`committed_view`] may take before it gives up.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);

/// Largest per-partition fetch size the reader grows to when a single batch does not fit.
const MAX_PARTITION_FETCH_BYTES: i32 = 256 * 1024 * 1024;
/// Per-partition fetch size to start with.
const INITIAL_PARTITION_FETCH_BYTES: i32 = 4 * 1024 * 1024;
/// How long a partition may keep answering "no records" below its high watermark.
const STALL_LIMIT: Duration = Duration::from_secs(5);
/// How long Metadata may report a topic's leaders as unavailable.
const METADATA_WAIT: Duration = Duration::from_secs(10);

/// Kafka error codes the reader reacts to.
const OFFSET_OUT_OF_RANGE: i16 = 1;
const LEADER_NOT_AVAILABLE: i16 = 5;

/// One record as a correct read_committed reader would deliver it.
#[derive(Debug, Clone)]
pub struct OracleRecord {
    /// Partition of the record.
    pub partition: i32,
    /// Offset of the record in its partition.
    pub offset: i64,
    /// Record key (`None` for a null key).
    pub key: Option<Bytes>,
    /// Record value (`None` for a tombstone).
    pub value: Option<Bytes>,
    /// Record headers in log order; duplicate keys are kept.
    pub headers: Vec<(String, Option<Bytes>)>,
    /// Record timestamp in milliseconds (the batch's max timestamp for log-append-time topics).
    pub timestamp: i64,
    /// Producer id of the record's batch (-1 for a producer without one).
    pub producer_id: i64,
    /// Producer epoch of the record's batch (-1 for a producer without one).
    pub producer_epoch: i16,
    /// Whether the record was written inside a transaction.
    pub transactional: bool,
}

impl OracleRecord {
    /// The first header named `name`, as UTF-8 text (lossy).
    pub fn header(&self, name: &str) -> Option<String> {
        (self.headers.iter())
            .find(|(k, _)| k == name)
            .and_then(|(_, v)| v.as_ref())
            .map(|v| String::from_utf8_lossy(v).into_owned())
    }

    /// The key as UTF-8 text (lossy), `None` for a null key. Handy in assertions.
    pub fn key_str(&self) -> Option<String> {
        self.key.as_ref().map(|k| String::from_utf8_lossy(k).into_owned())
    }

    /// The value as UTF-8 text (lossy), `None` for a null value. Handy in assertions.
    pub fn value_str(&self) -> Option<String> {
        self.value
            .as_ref()
            .map(|v| String::from_utf8_lossy(v).into_owned())
    }
}

/// What the reader saw of one partition: useful when a test fails, and evidence about the broker.
#[derive(Debug, Clone, Default)]
pub struct PartitionSummary {
    /// The partition.
    pub partition: i32,
    /// Address of the leader the partition was read from.
    pub leader: String,
    /// Offset reading started at (0, or the log start offset if the log was truncated).
    pub start_offset: i64,
    /// Offset after the last batch read: the true end of the log.
    pub end_offset: i64,
    /// High watermark reported by the last fetch.
    pub high_watermark: i64,
    /// Last stable offset reported by the last fetch (-1 if the Fetch version has none).
    pub last_stable_offset: i64,
    /// Log start offset reported by the last fetch (-1 if the Fetch version has none).
    pub log_start_offset: i64,
    /// Fetch requests sent for this partition.
    pub fetches: usize,
    /// The Fetch request version used (negotiated with ApiVersions).
    pub fetch_version: i16,
    /// Record batches read (control batches included).
    pub batches: usize,
    /// Entries in the aborted-transactions lists of the fetch responses. Our fetches are
    /// read_uncommitted, where a broker need not fill the list, so this is informational only.
    pub broker_aborted_transactions: usize,
}

/// A COMMIT or ABORT marker in the log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Marker {
    /// Partition of the marker.
    pub partition: i32,
    /// Offset of the marker.
    pub offset: i64,
    /// COMMIT (true) or ABORT (false).
    pub commit: bool,
    /// Producer id whose open records it ends.
    pub producer_id: i64,
    /// Producer epoch of the marker's batch.
    pub producer_epoch: i16,
}

/// What the raw log holds for one topic, split by transaction outcome.
#[derive(Debug, Clone, Default)]
pub struct CommittedView {
    /// Non-transactional records and records of committed transactions, in (partition, offset) order.
    pub committed: Vec<OracleRecord>,
    /// Records of transactions that ended with an ABORT marker.
    pub aborted: Vec<OracleRecord>,
    /// Transactional records with no marker yet (open transactions, or a producer that died).
    pub pending: Vec<OracleRecord>,
    /// Count of control records (markers) seen.
    pub markers: usize,
    /// The COMMIT and ABORT markers, in (partition, offset) order: where a
    /// transaction ended in each partition, for a failed test to show.
    pub marker_log: Vec<Marker>,
    /// One summary per partition, in partition order.
    pub partitions: Vec<PartitionSummary>,
}

impl CommittedView {
    /// The committed records of one partition, in offset order.
    pub fn committed_in(&self, partition: i32) -> Vec<&OracleRecord> {
        self.committed
            .iter()
            .filter(|r| r.partition == partition)
            .collect()
    }

    /// Adds one partition's batches (in offset order) and applies their markers.
    fn add_partition(&mut self, partition: i32, batches: &[Batch]) -> Result<()> {
        let mut open: HashMap<i64, Vec<OracleRecord>> = HashMap::new();
        for b in batches {
            if b.control {
                for r in &b.records {
                    let kind = batch::control_type(r.key.as_ref()).with_context(|| {
                        format!("partition {partition}: control record at offset {}", r.offset)
                    })?;
                    self.markers += 1;
                    let (target, commit) = match kind {
                        ControlType::Commit => (&mut self.committed, true),
                        ControlType::Abort => (&mut self.aborted, false),
                        ControlType::Other(_) => continue,
                    };
                    self.marker_log.push(Marker {
                        partition,
                        offset: r.offset,
                        commit,
                        producer_id: b.producer_id,
                        producer_epoch: b.producer_epoch,
                    });
                    if let Some(buffered) = open.remove(&b.producer_id) {
                        target.extend(buffered);
                    }
                }
                continue;
            }
            let records = b.records.iter().map(|r| OracleRecord {
                partition,
                offset: r.offset,
                key: r.key.clone(),
                value: r.value.clone(),
                headers: r.headers.clone(),
                timestamp: r.timestamp,
                producer_id: b.producer_id,
                producer_epoch: b.producer_epoch,
                transactional: b.transactional,
            });
            if b.transactional {
                open.entry(b.producer_id).or_default().extend(records);
            } else {
                self.committed.extend(records);
            }
        }
        self.pending.extend(open.into_values().flatten());
        Ok(())
    }

    fn sort(&mut self) {
        for list in [&mut self.committed, &mut self.aborted, &mut self.pending] {
            list.sort_by_key(|r| (r.partition, r.offset));
        }
        self.marker_log.sort_by_key(|m| (m.partition, m.offset));
        self.partitions.sort_by_key(|p| p.partition);
    }
}

/// Reads every partition of `topic` from offset 0 to its end and applies the markers.
///
/// Gives up after [`DEFAULT_TIMEOUT`]; see [`committed_view_with_timeout`].
pub async fn committed_view(bootstrap: &str, topic: &str) -> Result<CommittedView> {
    committed_view_with_timeout(bootstrap, topic, DEFAULT_TIMEOUT).await
}

/// [`committed_view`] with an explicit time bound for the whole read.
pub async fn committed_view_with_timeout(
    bootstrap: &str,
    topic: &str,
    timeout: Duration,
) -> Result<CommittedView> {
    let progress = Mutex::new(String::from("connecting"));
    match tokio::time::timeout(timeout, read_view(bootstrap, topic, &progress)).await {
        Ok(result) => result.with_context(|| format!("committed view of topic {topic:?} via {bootstrap}")),
        Err(_) => {
            let step = progress
                .lock()
                .map(|s| s.clone())
                .unwrap_or_else(|e| e.into_inner().clone());
            Err(anyhow!(
                "committed view of topic {topic:?} via {bootstrap}: gave up after {timeout:?}, \
                 while {step}"
            ))
        }
    }
}

fn note(progress: &Mutex<String>, step: String) {
    match progress.lock() {
        Ok(mut s) => *s = step,
        Err(e) => *e.into_inner() = step,
    }
}

/// A partition and the address of its leader.
struct PartitionLeader {
    partition: i32,
    addr: String,
}

async fn read_view(bootstrap: &str, topic: &str, progress: &Mutex<String>) -> Result<CommittedView> {
    let mut bootstrap_conn = connect_any(bootstrap, progress).await?;
    let leaders = partition_leaders(&mut bootstrap_conn, topic, progress).await?;

    let mut connections: HashMap<String, Connection> = HashMap::new();
    connections.insert(bootstrap_conn.addr().to_string(), bootstrap_conn);
    let mut view = CommittedView::default();
    for PartitionLeader { partition, addr } in leaders {
        if !connections.contains_key(&addr) {
            note(
                progress,
                format!("connecting to {addr}, leader of partition {partition}"),
            );
            let conn = Connection::connect(&addr)
                .await
                .with_context(|| format!("leader of partition {partition}"))?;
            connections.insert(addr.clone(), conn);
        }
        let conn = connections
            .get_mut(&addr)
            .ok_or_else(|| anyhow!("no connection to {addr}"))?;
        let (batches, summary) = read_partition(conn, topic, partition, 0, progress).await?;
        view.add_partition(partition, &batches)?;
        view.partitions.push(summary);
    }
    view.sort();
    Ok(view)
}

/// A connection to the first of the comma-separated `bootstrap` servers that
/// answers (a test may have killed the others).
async fn connect_any(bootstrap: &str, progress: &Mutex<String>) -> Result<Connection> {
    let mut failures = Vec::new();
    for addr in bootstrap.split(',').map(str::trim).filter(|a| !a.is_empty()) {
        note(progress, format!("connecting to {addr}"));
        match Connection::connect(addr).await {
            Ok(conn) => return Ok(conn),
            Err(err) => failures.push(format!("{addr}: {err:#}")),
        }
    }
    bail!("no bootstrap server answered: {}", failures.join("; "))
}

/// Finds the topic's partitions and the address of each one's leader.
async fn partition_leaders(
    conn: &mut Connection,
    topic: &str,
    progress: &Mutex<String>,
) -> Result<Vec<PartitionLeader>> {
    let started = tokio::time::Instant::now();
    loop {
        note(
            progress,
            format!("reading Metadata for {topic:?} from {}", conn.addr()),
        );
        let metadata = conn.metadata(topic).await?;
        let brokers: BTreeMap<i32, String> = metadata
            .brokers
            .iter()
            .map(|b| (b.node_id.0, format!("{}:{}", b.host.as_str(), b.port)))
            .collect();
        let t = metadata
            .topics
            .iter()
            .find(|t| t.name.as_ref().map(|n| n.0.as_str()) == Some(topic))
            .ok_or_else(|| anyhow!("Metadata from {} does not mention topic {topic:?}", conn.addr()))?;
        let retry = |what: String| -> Result<()> {
            if started.elapsed() < METADATA_WAIT {
                Ok(())
            } else {
                bail!("Metadata for topic {topic:?} from {}: {what}", conn.addr())
            }
        };
        if t.error_code == LEADER_NOT_AVAILABLE {
            retry(error_name(t.error_code))?;
            tokio::time::sleep(Duration::from_millis(200)).await;
            continue;
        }
        if t.error_code != 0 {
            bail!(
                "Metadata for topic {topic:?} from {}: {}",
                conn.addr(),
                error_name(t.error_code)
            );
        }
        if t.partitions.is_empty() {
            bail!(
                "Metadata from {} lists topic {topic:?} with no partitions",
                conn.addr()
            );
        }
        let mut leaders = Vec::with_capacity(t.partitions.len());
        let mut unavailable = None;
        for p in &t.partitions {
            let leader = p.leader_id.0;
            if p.error_code == LEADER_NOT_AVAILABLE || leader < 0 {
                unavailable = Some(format!(
                    "partition {} has no leader ({})",
                    p.partition_index,
                    error_name(p.error_code)
                ));
                continue;
            }
            if p.error_code != 0 {
                bail!(
                    "Metadata for topic {topic:?} partition {}: {}",
                    p.partition_index,
                    error_name(p.error_code)
                );
            }
            let addr = brokers.get(&leader).ok_or_else(|| {
                anyhow!(
                    "Metadata: leader {leader} of topic {topic:?} partition {} is not among \
                     the brokers {brokers:?}",
                    p.partition_index
                )
            })?;
            leaders.push(PartitionLeader {
                partition: p.partition_index,
                addr: addr.clone(),
            });
        }
        if let Some(what) = unavailable {
            retry(what)?;
            tokio::time::sleep(Duration::from_millis(200)).await;
            continue;
        }
        leaders.sort_by_key(|l| l.partition);
        return Ok(leaders);
    }
}

/// Reads one partition from `start` (0 for a whole view) to its end.
async fn read_partition(
    conn: &mut Connection,
    topic: &str,
    partition: i32,
    start: i64,
    progress: &Mutex<String>,
) -> Result<(Vec<Batch>, PartitionSummary)> {
    let mut summary = PartitionSummary {
        partition,
        leader: conn.addr().to_string(),
        start_offset: start,
        fetch_version: conn.versions.fetch,
        last_stable_offset: -1,
        log_start_offset: -1,
        ..PartitionSummary::default()
    };
    let mut batches: Vec<Batch> = Vec::new();
    let mut position: i64 = start;
    let mut max_bytes = INITIAL_PARTITION_FETCH_BYTES;
    let mut stalled_since: Option<tokio::time::Instant> = None;
    loop {
        note(
            progress,
            format!(
                "fetching topic {topic:?} partition {partition} at offset {position} from {} \
                 (high watermark last seen {})",
                conn.addr(),
                summary.high_watermark
            ),
        );
        let data = conn.fetch(topic, partition, position, max_bytes).await?;
        summary.fetches += 1;
        if data.error_code == OFFSET_OUT_OF_RANGE && summary.batches == 0 && data.log_start_offset > position
        {
            // The log was truncated at its start (retention): begin where it begins now.
            position = data.log_start_offset;
            summary.start_offset = position;
            continue;
        }
        if data.error_code != 0 {
            bail!(
                "Fetch of topic {topic:?} partition {partition} at offset {position} from {}: {}",
                conn.addr(),
                error_name(data.error_code)
            );
        }
        summary.high_watermark = data.high_watermark;
        summary.last_stable_offset = data.last_stable_offset;
        summary.log_start_offset = data.log_start_offset;
        summary.broker_aborted_transactions += data.aborted_transactions.as_ref().map_or(0, Vec::len);

        let decoded = match data.records {
            Some(records) => batch::decode_batches(records).with_context(|| {
                format!(
                    "decoding the records of topic {topic:?} partition {partition} fetched at \
                     offset {position}"
                )
            })?,
            None => batch::Decoded::default(),
        };
        let mut progressed = false;
        for mut b in decoded.batches {
            if b.last_offset < position {
                continue;
            }
            // A batch may start before the requested offset: drop what was already read.
            b.records.retain(|r| r.offset >= position);
            position = b.last_offset + 1;
            summary.batches += 1;
            progressed = true;
            batches.push(b);
        }
        if progressed {
            stalled_since = None;
            continue;
        }
        if decoded.truncated {
            // Not even one batch fitted: ask for more.
            if max_bytes >= MAX_PARTITION_FETCH_BYTES {
                bail!(
                    "topic {topic:?} partition {partition}: the batch at offset {position} does \
                     not fit in {max_bytes} bytes"
                );
            }
            max_bytes = max_bytes.saturating_mul(2).min(MAX_PARTITION_FETCH_BYTES);
            continue;
        }
        if position >= data.high_watermark {
            break;
        }
        // No records below the high watermark: give the broker a moment, then call it an error.
        let since = *stalled_since.get_or_insert_with(tokio::time::Instant::now);
        if since.elapsed() >= STALL_LIMIT {
            bail!(
                "topic {topic:?} partition {partition}: fetches at offset {position} from {} \
                 return no records for {STALL_LIMIT:?} although the high watermark is {}",
                conn.addr(),
                data.high_watermark
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    summary.end_offset = position;
    Ok((batches, summary))
}

#[cfg(test)]
mod tests {
    use super::*;
    use batch::RawRecord;

    fn batch(base: i64, count: i64, pid: i64, transactional: bool, control: Option<ControlType>) -> Batch {
        let records = (base..base + count)
            .map(|offset| RawRecord {
                offset,
                timestamp: offset,
                key: Some(match control {
                    Some(ControlType::Abort) => Bytes::from_static(&[0, 0, 0, 0]),
                    Some(ControlType::Commit) => Bytes::from_static(&[0, 0, 0, 1]),
                    Some(ControlType::Other(_)) => Bytes::from_static(&[0, 0, 0, 5]),
                    None => Bytes::from(format!("k{offset}")),
                }),
                value: None,
                headers: Vec::new(),
            })
            .collect();
        Batch {
            base_offset: base,
            last_offset: base + count - 1,
            producer_id: pid,
            producer_epoch: 0,
            transactional,
            control: control.is_some(),
            records,
        }
    }

    fn offsets(records: &[OracleRecord]) -> Vec<(i32, i64)> {
        records.iter().map(|r| (r.partition, r.offset)).collect()
    }

    #[test]
    fn markers_split_interleaved_producers() {
        let mut view = CommittedView::default();
        let p0 = vec![
            batch(0, 2, 10, true, None),                      // pid 10: 0, 1
            batch(2, 1, -1, false, None),                     // plain: 2
            batch(3, 2, 11, true, None),                      // pid 11: 3, 4
            batch(5, 1, 10, true, Some(ControlType::Abort)),  // abort pid 10
            batch(6, 1, 11, true, None),                      // pid 11: 6
            batch(7, 1, 11, true, Some(ControlType::Commit)), // commit pid 11
            batch(8, 1, 12, true, None),                      // pid 12: 8, never ended
            batch(9, 1, 13, true, Some(ControlType::Commit)), // a marker with nothing buffered
        ];
        view.add_partition(0, &p0).expect("partition 0");
        let p1 = vec![
            batch(0, 1, 10, true, None),
            batch(1, 1, 10, true, Some(ControlType::Commit)),
        ];
        view.add_partition(1, &p1).expect("partition 1");
        view.sort();
        assert_eq!(
            offsets(&view.committed),
            vec![(0, 2), (0, 3), (0, 4), (0, 6), (1, 0)]
        );
        assert_eq!(offsets(&view.aborted), vec![(0, 0), (0, 1)]);
        assert_eq!(offsets(&view.pending), vec![(0, 8)]);
        assert_eq!(view.markers, 4);
        assert!(view.committed[0].producer_id == -1 && !view.committed[0].transactional);
        assert!(view.committed[1].producer_id == 11 && view.committed[1].transactional);
    }

    #[test]
    fn a_bad_control_key_is_an_error() {
        let mut bad = batch(0, 1, 1, true, Some(ControlType::Commit));
        bad.records[0].key = Some(Bytes::from_static(&[0]));
        let err = CommittedView::default()
            .add_partition(3, &[bad])
            .expect_err("a 1-byte control key must be rejected");
        assert!(format!("{err:#}").contains("partition 3"), "{err:#}");
    }

    /// Against the real broker (skipped without `MESHKIT_TEST_BROKERS`): a read that starts
    /// inside a batch gets the whole batch back and must drop the records before its start.
    #[tokio::test]
    async fn a_read_from_inside_a_batch_skips_the_earlier_records() {
        use rdkafka::config::ClientConfig;
        use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
        let Some(brokers) =
            crate::broker::test_brokers("a_read_from_inside_a_batch_skips_the_earlier_records")
        else {
            return;
        };
        let topic = format!("oracle-unit-{}", uuid::Uuid::new_v4());
        let producer: BaseProducer = ClientConfig::new()
            .set("bootstrap.servers", &brokers)
            .set("linger.ms", "100")
            .set("allow.auto.create.topics", "true")
            .create()
            .expect("producer");
        // Auto-creation on produce: the test must not depend on admin requests.
        for i in 0..10 {
            let key = format!("k{i}");
            producer
                .send(BaseRecord::to(&topic).partition(0).key(&key).payload("v"))
                .map_err(|(e, _)| e)
                .expect("send");
        }
        producer.flush(std::time::Duration::from_secs(30)).expect("flush");
        let mut conn = Connection::connect(&brokers).await.expect("connect");
        let progress = Mutex::new(String::new());
        let (batches, summary) = read_partition(&mut conn, &topic, 0, 3, &progress)
            .await
            .expect("read from offset 3");
        let offsets: Vec<i64> = batches
            .iter()
            .flat_map(|b| b.records.iter().map(|r| r.offset))
            .collect();
        assert_eq!(
            offsets,
            (3..10).collect::<Vec<i64>>(),
            "records below the start offset must be dropped: {summary:?}"
        );
        assert_eq!(summary.end_offset, 10, "{summary:?}");
        println!(
            "batch base offsets returned for a read from offset 3: {:?}",
            batches.iter().map(|b| b.base_offset).collect::<Vec<_>>()
        );
    }
}
