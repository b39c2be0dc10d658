//! A stateful transform's store path: one get and one put per record through
//! meshkit's typed store (overlay, then an atomic write batch per commit)
//! against raw RocksDB read-modify-write with a write batch, in the same run.
//!
//! Run: `cargo bench -p meshkit-benches --bench store`

use criterion::{criterion_main, BatchSize, Criterion, Throughput};
use meshkit::state::LocalState;
use meshkit::ProductDescriptor;

const RECORDS: u64 = 10_000;
const KEYS: u64 = 1_000;
/// Records per commit: one transaction's worth.
const PER_COMMIT: u64 = 1_000;

fn descriptor() -> ProductDescriptor {
    ProductDescriptor::builder("bench", "store")
        .version("1.0.0")
        .owner("bench")
        .input("in", "bench.in")
        .output("out", "bench.out")
        .store("counts")
        .build()
        .expect("valid descriptor")
}

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("get_put_per_record");
    group.throughput(Throughput::Elements(RECORDS));

    let raw_dir = tempfile::tempdir().expect("temp dir");
    let db = rocksdb::DB::open_default(raw_dir.path()).expect("open");
    group.bench_function("raw_rocksdb_read_modify_write", |b| {
        b.iter_batched(
            || (),
            |()| {
                let mut batch = rocksdb::WriteBatch::default();
                for i in 0..RECORDS {
                    let key = format!("customer-{}", i % KEYS);
                    let count = db
                        .get(key.as_bytes())
                        .expect("get")
                        .map(|v| u64::from_le_bytes(v.as_slice().try_into().unwrap_or([0; 8])))
                        .unwrap_or(0);
                    batch.put(key.as_bytes(), (count + 1).to_le_bytes());
                    if (i + 1) % PER_COMMIT == 0 {
                        db.write(std::mem::take(&mut batch)).expect("write");
                    }
                }
            },
            BatchSize::PerIteration,
        )
    });

    let descriptor = descriptor();
    let meshkit_dir = tempfile::tempdir().expect("temp dir");
    let state = LocalState::open(meshkit_dir.path(), &descriptor).expect("open");
    let mut ctx = state.context(&descriptor);
    group.bench_function("meshkit_store_get_put", |b| {
        b.iter_batched(
            || (),
            |()| {
                for i in 0..RECORDS {
                    let key = format!("customer-{}", i % KEYS);
                    let mut counts = ctx.store::<String, u64>("counts").expect("store");
                    let count = counts.get(&key).expect("get").unwrap_or(0);
                    counts.put(&key, &(count + 1)).expect("put");
                    if (i + 1) % PER_COMMIT == 0 {
                        state.commit().expect("commit");
                    }
                }
            },
            BatchSize::PerIteration,
        )
    });
    group.finish();
}

// criterion's macros generate undocumented items.
#[allow(missing_docs)]
mod harness {
    criterion::criterion_group!(benches, super::bench);
}
criterion_main!(harness::benches);
