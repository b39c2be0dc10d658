//! Tasks: the unit of a stateful product's ownership, as Kafka Streams
//! calls it. Task `n` is partition `n` of every input topic, with partition
//! `n` of each store and of each store's changelog; exactly one instance
//! owns it.
//!
//! Two rules keep a task whole: the inputs have equal partition counts
//! (checked at start), and the group's assignor hands out partition `n` of
//! every input to one member (`range` does, for members that subscribe to
//! the same topics; checked at every assignment).

use std::collections::{BTreeMap, BTreeSet, HashMap};

use super::Error;
use crate::config::Config;
use crate::error::ConfigError;
use crate::product::InputPort;

/// The assignor a stateful product's group uses.
const ASSIGNOR: &str = "range";

/// The inputs' common partition count: the number of tasks.
///
/// # Errors
///
/// [`Error::InputsNotCoPartitioned`] when the counts differ.
pub(crate) fn co_partitioned(counts: &[(String, i32)]) -> Result<i32, Error> {
    let widths: BTreeSet<i32> = counts.iter().map(|(_, n)| *n).collect();
    match widths.len() {
        0 => Ok(1),
        1 => Ok(widths.into_iter().next().unwrap_or(1)),
        _ => Err(Error::InputsNotCoPartitioned {
            counts: counts.to_vec(),
        }),
    }
}

/// The common partition count of `inputs`' topics, each topic's count
/// read from `partitions`: the number of tasks.
///
/// # Errors
///
/// [`Error::InputsNotCoPartitioned`] when the counts differ.
pub(crate) fn width<'a>(
    inputs: impl IntoIterator<Item = &'a InputPort>,
    partitions: &HashMap<String, usize>,
) -> Result<i32, Error> {
    let counts: Vec<(String, i32)> = (inputs.into_iter())
        .filter_map(|p| Some((p.topic.clone(), i32::try_from(*partitions.get(&p.topic)?).ok()?)))
        .collect();
    co_partitioned(&counts)
}

/// The assignor setting for a stateful product: `range`, unless the user
/// chose another, which is refused.
///
/// # Errors
///
/// [`ConfigError::InvalidKafkaProperty`] for an assignor other than `range`.
pub(crate) fn assignor(config: &Config) -> Result<&'static str, ConfigError> {
    const NAME: &str = "partition.assignment.strategy";
    match config.kafka.properties.get(NAME) {
        Some(value) if value.trim() != ASSIGNOR => Err(ConfigError::InvalidKafkaProperty {
            property: NAME.to_string(),
            value: value.clone(),
            reason: "a product with stores needs the `range` assignor, which keeps partition n of every \
                     input on one instance (the task that owns store partition n)"
                .to_string(),
        }),
        _ => Ok(ASSIGNOR),
    }
}

/// The first task this assignment splits, if any: a partition number for
/// which some but not all `inputs` were assigned.
pub(crate) fn split<'a>(
    assigned: impl IntoIterator<Item = (&'a str, i32)>,
    inputs: &[String],
) -> Option<Error> {
    let mut by_task: BTreeMap<i32, BTreeSet<&str>> = BTreeMap::new();
    for (topic, partition) in assigned {
        by_task.entry(partition).or_default().insert(topic);
    }
    by_task.into_iter().find_map(|(task, topics)| {
        let missing: Vec<String> = inputs
            .iter()
            .filter(|input| !topics.contains(input.as_str()))
            .cloned()
            .collect();
        (!missing.is_empty()).then(|| Error::TaskSplit {
            task,
            assigned: topics.into_iter().map(str::to_string).collect(),
            missing,
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counts(list: &[(&str, i32)]) -> Vec<(String, i32)> {
        list.iter().map(|(t, n)| (t.to_string(), *n)).collect()
    }

    #[test]
    fn equal_counts_are_the_number_of_tasks_and_unequal_ones_are_refused() {
        assert_eq!(co_partitioned(&counts(&[("a", 4), ("b", 4)])).expect("equal"), 4);
        assert_eq!(co_partitioned(&counts(&[("a", 3)])).expect("one input"), 3);
        let err = co_partitioned(&counts(&[("a", 4), ("b", 2)])).unwrap_err();
        let text = err.to_string();
        assert!(text.contains("`a` 4, `b` 2"), "{text}");
        assert!(!err.is_retriable());
    }

    #[test]
    fn a_split_task_names_what_was_and_was_not_assigned() {
        let inputs = vec!["orders".to_string(), "payments".to_string()];
        let whole = [("orders", 0), ("payments", 0), ("orders", 2), ("payments", 2)];
        assert!(split(whole, &inputs).is_none());
        let torn = [("orders", 0), ("payments", 0), ("orders", 1)];
        match split(torn, &inputs) {
            Some(Error::TaskSplit {
                task,
                assigned,
                missing,
            }) => {
                assert_eq!(task, 1);
                assert_eq!(assigned, ["orders"]);
                assert_eq!(missing, ["payments"]);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn only_the_range_assignor_is_accepted_for_stores() {
        let default = Config::builder().build().expect("config");
        assert_eq!(assignor(&default).expect("default"), "range");
        let range = Config::builder()
            .kafka_property("partition.assignment.strategy", "range")
            .build()
            .expect("config");
        assert_eq!(assignor(&range).expect("range"), "range");
        let roundrobin = Config::builder()
            .kafka_property("partition.assignment.strategy", "roundrobin")
            .build()
            .expect("config");
        let err = assignor(&roundrobin).unwrap_err().to_string();
        assert!(err.contains("range"), "{err}");
    }
}
