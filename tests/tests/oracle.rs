//! The committed-view oracle against the real test broker (`MESHKIT_TEST_BROKERS`).
//!
//! Each test creates its own topic, writes transactional and plain records with rdkafka, and
//! checks `meshkit_tests::oracle::committed_view` against what was written and against what an
//! rdkafka read_committed consumer delivers, on committed, aborted and open transactions. Without
//! `MESHKIT_TEST_BROKERS` every test is skipped (and fails where `MESHKIT_TEST_REQUIRE_BROKER` is set).

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use meshkit_tests::oracle::{committed_view, CommittedView, OracleRecord};
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::message::{Header, Headers, OwnedHeaders};
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use rdkafka::types::RDKafkaErrorCode;
use rdkafka::{Message, Offset, TopicPartitionList};

const OP_TIMEOUT: Duration = Duration::from_secs(30);

fn brokers() -> Option<String> {
    meshkit_tests::broker::test_brokers("oracle")
}

async fn create_topic(brokers: &str, prefix: &str, partitions: i32) -> String {
    let topic = format!("oracle-{prefix}-{}", uuid::Uuid::new_v4());
    let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .create()
        .expect("admin client");
    let new_topic = NewTopic::new(&topic, partitions, TopicReplication::Fixed(1))
        .set("cleanup.policy", "delete")
        .set("retention.ms", "-1");
    let results = admin
        .create_topics(
            [&new_topic],
            &AdminOptions::new().operation_timeout(Some(OP_TIMEOUT)),
        )
        .await
        .expect("CreateTopics request");
    for r in results {
        r.unwrap_or_else(|(t, e)| panic!("creating topic {t}: {e:?}"));
    }
    topic
}

fn txn_producer(brokers: &str) -> BaseProducer {
    let producer: BaseProducer = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("transactional.id", format!("oracle-{}", uuid::Uuid::new_v4()))
        .set("linger.ms", "5")
        .create()
        .expect("transactional producer");
    producer.init_transactions(OP_TIMEOUT).expect("init_transactions");
    producer
}

fn plain_producer(brokers: &str) -> BaseProducer {
    ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("linger.ms", "5")
        .set("enable.idempotence", "false")
        .create()
        .expect("plain producer")
}

fn send(
    producer: &BaseProducer,
    topic: &str,
    partition: i32,
    key: &str,
    value: &str,
    headers: Option<OwnedHeaders>,
) {
    loop {
        let mut record = BaseRecord::to(topic).partition(partition).key(key).payload(value);
        if let Some(h) = headers.clone() {
            record = record.headers(h);
        }
        match producer.send(record) {
            Ok(()) => return,
            Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), _)) => {
                producer.poll(Duration::from_millis(10))
            }
            Err((e, _)) => panic!("producing {key} to {topic}/{partition}: {e}"),
        }
    }
}

fn flush(producer: &BaseProducer) {
    producer.flush(OP_TIMEOUT).expect("flush");
    assert_eq!(
        producer.in_flight_count(),
        0,
        "records still in flight after flush"
    );
}

/// One record as an rdkafka consumer delivered it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Seen {
    partition: i32,
    offset: i64,
    key: Option<String>,
    value: Option<String>,
    headers: Vec<(String, Option<Vec<u8>>)>,
}

fn seen_from_oracle(r: &OracleRecord) -> Seen {
    Seen {
        partition: r.partition,
        offset: r.offset,
        key: r.key_str(),
        value: r.value_str(),
        headers: r
            .headers
            .iter()
            .map(|(k, v)| (k.clone(), v.as_ref().map(|v| v.to_vec())))
            .collect(),
    }
}

/// Reads every partition from the beginning with the given isolation level until each
/// partition reported end-of-partition. Checks that each partition's offsets increase.
fn consume_all(brokers: &str, topic: &str, partitions: i32, isolation: &str) -> Vec<Seen> {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        // librdkafka's assign() needs a group id even though no group is joined.
        .set("group.id", format!("oracle-{}", uuid::Uuid::new_v4()))
        .set("isolation.level", isolation)
        .set("enable.partition.eof", "true")
        .set("enable.auto.commit", "false")
        .set("enable.auto.offset.store", "false")
        .create()
        .expect("consumer");
    let mut tpl = TopicPartitionList::new();
    for p in 0..partitions {
        tpl.add_partition_offset(topic, p, Offset::Beginning)
            .expect("assignment");
    }
    consumer.assign(&tpl).expect("assign");
    let mut seen = Vec::new();
    let mut at_eof = BTreeSet::new();
    let started = Instant::now();
    while at_eof.len() < partitions as usize {
        assert!(
            started.elapsed() < OP_TIMEOUT,
            "{isolation} consumer of {topic}: no end-of-partition on all partitions within \
             {OP_TIMEOUT:?} (EOF on {at_eof:?}, {} records read)",
            seen.len()
        );
        match consumer.poll(Duration::from_millis(100)) {
            None => {}
            Some(Err(KafkaError::PartitionEOF(p))) => {
                at_eof.insert(p);
            }
            Some(Err(e)) => panic!("{isolation} consumer of {topic}: {e}"),
            Some(Ok(m)) => {
                at_eof.remove(&m.partition());
                let headers = m
                    .headers()
                    .map(|h| {
                        h.iter()
                            .map(|h| (h.key.to_string(), h.value.map(<[u8]>::to_vec)))
                            .collect()
                    })
                    .unwrap_or_default();
                seen.push(Seen {
                    partition: m.partition(),
                    offset: m.offset(),
                    key: m.key().map(|k| String::from_utf8_lossy(k).into_owned()),
                    value: m.payload().map(|v| String::from_utf8_lossy(v).into_owned()),
                    headers,
                });
            }
        }
    }
    let mut last: BTreeMap<i32, i64> = BTreeMap::new();
    for s in &seen {
        if let Some(prev) = last.insert(s.partition, s.offset) {
            assert!(
                s.offset > prev,
                "{isolation} consumer of {topic}: partition {} delivered offset {} after {prev}",
                s.partition,
                s.offset
            );
        }
    }
    seen.sort();
    seen
}

fn keys(records: &[OracleRecord]) -> BTreeSet<String> {
    records.iter().filter_map(OracleRecord::key_str).collect()
}

fn expected_keys(prefix: &str, n: usize) -> BTreeSet<String> {
    (0..n).map(|i| format!("{prefix}-{i}")).collect()
}

fn describe(view: &CommittedView) -> String {
    format!(
        "committed {}, aborted {}, pending {}, markers {}, partitions {:?}",
        view.committed.len(),
        view.aborted.len(),
        view.pending.len(),
        view.markers,
        view.partitions
    )
}

async fn view_of(brokers: &str, topic: &str) -> CommittedView {
    committed_view(brokers, topic)
        .await
        .unwrap_or_else(|e| panic!("committed_view of {topic}: {e:#}"))
}

/// 3 committed transactions of 100 records over 3 partitions, with plain records written into
/// the log while the transactions are open: the oracle must agree with a read_committed consumer.
#[tokio::test]
async fn committed_transactions_match_read_committed_consumer() {
    let Some(brokers) = brokers() else { return };
    const PARTITIONS: i32 = 3;
    let topic = create_topic(&brokers, "committed", PARTITIONS).await;
    let txn = txn_producer(&brokers);
    let plain = plain_producer(&brokers);
    for t in 0..3 {
        txn.begin_transaction().expect("begin_transaction");
        for i in 0..100 {
            if i == 50 {
                // Put plain records between this open transaction's records.
                flush(&txn);
                for j in 0..10 {
                    let n = t * 10 + j;
                    let headers = OwnedHeaders::new()
                        .insert(Header {
                            key: "source",
                            value: Some("plain"),
                        })
                        .insert(Header {
                            key: "source",
                            value: Some("duplicate key"),
                        })
                        .insert(Header::<&str> {
                            key: "null",
                            value: None,
                        });
                    send(
                        &plain,
                        &topic,
                        n % PARTITIONS,
                        &format!("plain-{n}"),
                        &format!("p{n}"),
                        Some(headers),
                    );
                }
                flush(&plain);
            }
            let n = t * 100 + i;
            send(
                &txn,
                &topic,
                n % PARTITIONS,
                &format!("txn-{n}"),
                &format!("t{n}"),
                None,
            );
        }
        txn.commit_transaction(OP_TIMEOUT).expect("commit_transaction");
    }

    let view = view_of(&brokers, &topic).await;
    let summary = describe(&view);
    assert!(
        view.aborted.is_empty(),
        "no transaction was aborted, yet the oracle has aborted records: {summary}"
    );
    assert!(
        view.pending.is_empty(),
        "every transaction was committed, yet the oracle has pending records: {summary}"
    );
    let mut want = expected_keys("txn", 300);
    want.extend(expected_keys("plain", 30));
    assert_eq!(
        keys(&view.committed),
        want,
        "the oracle's committed keys differ from the 300 transactional + 30 plain written: {summary}"
    );
    assert_eq!(
        view.committed.len(),
        330,
        "duplicate committed records: {summary}"
    );
    assert_eq!(
        view.markers, 9,
        "3 commits over 3 partitions should leave 9 COMMIT markers: {summary}"
    );
    for r in &view.committed {
        let key = r.key_str().unwrap_or_default();
        if key.starts_with("txn-") {
            assert!(
                r.transactional && r.producer_id >= 0,
                "{key} should be transactional with a producer id: {r:?}"
            );
        } else {
            assert!(!r.transactional, "{key} should not be transactional: {r:?}");
            assert_eq!(
                r.headers.len(),
                3,
                "{key} should carry its 3 headers (duplicate key included): {r:?}"
            );
        }
    }
    for p in 0..PARTITIONS {
        let offsets: Vec<i64> = view.committed_in(p).iter().map(|r| r.offset).collect();
        assert!(
            offsets.windows(2).all(|w| w[0] < w[1]),
            "partition {p}: committed records not in offset order: {offsets:?}"
        );
    }

    let consumed = consume_all(&brokers, &topic, PARTITIONS, "read_committed");
    let oracle: Vec<Seen> = view.committed.iter().map(seen_from_oracle).collect();
    assert_eq!(
        oracle.len(),
        consumed.len(),
        "oracle committed {} records, the read_committed consumer read {}",
        oracle.len(),
        consumed.len()
    );
    for (o, c) in oracle.iter().zip(&consumed) {
        assert_eq!(
            o, c,
            "oracle and read_committed consumer disagree (partition, offset, key, value, headers)"
        );
    }
}

/// Writes an aborted transaction of 100 records, then a committed one of 10, over 2 partitions.
async fn aborted_then_committed(brokers: &str, prefix: &str) -> String {
    let topic = create_topic(brokers, prefix, 2).await;
    let txn = txn_producer(brokers);
    txn.begin_transaction().expect("begin_transaction");
    for i in 0..100 {
        let key = format!("aborted-{i}");
        send(&txn, &topic, i % 2, &key, "a", None);
    }
    flush(&txn);
    txn.abort_transaction(OP_TIMEOUT).expect("abort_transaction");
    txn.begin_transaction().expect("begin_transaction");
    for i in 0..10 {
        let key = format!("committed-{i}");
        send(&txn, &topic, i % 2, &key, "c", None);
    }
    txn.commit_transaction(OP_TIMEOUT).expect("commit_transaction");
    topic
}

/// The oracle drops an aborted transaction's records and keeps the committed ones.
#[tokio::test]
async fn aborted_transaction_is_not_committed() {
    let Some(brokers) = brokers() else { return };
    let topic = aborted_then_committed(&brokers, "aborted").await;
    let view = view_of(&brokers, &topic).await;
    let summary = describe(&view);
    assert_eq!(
        keys(&view.committed),
        expected_keys("committed", 10),
        "committed must hold exactly the 10 records of the committed transaction: {summary}"
    );
    assert_eq!(view.committed.len(), 10, "duplicates in committed: {summary}");
    assert_eq!(
        keys(&view.aborted),
        expected_keys("aborted", 100),
        "aborted must hold exactly the 100 records of the aborted transaction: {summary}"
    );
    assert_eq!(view.aborted.len(), 100, "duplicates in aborted: {summary}");
    assert!(view.pending.is_empty(), "nothing may be pending: {summary}");
    assert_eq!(
        view.markers, 4,
        "one ABORT and one COMMIT marker on each of the 2 partitions: {summary}"
    );
}

/// The oracle and the broker's own read_committed filtering agree on aborted transactions: a
/// read_committed consumer delivers exactly the oracle's committed records (same partitions,
/// offsets, keys, values) and none of its aborted ones, while a read_uncommitted consumer sees
/// the aborted ones too (so the topic really holds them).
#[tokio::test]
async fn oracle_agrees_with_read_committed_on_aborted_transactions() {
    let Some(brokers) = brokers() else { return };
    let topic = aborted_then_committed(&brokers, "agree-aborted").await;
    let view = view_of(&brokers, &topic).await;
    let summary = describe(&view);
    assert_eq!(view.aborted.len(), 100, "{summary}");
    let committed = consume_all(&brokers, &topic, 2, "read_committed");
    let oracle: Vec<Seen> = view.committed.iter().map(seen_from_oracle).collect();
    assert_eq!(
        committed, oracle,
        "the read_committed consumer and the oracle disagree: {summary}"
    );
    let consumed_keys: BTreeSet<String> = committed.iter().filter_map(|s| s.key.clone()).collect();
    assert!(
        consumed_keys.is_disjoint(&keys(&view.aborted)),
        "the read_committed consumer delivered aborted records"
    );
    let uncommitted = consume_all(&brokers, &topic, 2, "read_uncommitted");
    assert_eq!(
        uncommitted.len(),
        110,
        "a read_uncommitted consumer sees the 100 aborted and 10 committed records"
    );
}

/// While a transaction is open, a read_committed consumer stops at each partition's last stable
/// offset: it delivers exactly the oracle's committed records below the first pending one, and
/// none of the pending ones nor the plain records written after them. Once the transaction is
/// aborted, it delivers exactly the oracle's committed records.
#[tokio::test]
async fn oracle_agrees_with_read_committed_on_open_transactions() {
    let Some(brokers) = brokers() else { return };
    let topic = create_topic(&brokers, "agree-open", 2).await;
    let txn = txn_producer(&brokers);
    txn.begin_transaction().expect("begin_transaction");
    for i in 0..10 {
        send(&txn, &topic, i % 2, &format!("committed-{i}"), "c", None);
    }
    txn.commit_transaction(OP_TIMEOUT).expect("commit_transaction");
    txn.begin_transaction().expect("begin_transaction");
    for i in 0..50 {
        send(&txn, &topic, i % 2, &format!("open-{i}"), "o", None);
    }
    flush(&txn);
    let plain = plain_producer(&brokers);
    for i in 0..6 {
        send(&plain, &topic, i % 2, &format!("plain-{i}"), "p", None);
    }
    flush(&plain);

    let view = view_of(&brokers, &topic).await;
    let summary = describe(&view);
    assert_eq!(keys(&view.pending), expected_keys("open", 50), "{summary}");
    // The last stable offset of each partition: its first pending record.
    let mut stable: BTreeMap<i32, i64> = BTreeMap::new();
    for r in &view.pending {
        let lso = stable.entry(r.partition).or_insert(r.offset);
        *lso = (*lso).min(r.offset);
    }
    let below_lso: Vec<Seen> = view
        .committed
        .iter()
        .filter(|r| stable.get(&r.partition).is_none_or(|lso| r.offset < *lso))
        .map(seen_from_oracle)
        .collect();
    assert_eq!(
        keys_of(&below_lso),
        expected_keys("committed", 10),
        "below the open transaction only the committed transaction's records: {summary}"
    );
    let consumed = consume_all(&brokers, &topic, 2, "read_committed");
    assert_eq!(
        consumed, below_lso,
        "with a transaction open, the read_committed consumer and the oracle disagree: {summary}"
    );

    txn.abort_transaction(OP_TIMEOUT).expect("abort_transaction");
    let view = view_of(&brokers, &topic).await;
    let summary = describe(&view);
    let oracle: Vec<Seen> = view.committed.iter().map(seen_from_oracle).collect();
    assert_eq!(
        keys_of(&oracle),
        expected_keys("committed", 10)
            .into_iter()
            .chain(expected_keys("plain", 6))
            .collect(),
        "{summary}"
    );
    let consumed = consume_all(&brokers, &topic, 2, "read_committed");
    assert_eq!(
        consumed, oracle,
        "after the abort, the read_committed consumer and the oracle disagree: {summary}"
    );
}

fn keys_of(seen: &[Seen]) -> BTreeSet<String> {
    seen.iter().filter_map(|s| s.key.clone()).collect()
}

/// Records of a transaction that is still open are pending, not committed; once aborted, they
/// move to aborted. Plain records written after them are committed all along.
#[tokio::test]
async fn open_transaction_is_pending() {
    let Some(brokers) = brokers() else { return };
    let topic = create_topic(&brokers, "open", 2).await;
    let txn = txn_producer(&brokers);
    let plain = plain_producer(&brokers);
    txn.begin_transaction().expect("begin_transaction");
    for i in 0..50 {
        send(&txn, &topic, i % 2, &format!("open-{i}"), "o", None);
    }
    flush(&txn);
    for i in 0..5 {
        send(&plain, &topic, i % 2, &format!("plain-{i}"), "p", None);
    }
    flush(&plain);

    let view = view_of(&brokers, &topic).await;
    let summary = describe(&view);
    assert_eq!(
        keys(&view.pending),
        expected_keys("open", 50),
        "the open transaction's 50 records must be pending: {summary}"
    );
    assert_eq!(
        keys(&view.committed),
        expected_keys("plain", 5),
        "only the 5 plain records may be committed while the transaction is open: {summary}"
    );
    assert!(view.aborted.is_empty(), "nothing was aborted yet: {summary}");
    assert_eq!(
        view.markers, 0,
        "no marker before the transaction ends: {summary}"
    );

    txn.abort_transaction(OP_TIMEOUT).expect("abort_transaction");
    let view = view_of(&brokers, &topic).await;
    let summary = describe(&view);
    assert_eq!(
        keys(&view.aborted),
        expected_keys("open", 50),
        "after abort_transaction the 50 records must be aborted: {summary}"
    );
    assert!(
        view.pending.is_empty(),
        "nothing may stay pending after the abort: {summary}"
    );
    assert_eq!(
        keys(&view.committed),
        expected_keys("plain", 5),
        "the plain records stay committed: {summary}"
    );
    assert_eq!(view.markers, 2, "one ABORT marker per partition: {summary}");
}
