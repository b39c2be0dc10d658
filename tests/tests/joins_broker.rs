//! Joins on the real broker. A stream-table left join (the enrichment of
//! records with a table of another product) over 4 co-partitioned
//! partitions, the table updated and its keys deleted between batches of
//! the stream, judged on the committed view of its output against the
//! independent computation; and a table whose topic is not as wide as the
//! stream's, refused at start with both topics and their partition counts;
//! and a global table (on a topic of another width) read whole by each of
//! two instances before either joins its first record.

use std::collections::BTreeMap;
use std::time::Duration;

use meshkit::Config;
use meshkit_tests::broker::{create_topic, test_brokers, unique_name};
use meshkit_tests::joins::{events, produce_events, stream_table, Event, Joins, GTABLE, LEFT, LTABLE, OUT};
use meshkit_tests::oracle::committed_view;
use meshkit_tests::run;

const PARTITIONS: i32 = 4;

fn enrichment(prefix: &str) -> Joins {
    Joins::new(prefix, |t| {
        let table = t.table(LTABLE);
        t.stream(LEFT)
            .left_join(&table, |v, tv| match tv {
                Some(tv) => format!("{v}*{tv}"),
                None => format!("{v}*none"),
            })
            .to(OUT);
    })
}

fn config(brokers: &str, app: &str, state: &std::path::Path) -> Config {
    Config::builder()
        .brokers(brokers)
        .application_id(app)
        .state_dir(state)
        .topic_partitions(PARTITIONS)
        .build()
        .expect("config")
}

/// Each key's values in the committed view of `topic`, in offset order.
async fn by_key(brokers: &str, topic: &str) -> BTreeMap<String, Vec<String>> {
    let view = committed_view(brokers, topic).await.expect("committed view");
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for r in &view.committed {
        let value: String = serde_json::from_str(&r.value_str().expect("value")).expect("a JSON string");
        out.entry(r.key_str().expect("key")).or_default().push(value);
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_table_join_follows_the_tables_updates_and_tombstones_on_the_broker() {
    let Some(brokers) =
        test_brokers("a_stream_table_join_follows_the_tables_updates_and_tombstones_on_the_broker")
    else {
        return;
    };
    let (prefix, app) = (unique_name("joins"), unique_name("joins-app"));
    for port in ["left", "right", "ltable", "rtable", "gtable", "out"] {
        create_topic(&brokers, &format!("{prefix}.{port}"), PARTITIONS)
            .await
            .expect("topic");
    }
    let state = tempfile::tempdir().expect("state");
    let mut running = run::spawn(enrichment(&prefix), config(&brokers, &app, state.path())).expect("runtime");
    running
        .until_running(Duration::from_secs(60))
        .await
        .expect("running");

    // Batches, each read whole before the next is written: the table, then
    // records, then updates and tombstones of the table, then records.
    let table_events = |seed: u64| -> Vec<Event> { events(seed, 300, &["ltable"], 40, 0) };
    let stream_events = |seed: u64| -> Vec<Event> { events(seed, 1_000, &["left"], 48, 0) };
    let batches = [
        table_events(10),
        stream_events(11),
        table_events(12),
        stream_events(13),
    ];
    let mut all: Vec<Event> = Vec::new();
    for batch in &batches {
        produce_events(&brokers, &prefix, PARTITIONS, batch).await;
        all.extend(batch.iter().cloned());
        running
            .until_committed(all.len() as u64, Duration::from_secs(120))
            .await
            .expect("the batch is read");
    }
    running.stop().await.expect("join").expect("clean stop");
    assert!(all.iter().any(|e| e.value.is_none()), "the table had tombstones");

    let mut want: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (key, value) in stream_table(&all, "ltable", false) {
        want.entry(key).or_default().push(value);
    }
    assert!(want.values().flatten().any(|v| v.ends_with("*none")));
    assert_eq!(by_key(&brokers, &format!("{prefix}.out")).await, want);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_table_not_as_wide_as_the_stream_is_refused_at_start_naming_both() {
    let Some(brokers) = test_brokers("a_table_not_as_wide_as_the_stream_is_refused_at_start_naming_both")
    else {
        return;
    };
    let (prefix, app) = (unique_name("narrow"), unique_name("narrow-app"));
    create_topic(&brokers, &format!("{prefix}.left"), PARTITIONS)
        .await
        .expect("topic");
    create_topic(&brokers, &format!("{prefix}.ltable"), 2)
        .await
        .expect("topic");
    let state = tempfile::tempdir().expect("state");
    let running = run::spawn(enrichment(&prefix), config(&brokers, &app, state.path())).expect("runtime");
    let ended = tokio::time::timeout(Duration::from_secs(120), running.task)
        .await
        .expect("it stops by itself")
        .expect("join");
    let err = ended.expect_err("refused");
    let text = meshkit::ErrorChain(&err).to_string();
    assert!(
        matches!(err, meshkit::Error::InputsNotCoPartitioned { .. }),
        "{text}"
    );
    assert!(text.contains(&format!("`{prefix}.left` 4")), "{text}");
    assert!(text.contains(&format!("`{prefix}.ltable` 2")), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_global_table_is_read_whole_by_every_instance_before_its_first_record() {
    let Some(brokers) =
        test_brokers("a_global_table_is_read_whole_by_every_instance_before_its_first_record")
    else {
        return;
    };
    let (prefix, app) = (unique_name("global"), unique_name("global-app"));
    for port in ["left", "right", "ltable", "rtable", "out"] {
        create_topic(&brokers, &format!("{prefix}.{port}"), PARTITIONS)
            .await
            .expect("topic");
    }
    // Three partitions: a global table needs no co-partitioning.
    create_topic(&brokers, &format!("{prefix}.gtable"), 3)
        .await
        .expect("topic");
    // The whole table, with updates and deletions, is in before either
    // instance starts; the records reach keys the table never held too.
    // Large enough that reading it takes a while after the start.
    let table: Vec<Event> = events(20, 40_000, &["gtable"], 2_000, 0);
    produce_events(&brokers, &prefix, 3, &table).await;
    let first: Vec<Event> = events(21, 2_000, &["left"], 2_400, 0);
    let second: Vec<Event> = events(22, 2_000, &["left"], 2_400, 0);
    let product = || {
        Joins::new(&prefix, |t| {
            let table = t.global_table(GTABLE);
            t.stream(LEFT)
                .left_join_global(
                    &table,
                    |k, _| k.clone(),
                    |v, gv| match gv {
                        Some(gv) => format!("{v}*{gv}"),
                        None => format!("{v}*none"),
                    },
                )
                .to(OUT);
        })
    };
    let states = [
        tempfile::tempdir().expect("state"),
        tempfile::tempdir().expect("state"),
    ];
    let start = |i: usize| {
        let config = Config::builder()
            .brokers(&brokers)
            .application_id(&app)
            .instance_id(format!("instance-{i}"))
            .state_dir(states[i].path())
            .topic_partitions(PARTITIONS)
            .build()
            .expect("config");
        run::spawn(product(), config).expect("runtime")
    };
    let wait = |what: &str, until: &dyn Fn() -> bool| {
        let deadline = std::time::Instant::now() + Duration::from_secs(180);
        while !until() {
            assert!(std::time::Instant::now() < deadline, "{what}");
            std::thread::sleep(Duration::from_millis(100));
        }
    };
    // The first instance starts with records waiting: its first poll could
    // join them at once, with whatever of the table it had read.
    produce_events(&brokers, &prefix, PARTITIONS, &first).await;
    let one = start(0);
    tokio::task::block_in_place(|| {
        wait("the first batch is read", &|| {
            one.handle.health().records_committed >= first.len() as u64
        })
    });
    // A second instance joins; once the group gave each its share of the
    // partitions, more records come, and both read them.
    let two = start(1);
    let inputs = 4 * PARTITIONS as usize;
    tokio::task::block_in_place(|| {
        wait("both instances share the partitions", &|| {
            let (a, b) = (one.handle.health(), two.handle.health());
            a.assigned_partitions > 0
                && b.assigned_partitions > 0
                && a.assigned_partitions + b.assigned_partitions == inputs
        })
    });
    produce_events(&brokers, &prefix, PARTITIONS, &second).await;
    let total = (first.len() + second.len()) as u64;
    tokio::task::block_in_place(|| {
        wait("the second batch is read", &|| {
            one.handle.health().records_committed + two.handle.health().records_committed >= total
        })
    });
    let second_read = two.handle.health().records_committed;
    for running in [one, two] {
        running.stop().await.expect("join").expect("clean stop");
    }
    assert!(second_read > 0, "the instance that joined later read records too");
    let records: Vec<Event> = first.iter().chain(&second).cloned().collect();

    // Every record was joined with the whole, final table.
    let mut all = table.clone();
    all.extend(records.iter().cloned());
    let mut want: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (key, value) in stream_table(&all, "gtable", false) {
        want.entry(key).or_default().push(value);
    }
    assert!(want.values().flatten().any(|v| v.ends_with("*none")));
    assert!(want.values().flatten().filter(|v| !v.ends_with("*none")).count() > 1_000);
    assert_eq!(by_key(&brokers, &format!("{prefix}.out")).await, want);
}
