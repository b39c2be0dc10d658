//! Making sure the topics a product needs exist before anything is written.

use std::collections::HashMap;
use std::time::Duration;

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::error::KafkaError;
use rdkafka::types::RDKafkaErrorCode;

use super::ClusterError;
use super::{EmbeddedCluster, KafkaSettings};

/// What a topic is for, to name it in errors.
#[derive(Debug, Clone)]
pub(crate) enum TopicRole {
    Input(String),
    Output(String),
    DeadLetter,
    /// A store's changelog, with the partition count it must have. Internal:
    /// created whatever `auto_create_topics` says.
    #[cfg_attr(not(feature = "state"), allow(dead_code))]
    Changelog {
        store: String,
        partitions: i32,
    },
    /// A repartition topic, as wide as the inputs. Internal like changelogs;
    /// not compacted (every record is an event).
    #[cfg_attr(not(feature = "state"), allow(dead_code))]
    Repartition {
        name: String,
        partitions: i32,
    },
    /// The compacted catalog topic, one partition (a small, ordered log of
    /// product descriptors). Internal like changelogs.
    Catalog,
}

impl TopicRole {
    fn partitions(&self, settings: &KafkaSettings) -> i32 {
        match self {
            TopicRole::Changelog { partitions, .. } | TopicRole::Repartition { partitions, .. } => {
                *partitions
            }
            TopicRole::Catalog => 1,
            _ => settings.topic_partitions,
        }
    }
}

impl std::fmt::Display for TopicRole {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TopicRole::Input(port) => write!(f, "input port `{port}`"),
            TopicRole::Output(port) => write!(f, "output port `{port}`"),
            TopicRole::DeadLetter => write!(f, "dead-letter topic"),
            TopicRole::Changelog { store, .. } => write!(f, "changelog of store `{store}`"),
            TopicRole::Repartition { name, .. } => write!(f, "repartition topic `{name}`"),
            TopicRole::Catalog => write!(f, "catalog topic"),
        }
    }
}

/// Checks that the brokers answer, then that every topic exists, creating the
/// missing ones when auto-creation is on. Returns each topic's partition count.
pub(crate) async fn ensure_topics(
    brokers: &str,
    embedded: Option<&EmbeddedCluster>,
    settings: &KafkaSettings,
    topics: &[(String, TopicRole)],
) -> Result<HashMap<String, usize>, ClusterError> {
    let admin: AdminClient<DefaultClientContext> = super::base_config(brokers, settings)
        .create()
        .map_err(|source| ClusterError::kafka("creating the admin client", source))?;
    let timeout = settings.startup_timeout;
    let unreachable = |source| ClusterError::BrokerUnreachable {
        brokers: brokers.to_string(),
        timeout,
        source,
    };
    let existing = fetch_partitions(&admin, timeout).await.map_err(unreachable)?;

    let missing: Vec<&(String, TopicRole)> =
        topics.iter().filter(|(t, _)| !existing.contains_key(t)).collect();
    if missing.is_empty() {
        return Ok(existing);
    }
    if let Some((topic, role)) = missing.iter().find(|(_, role)| {
        !settings.auto_create_topics
            && !matches!(
                role,
                TopicRole::Changelog { .. } | TopicRole::Catalog | TopicRole::Repartition { .. }
            )
    }) {
        return Err(ClusterError::UnknownTopic {
            topic: topic.clone(),
            role: role.to_string(),
        });
    }
    for (topic, role) in &missing {
        tracing::info!(topic = %topic, role = %role, partitions = role.partitions(settings), "creating topic");
    }
    if let Some(cluster) = embedded {
        // The mock cluster has no CreateTopics handler.
        for (topic, role) in &missing {
            cluster.create_topic(topic, role.partitions(settings))?;
        }
    } else {
        create_topics(&admin, settings, &missing).await?;
    }
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        let now = fetch_partitions(&admin, timeout).await.map_err(unreachable)?;
        if topics.iter().all(|(t, _)| now.get(t).is_some_and(|n| *n > 0)) {
            return Ok(now);
        }
        if tokio::time::Instant::now() >= deadline {
            let (topic, role) = missing[0];
            tracing::error!(topic = %topic, role = %role, "a created topic did not appear in the metadata");
            return Err(ClusterError::kafka(
                "waiting for created topics to appear",
                KafkaError::AdminOp(RDKafkaErrorCode::UnknownTopicOrPartition),
            ));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn create_topics(
    admin: &AdminClient<DefaultClientContext>,
    settings: &KafkaSettings,
    missing: &[&(String, TopicRole)],
) -> Result<(), ClusterError> {
    // Settings are given explicitly: some brokers report only explicit settings.
    let new_topics: Vec<NewTopic<'_>> = missing
        .iter()
        .map(|(topic, role)| {
            let topic = NewTopic::new(
                topic,
                role.partitions(settings),
                TopicReplication::Fixed(settings.replication_factor),
            );
            match role {
                TopicRole::Changelog { .. } | TopicRole::Catalog => topic.set("cleanup.policy", "compact"),
                _ => topic
                    .set("cleanup.policy", "delete")
                    .set("retention.ms", "604800000"),
            }
        })
        .collect();
    let options = AdminOptions::new().operation_timeout(Some(settings.startup_timeout));
    let results = admin
        .create_topics(new_topics.iter(), &options)
        .await
        .map_err(|source| ClusterError::kafka("creating topics", source))?;
    for result in results {
        match result {
            Ok(_) => {}
            // Another instance created it first.
            Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
            Err((topic, code)) => {
                tracing::error!(topic = %topic, error = %code, "cannot create topic");
                return Err(ClusterError::kafka("creating topics", KafkaError::AdminOp(code)));
            }
        }
    }
    Ok(())
}

async fn fetch_partitions(
    admin: &AdminClient<DefaultClientContext>,
    timeout: Duration,
) -> Result<HashMap<String, usize>, KafkaError> {
    let client = admin.inner();
    // librdkafka's metadata call blocks; keep it off the async worker.
    let metadata = super::blocking(|| client.fetch_metadata(None, timeout))?;
    Ok(metadata
        .topics()
        .iter()
        .filter(|t| t.error().is_none())
        .map(|t| (t.name().to_string(), t.partitions().len()))
        .collect())
}

#[cfg(feature = "state")]
/// Checks that each existing changelog has its store's partition count and is
/// compacted (the latter only where the broker answers DescribeConfigs).
pub(crate) async fn check_changelogs(
    brokers: &str,
    embedded: bool,
    settings: &KafkaSettings,
    partitions: &HashMap<String, usize>,
    changelogs: &[(String, TopicRole)],
) -> Result<(), ClusterError> {
    for (topic, role) in changelogs {
        let TopicRole::Changelog {
            store,
            partitions: want,
        } = role
        else {
            continue;
        };
        let have = partitions.get(topic).copied().unwrap_or_default();
        if have != *want as usize {
            return Err(ClusterError::ChangelogMismatch {
                topic: topic.clone(),
                store: store.clone(),
                reason: format!("it has {have} partitions, the input has {want}"),
            });
        }
    }
    if embedded || changelogs.is_empty() {
        return Ok(());
    }
    let admin: AdminClient<DefaultClientContext> = super::base_config(brokers, settings)
        .create()
        .map_err(|source| ClusterError::kafka("creating the admin client", source))?;
    let resources: Vec<rdkafka::admin::ResourceSpecifier<'_>> = changelogs
        .iter()
        .map(|(t, _)| rdkafka::admin::ResourceSpecifier::Topic(t))
        .collect();
    let options = AdminOptions::new().request_timeout(Some(settings.startup_timeout));
    let results = admin
        .describe_configs(resources.iter(), &options)
        .await
        .map_err(|source| ClusterError::kafka("describing changelog topics", source))?;
    for ((topic, role), result) in changelogs.iter().zip(results) {
        let TopicRole::Changelog { store, .. } = role else {
            continue;
        };
        let Ok(resource) = result else { continue };
        // A broker that reports only explicit settings may leave it out;
        // then there is nothing to hold against the topic.
        if let Some(policy) = resource.get("cleanup.policy").and_then(|e| e.value.as_deref()) {
            if !policy.split(',').any(|p| p.trim() == "compact") {
                return Err(ClusterError::ChangelogMismatch {
                    topic: topic.clone(),
                    store: store.clone(),
                    reason: format!("its cleanup.policy is `{policy}`, not `compact`"),
                });
            }
        }
    }
    Ok(())
}

/// Kafka's own rule for topic names.
pub(crate) fn check_topic_name(topic: &str) -> Result<(), &'static str> {
    if topic.is_empty() {
        return Err("it is empty");
    }
    if topic.len() > 249 {
        return Err("it is longer than 249 characters");
    }
    if topic == "." || topic == ".." {
        return Err("`.` and `..` are not allowed");
    }
    if !topic
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
    {
        return Err("only ASCII letters, digits, `.`, `_` and `-` are allowed");
    }
    Ok(())
}
