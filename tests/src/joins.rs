//! Joins for the join tests: a product of two streams and two tables (JSON,
//! `String` keys, `i64` values) around any topology of them, the inputs the
//! tests feed it, and the independent computation of each join kind.

use std::collections::BTreeMap;

use meshkit::ops::{Dataflow, GlobalTableInput, Input, TableInput, Topology};
use meshkit::schema::PortSchema;
use meshkit::{Context, DataProduct, DescriptorError, Output, ProductDescriptor, Record, TransformError};

/// The left stream.
pub const LEFT: Input<String, i64> = Input::new("left");
/// The right stream.
pub const RIGHT: Input<String, i64> = Input::new("right");
/// The left table.
pub const LTABLE: TableInput<String, i64> = TableInput::new("ltable");
/// The right table.
pub const RTABLE: TableInput<String, i64> = TableInput::new("rtable");
/// The global table.
pub const GTABLE: GlobalTableInput<String, i64> = GlobalTableInput::new("gtable");
/// What the joins publish.
pub const OUT: Output<String, String> = Output::new("out");

/// The product: its topics are `<prefix>.<port>`.
pub struct Joins {
    /// Topic prefix.
    pub prefix: String,
    flow: Dataflow,
}

impl Joins {
    /// The product running `build`, on topics `<prefix>.<port>`.
    pub fn new(prefix: &str, build: impl FnOnce(&mut Topology)) -> Self {
        Self {
            prefix: prefix.to_string(),
            flow: Dataflow::new(build),
        }
    }
}

impl DataProduct for Joins {
    fn descriptor(&self) -> Result<ProductDescriptor, DescriptorError> {
        let numbers = || PortSchema::json::<i64>().with_string_key();
        let topic = |port: &str| format!("{}.{port}", self.prefix);
        let ports = ProductDescriptor::builder("tests", "joins")
            .version("0.1.0")
            .owner("meshkit-tests")
            .input_with("left", topic("left"), numbers())
            .input_with("right", topic("right"), numbers())
            .table_with("ltable", topic("ltable"), numbers())
            .table_with("rtable", topic("rtable"), numbers())
            .global_table_with("gtable", topic("gtable"), numbers())
            .output_with(
                "out",
                topic("out"),
                PortSchema::json::<String>().with_string_key(),
            );
        self.flow.declare(ports)?.build()
    }

    async fn process(&mut self, record: &Record<'_>, ctx: &mut Context) -> Result<(), TransformError> {
        self.flow.process(record, ctx)
    }
}

/// One input record: to which port, its key, its value (`None`: a
/// tombstone, on a table) and its event time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// `left`, `right`, `ltable`, `rtable` or `gtable`.
    pub port: &'static str,
    /// Its key.
    pub key: String,
    /// Its value; `None` deletes the key of a table.
    pub value: Option<i64>,
    /// Event time, ms.
    pub at: i64,
}

/// A small deterministic generator (the tests read the same every run).
pub struct Lcg(u64);

impl Lcg {
    /// Seeded with `seed`.
    pub fn new(seed: u64) -> Self {
        Self(seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1))
    }

    /// The next number below `n`.
    pub fn below(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 33) % n.max(1)
    }
}

/// `n` events on `ports` over `keys` keys, event times rising by 10 ms with
/// up to `jitter` ms of disorder; about one table record in five a
/// tombstone.
pub fn events(seed: u64, n: usize, ports: &[&'static str], keys: u64, jitter: i64) -> Vec<Event> {
    let mut rng = Lcg::new(seed);
    (0..n)
        .map(|i| {
            let port = ports[rng.below(ports.len() as u64) as usize];
            let key = format!("k{}", rng.below(keys));
            let tombstone = port.ends_with("table") && rng.below(5) == 0;
            let value = (!tombstone).then(|| rng.below(1_000) as i64);
            let at = 10 * i as i64 + rng.below(jitter.max(1) as u64) as i64;
            Event { port, key, value, at }
        })
        .collect()
}

/// What a stream-table join publishes for `events` (stream `left`, table
/// `table`, by the record's key): `inner` leaves out records whose key the
/// table does not hold; the left join gives them `none`. Values are
/// `"<record>*<table's>"`.
pub fn stream_table(events: &[Event], table_port: &str, inner: bool) -> Vec<(String, String)> {
    let mut table: BTreeMap<&str, i64> = BTreeMap::new();
    let mut out = Vec::new();
    for e in events {
        match (e.port, e.value) {
            (port, Some(v)) if port == table_port => {
                table.insert(&e.key, v);
            }
            (port, None) if port == table_port => {
                table.remove(e.key.as_str());
            }
            ("left", Some(v)) => match table.get(e.key.as_str()) {
                Some(t) => out.push((e.key.clone(), format!("{v}*{t}"))),
                None if !inner => out.push((e.key.clone(), format!("{v}*none"))),
                None => {}
            },
            _ => {}
        }
    }
    out
}

/// The kinds of a table-table join.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Both sides.
    Inner,
    /// The left side.
    Left,
    /// Either side.
    Outer,
}

/// What a table-table join of `ltable` and `rtable` publishes for `events`,
/// as each key's new result after every change that alters it: the result
/// `"<left>+<right>"` (`none` for a missing side), or `deleted`.
pub fn table_table(events: &[Event], kind: Kind) -> Vec<(String, String)> {
    let mut left: BTreeMap<&str, i64> = BTreeMap::new();
    let mut right: BTreeMap<&str, i64> = BTreeMap::new();
    let result = |l: Option<i64>, r: Option<i64>| -> Option<String> {
        let exists = match kind {
            Kind::Inner => l.is_some() && r.is_some(),
            Kind::Left => l.is_some(),
            Kind::Outer => l.is_some() || r.is_some(),
        };
        let show = |x: Option<i64>| x.map_or("none".to_string(), |x| x.to_string());
        exists.then(|| format!("{}+{}", show(l), show(r)))
    };
    let mut out = Vec::new();
    for e in events {
        let side = match e.port {
            "ltable" => &mut left,
            "rtable" => &mut right,
            _ => continue,
        };
        let old_side = side.get(e.key.as_str()).copied();
        if old_side.is_none() && e.value.is_none() {
            continue;
        }
        match e.value {
            Some(v) => side.insert(&e.key, v),
            None => side.remove(e.key.as_str()),
        };
        let (l, r) = (
            left.get(e.key.as_str()).copied(),
            right.get(e.key.as_str()).copied(),
        );
        let (old_l, old_r) = if e.port == "ltable" {
            (old_side, r)
        } else {
            (l, old_side)
        };
        let (old, new) = (result(old_l, old_r), result(l, r));
        if old.is_some() || new.is_some() {
            out.push((e.key.clone(), new.unwrap_or_else(|| "deleted".to_string())));
        }
    }
    out
}

/// What the inner join of streams `left` and `right` within `distance` ms
/// either way publishes for `events`, each record buffered until stream
/// time (the largest event time seen) passes `retention` ms beyond the
/// stream time it was buffered at: `"<left>&<right>"` per pair, when the
/// second of the two is read.
pub fn stream_stream(events: &[Event], distance: i64, retention: i64) -> Vec<(String, String)> {
    // (side, key, at) → (values, expires at)
    let mut buffers: BTreeMap<(&str, &str, i64), (Vec<i64>, i64)> = BTreeMap::new();
    let mut stream_time = i64::MIN;
    let mut out = Vec::new();
    for e in events {
        let Some(v) = e.value else { continue };
        let other = match e.port {
            "left" => "right",
            "right" => "left",
            _ => continue,
        };
        stream_time = stream_time.max(e.at);
        let entry = buffers.entry((e.port, &e.key, e.at)).or_default();
        if entry.1 <= stream_time {
            // Expired: what it held is gone.
            entry.0.clear();
        }
        entry.0.push(v);
        entry.1 = stream_time + retention;
        for ((_, _, at), (values, expires)) in
            buffers.range((other, e.key.as_str(), e.at - distance)..=(other, e.key.as_str(), e.at + distance))
        {
            if *expires <= stream_time || (at - e.at).abs() > distance {
                continue;
            }
            for partner in values {
                let (l, r) = if e.port == "left" {
                    (v, *partner)
                } else {
                    (*partner, v)
                };
                out.push((e.key.clone(), format!("{l}&{r}")));
            }
        }
    }
    out
}

/// The partition of key `k<n>` on every input of a test: its number modulo
/// `partitions`, the same on each topic, as a shared partitioner would.
pub fn partition_of(key: &str, partitions: i32) -> i32 {
    let n: i32 = key.trim_start_matches('k').parse().unwrap_or(0);
    n % partitions
}

/// Produces `events` to `<prefix>.<port>` (JSON values, tombstones without
/// a value), each key to [`partition_of`] it, in order, and waits until
/// every one is acknowledged.
pub async fn produce_events(brokers: &str, prefix: &str, partitions: i32, events: &[Event]) {
    use rdkafka::config::ClientConfig;
    use rdkafka::producer::{FutureProducer, FutureRecord};
    let producer: FutureProducer = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("enable.idempotence", "true")
        .create()
        .expect("producer");
    let mut deliveries = Vec::new();
    for e in events {
        let topic = format!("{prefix}.{}", e.port);
        let value = e.value.map(|v| v.to_string().into_bytes());
        let mut record = FutureRecord::<str, Vec<u8>>::to(&topic)
            .key(e.key.as_str())
            .partition(partition_of(&e.key, partitions));
        if let Some(value) = &value {
            record = record.payload(value);
        }
        deliveries.push(
            producer
                .send_result(record)
                .map_err(|(err, _)| err)
                .expect("queued"),
        );
    }
    for delivery in deliveries {
        delivery
            .await
            .expect("delivery reported")
            .map_err(|(err, _)| err)
            .expect("record acknowledged");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn e(port: &'static str, key: &str, value: Option<i64>, at: i64) -> Event {
        Event {
            port,
            key: key.to_string(),
            value,
            at,
        }
    }

    #[test]
    fn hand_worked_stream_table_and_table_table_cases() {
        let events = [
            e("left", "a", Some(1), 0),
            e("ltable", "a", Some(10), 0),
            e("left", "a", Some(2), 0),
            e("ltable", "a", None, 0),
            e("left", "a", Some(3), 0),
        ];
        let pairs = |list: &[(&str, &str)]| -> Vec<(String, String)> {
            list.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
        };
        assert_eq!(stream_table(&events, "ltable", true), pairs(&[("a", "2*10")]));
        assert_eq!(
            stream_table(&events, "ltable", false),
            pairs(&[("a", "1*none"), ("a", "2*10"), ("a", "3*none")])
        );
        let tables = [
            e("ltable", "a", Some(1), 0),
            e("rtable", "a", Some(2), 0),
            e("rtable", "b", Some(5), 0),
            e("ltable", "a", None, 0),
            e("rtable", "b", None, 0),
        ];
        assert_eq!(
            table_table(&tables, Kind::Inner),
            pairs(&[("a", "1+2"), ("a", "deleted")])
        );
        assert_eq!(
            table_table(&tables, Kind::Left),
            pairs(&[("a", "1+none"), ("a", "1+2"), ("a", "deleted")])
        );
        assert_eq!(
            table_table(&tables, Kind::Outer),
            pairs(&[
                ("a", "1+none"),
                ("a", "1+2"),
                ("b", "none+5"),
                ("a", "none+2"),
                ("b", "deleted")
            ])
        );
    }

    #[test]
    fn hand_worked_stream_stream_case() {
        let events = [
            e("left", "a", Some(1), 100),
            e("right", "a", Some(2), 150),
            e("right", "a", Some(3), 400),
            e("left", "a", Some(4), 90),
            e("right", "b", Some(5), 100),
            // Stream time 5 000: everything above expires (retention 1 000).
            e("left", "z", Some(0), 5_000),
            e("left", "a", Some(6), 160),
        ];
        let got = stream_stream(&events, 100, 1_000);
        let want: Vec<(String, String)> = [("a", "1&2"), ("a", "4&2")]
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        assert_eq!(got, want);
    }
}
