//! How a port's topic and type name its registry subject.

use std::fmt;
use std::str::FromStr;

/// Confluent's subject naming strategies.
///
/// # Examples
///
/// ```
/// use meshkit::schema::SubjectNameStrategy;
///
/// let s: SubjectNameStrategy = "topic-record".parse()?;
/// assert_eq!(s.subject("sales.orders", "com.acme.Order", false), "sales.orders-com.acme.Order");
/// assert_eq!(SubjectNameStrategy::default().subject("sales.orders", "Order", true), "sales.orders-key");
/// # Ok::<(), String>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum SubjectNameStrategy {
    /// `<topic>-key` / `<topic>-value` (Confluent's default).
    #[default]
    TopicName,
    /// The record's full name: one subject per type across topics.
    RecordName,
    /// `<topic>-<record full name>`: several types per topic.
    TopicRecordName,
}

impl SubjectNameStrategy {
    /// The subject for a key (`is_key`) or value of `record_name` on `topic`.
    pub fn subject(self, topic: &str, record_name: &str, is_key: bool) -> String {
        match self {
            Self::TopicName => format!("{topic}-{}", if is_key { "key" } else { "value" }),
            Self::RecordName => record_name.to_string(),
            Self::TopicRecordName => format!("{topic}-{record_name}"),
        }
    }
}

impl fmt::Display for SubjectNameStrategy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::TopicName => "topic",
            Self::RecordName => "record",
            Self::TopicRecordName => "topic-record",
        })
    }
}

impl FromStr for SubjectNameStrategy {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "topic" | "TopicNameStrategy" => Ok(Self::TopicName),
            "record" | "RecordNameStrategy" => Ok(Self::RecordName),
            "topic-record" | "TopicRecordNameStrategy" => Ok(Self::TopicRecordName),
            other => Err(format!(
                "unknown subject name strategy `{other}`; expected one of topic, record, topic-record"
            )),
        }
    }
}
