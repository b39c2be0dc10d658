//! Lifecycle hooks in the test driver: `on_assigned` runs before the first
//! record, its outputs and store writes kept; a restart runs it again;
//! `stop` runs `on_revoked` then `on_stop`; a failing `on_assigned` is the
//! driver's error.

use std::sync::{Arc, Mutex};

use super::{TestDriver, TestError};
use crate::{Context, DataProduct, DescriptorError, ProductDescriptor, Record, TransformError};

/// Logs each call; `on_assigned` announces the task and seeds a store.
struct Logged {
    log: Arc<Mutex<Vec<String>>>,
    fail_assign: bool,
}

impl Logged {
    fn note(&self, what: impl Into<String>) {
        self.log.lock().expect("log").push(what.into());
    }
}

impl DataProduct for Logged {
    fn descriptor(&self) -> Result<ProductDescriptor, DescriptorError> {
        ProductDescriptor::builder("t", "logged")
            .version("1.0.0")
            .owner("o")
            .input("in", "t.in")
            .output("out", "t.out")
            .store("seeded")
            .build()
    }

    async fn process(&mut self, _: &Record<'_>, ctx: &mut Context) -> Result<(), TransformError> {
        let seed = ctx.store::<String, u64>("seeded")?.get(&"seed".into())?;
        self.note(format!("process (seed {seed:?})"));
        Ok(())
    }

    async fn on_assigned(&mut self, partition: i32, ctx: &mut Context) -> Result<(), TransformError> {
        if self.fail_assign {
            return Err(TransformError::new("the lookup service is down"));
        }
        self.note(format!("assigned {partition}"));
        ctx.store::<String, u64>("seeded")?.put(&"seed".into(), &7)?;
        ctx.emit("out", None, format!("took {partition}").into_bytes())?;
        Ok(())
    }

    async fn on_revoked(&mut self, partition: i32) -> Result<(), TransformError> {
        self.note(format!("revoked {partition}"));
        Ok(())
    }

    async fn on_stop(&mut self) -> Result<(), TransformError> {
        self.note("stop");
        Ok(())
    }
}

fn logged(log: &Arc<Mutex<Vec<String>>>, fail_assign: bool) -> Logged {
    Logged {
        log: log.clone(),
        fail_assign,
    }
}

#[tokio::test]
async fn hooks_run_around_the_records_in_order() -> Result<(), TestError> {
    let log = Arc::new(Mutex::new(Vec::new()));
    let mut driver = TestDriver::start(logged(&log, false)).await?;
    assert!(
        log.lock().expect("log").is_empty(),
        "nothing runs before the first record"
    );
    driver.pipe_raw("in", None, Some(b"a")).await?;
    driver.pipe_raw("in", None, Some(b"b")).await?;
    let outputs: Vec<String> = (driver.read_raw("out")?.into_iter())
        .map(|r| String::from_utf8_lossy(r.value.as_deref().unwrap_or_default()).into_owned())
        .collect();
    assert_eq!(outputs, ["took 0"], "on_assigned's output is kept");
    driver.restart(logged(&log, false));
    driver.pipe_raw("in", None, Some(b"c")).await?;
    driver.stop().await?;
    assert_eq!(
        *log.lock().expect("log"),
        [
            "assigned 0",
            "process (seed Some(7))",
            "process (seed Some(7))",
            "assigned 0",
            "process (seed Some(7))",
            "revoked 0",
            "stop"
        ]
    );
    Ok(())
}

#[tokio::test]
async fn a_failing_on_assigned_is_the_drivers_error() -> Result<(), TestError> {
    let log = Arc::new(Mutex::new(Vec::new()));
    let mut driver = TestDriver::start(logged(&log, true)).await?;
    let err = driver
        .pipe_raw("in", None, Some(b"a"))
        .await
        .expect_err("on_assigned failed");
    assert!(
        matches!(
            err,
            TestError::HookFailed {
                hook: "on_assigned",
                ..
            }
        ),
        "{err:?}"
    );
    assert!(
        log.lock().expect("log").is_empty(),
        "the record was not processed"
    );
    Ok(())
}
