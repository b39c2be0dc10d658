//! The embedded default: librdkafka's in-process mock cluster, started when no
//! brokers are configured so that a product runs with nothing installed.
//!
//! The mock cluster is not a transactional broker (measured: it does not hide
//! aborted records from read_committed readers, does not store offsets sent in
//! a transaction, and does not fence a zombie producer), so exactly-once holds
//! only on a real broker. The runtime says so at start.

use std::sync::mpsc;
use std::thread::JoinHandle;

use rdkafka::mocking::MockCluster;

use super::ClusterError;

enum Command {
    CreateTopic {
        name: String,
        partitions: i32,
        reply: mpsc::Sender<Result<(), String>>,
    },
}

/// An in-process Kafka cluster that lives as long as this value.
///
/// librdkafka's mock cluster handle cannot move between threads, so it lives
/// on a thread of its own and takes commands over a channel.
///
/// # Examples
///
/// ```
/// let cluster = meshkit::EmbeddedCluster::start()?;
/// cluster.create_topic("orders", 2)?;
/// assert!(cluster.bootstrap_servers().contains(':'));
/// # Ok::<(), meshkit::Error>(())
/// ```
#[derive(Debug)]
pub struct EmbeddedCluster {
    bootstrap: String,
    commands: Option<mpsc::Sender<Command>>,
    thread: Option<JoinHandle<()>>,
}

impl EmbeddedCluster {
    /// Starts a one-broker mock cluster listening on loopback.
    ///
    /// # Errors
    ///
    /// [`ClusterError::Embedded`] if librdkafka cannot start it.
    pub fn start() -> Result<Self, ClusterError> {
        let (commands, receiver) = mpsc::channel::<Command>();
        let (ready, started) = mpsc::channel::<Result<String, String>>();
        let thread = std::thread::Builder::new()
            .name("meshkit-embedded-kafka".into())
            .spawn(move || {
                let cluster = match MockCluster::new(1) {
                    Ok(cluster) => cluster,
                    Err(err) => {
                        let _ = ready.send(Err(err.to_string()));
                        return;
                    }
                };
                let _ = ready.send(Ok(cluster.bootstrap_servers()));
                // Runs until every sender is dropped, then drops the cluster.
                for command in receiver {
                    match command {
                        Command::CreateTopic {
                            name,
                            partitions,
                            reply,
                        } => {
                            let result = cluster
                                .create_topic(&name, partitions, 1)
                                .map_err(|e| e.to_string());
                            let _ = reply.send(result);
                        }
                    }
                }
            })
            .map_err(|e| ClusterError::Embedded(format!("cannot start its thread: {e}")))?;
        let bootstrap = started
            .recv()
            .map_err(|_| ClusterError::Embedded("its thread stopped at start".into()))?
            .map_err(ClusterError::Embedded)?;
        Ok(Self {
            bootstrap,
            commands: Some(commands),
            thread: Some(thread),
        })
    }

    /// The `host:port` list clients connect to.
    pub fn bootstrap_servers(&self) -> &str {
        &self.bootstrap
    }

    /// Creates `name` with `partitions` partitions (replication factor 1).
    ///
    /// # Errors
    ///
    /// [`ClusterError::Embedded`] with librdkafka's reason.
    pub fn create_topic(&self, name: &str, partitions: i32) -> Result<(), ClusterError> {
        let (reply, answer) = mpsc::channel();
        self.commands
            .as_ref()
            .ok_or_else(|| ClusterError::Embedded("stopped".into()))?
            .send(Command::CreateTopic {
                name: name.to_string(),
                partitions,
                reply,
            })
            .map_err(|_| ClusterError::Embedded("its thread has stopped".into()))?;
        answer
            .recv()
            .map_err(|_| ClusterError::Embedded("its thread has stopped".into()))?
            .map_err(|e| ClusterError::Embedded(format!("cannot create topic `{name}`: {e}")))
    }
}

impl Drop for EmbeddedCluster {
    fn drop(&mut self) {
        self.commands.take();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
