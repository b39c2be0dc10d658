//! Every bad configuration: a clear error naming the setting, a non-zero
//! exit, and nothing written. Runs the relay product as a process against the
//! real broker, with an input topic that holds records, so that a product that
//! did start would write something.

use std::time::Duration;

use meshkit_tests::broker::{create_topic, end_offsets, produce_ids, test_brokers, unique_name};
use meshkit_tests::process;

struct Case<'a> {
    name: &'static str,
    envs: Vec<(&'static str, String)>,
    /// Expected exit code.
    code: i32,
    /// Every one of these must be in the error message.
    says: Vec<&'a str>,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_configurations_are_refused_before_anything_is_written() {
    let Some(brokers) = test_brokers("bad_configurations_are_refused_before_anything_is_written") else {
        return;
    };
    let input = unique_name("cfg-in");
    create_topic(&brokers, &input, 2).await.expect("input");
    {
        let (brokers, input) = (brokers.clone(), input.clone());
        tokio::task::spawn_blocking(move || produce_ids(&brokers, &input, 0..100))
            .await
            .expect("join")
            .expect("inputs");
    }
    let logs = tempfile::tempdir().expect("logs");
    let state = tempfile::tempdir().expect("state");
    let binary = std::path::PathBuf::from(env!("CARGO_BIN_EXE_relay-product"));

    let output = unique_name("cfg-out");
    let base = |extra: Vec<(&'static str, String)>, input: &str, output: &str| {
        let mut envs = vec![
            ("MESHKIT_BROKERS", brokers.clone()),
            ("MESHKIT_STATE_DIR", state.path().display().to_string()),
            ("MESHKIT_APPLICATION_ID", unique_name("cfg-app")),
            ("RELAY_INPUT", input.to_string()),
            ("RELAY_OUTPUT", output.to_string()),
        ];
        envs.extend(extra);
        envs
    };
    let cases = vec![
        Case {
            name: "no input port",
            envs: base(vec![], "", &output),
            code: 2,
            says: vec!["no input port"],
        },
        Case {
            name: "output port that is also an input",
            envs: base(vec![], &input, &input),
            code: 2,
            says: vec!["output port `out`", "must not consume its own output"],
        },
        Case {
            name: "unknown topic with auto-create off",
            envs: base(
                vec![("MESHKIT_AUTO_CREATE_TOPICS", "false".into())],
                &input,
                &output,
            ),
            code: 2,
            says: vec![&output, "MESHKIT_AUTO_CREATE_TOPICS"],
        },
        Case {
            name: "unreachable broker",
            envs: {
                let mut envs = base(
                    vec![("MESHKIT_STARTUP_TIMEOUT_MS", "2000".into())],
                    &input,
                    &output,
                );
                envs[0].1 = "127.0.0.1:1".into();
                envs
            },
            code: 1,
            says: vec!["cannot reach the Kafka brokers", "127.0.0.1:1", "MESHKIT_BROKERS"],
        },
        Case {
            name: "unknown Kafka property",
            envs: base(vec![("MESHKIT_KAFKA_NO_SUCH_THING", "1".into())], &input, &output),
            code: 2,
            says: vec!["no.such.thing"],
        },
        Case {
            name: "invalid Kafka property value",
            envs: base(
                vec![("MESHKIT_KAFKA_SOCKET_TIMEOUT_MS", "soon".into())],
                &input,
                &output,
            ),
            code: 2,
            says: vec!["socket.timeout.ms", "soon"],
        },
        Case {
            name: "a property exactly-once depends on",
            envs: base(
                vec![("MESHKIT_KAFKA_ISOLATION_LEVEL", "read_uncommitted".into())],
                &input,
                &output,
            ),
            code: 2,
            says: vec!["isolation.level", "managed by meshkit"],
        },
        Case {
            name: "malformed commit interval",
            envs: base(
                vec![("MESHKIT_COMMIT_INTERVAL_MS", "soon".into())],
                &input,
                &output,
            ),
            code: 2,
            says: vec!["commit_interval", "MESHKIT_COMMIT_INTERVAL_MS"],
        },
        Case {
            name: "misspelt setting",
            envs: base(
                vec![("MESHKIT_COMMIT_INTERVALL_MS", "100".into())],
                &input,
                &output,
            ),
            code: 2,
            says: vec!["MESHKIT_COMMIT_INTERVALL_MS", "unknown meshkit setting"],
        },
    ];

    for (i, case) in cases.iter().enumerate() {
        let log = logs.path().join(format!("case-{i}.log"));
        let mut child = process::spawn(&binary, &case.envs, &log).expect("start");
        let status = child.wait(Duration::from_secs(60)).expect("exits by itself");
        let text = child.log_text();
        assert_eq!(
            status.code(),
            Some(case.code),
            "{}: exit code; log:\n{text}",
            case.name
        );
        let error_line = text
            .lines()
            .find(|l| l.starts_with("relay-product: error:"))
            .unwrap_or_default();
        for expected in &case.says {
            assert!(
                error_line.contains(expected),
                "{}: the error should say `{expected}`:\n{error_line}",
                case.name
            );
        }
    }

    // Nothing written: the output topic was never created, or is empty.
    match end_offsets(&brokers, &output) {
        Ok(ends) => assert!(ends.values().all(|end| *end == 0), "output written: {ends:?}"),
        Err(err) => panic!("reading the output topic's offsets: {err}"),
    }
}
