//! How records are processed: the processing guarantee, and what happens to
//! a record whose transform fails.

use std::fmt;
use std::str::FromStr;

/// What the runtime does with a record whose transform failed, after it has
/// aborted the transaction that carried it and rewound to the last commit.
///
/// # Examples
///
/// ```
/// use meshkit::ErrorPolicy;
///
/// assert_eq!("retry:3".parse::<ErrorPolicy>(), Ok(ErrorPolicy::Retry { attempts: 3 }));
/// assert_eq!(ErrorPolicy::default(), ErrorPolicy::DeadLetter);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum ErrorPolicy {
    /// Write the record to the dead-letter topic, with the reason in its
    /// headers, in the same transaction as its offset; go on with the next.
    #[default]
    DeadLetter,
    /// Try the record again up to `attempts` more times (only for errors that
    /// say a retry can help), then dead-letter it.
    Retry {
        /// How many more tries.
        attempts: u32,
    },
    /// Stop the product with [`Error::Transform`](crate::Error::Transform);
    /// nothing of the failing transaction is visible.
    Stop,
}

impl fmt::Display for ErrorPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ErrorPolicy::DeadLetter => f.write_str("dead-letter"),
            ErrorPolicy::Retry { attempts } => write!(f, "retry:{attempts}"),
            ErrorPolicy::Stop => f.write_str("stop"),
        }
    }
}

impl FromStr for ErrorPolicy {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim() {
            "dead-letter" => Ok(ErrorPolicy::DeadLetter),
            "stop" => Ok(ErrorPolicy::Stop),
            other => match other.strip_prefix("retry:").map(str::parse::<u32>) {
                Some(Ok(attempts)) => Ok(ErrorPolicy::Retry { attempts }),
                _ => Err("expected one of: dead-letter, stop, retry:N".into()),
            },
        }
    }
}

/// What the runtime promises about each input record's effects (outputs,
/// dead letters, store changes) once its offset is committed: the
/// counterpart of Kafka Streams' `processing.guarantee`.
///
/// Set with [`ConfigBuilder::guarantee`](crate::ConfigBuilder::guarantee) or
/// `MESHKIT_PROCESSING_GUARANTEE` (`exactly_once`, `at_least_once`).
///
/// # Examples
///
/// ```
/// use meshkit::Guarantee;
///
/// assert_eq!(Guarantee::default(), Guarantee::ExactlyOnce);
/// assert_eq!("at_least_once".parse::<Guarantee>(), Ok(Guarantee::AtLeastOnce));
/// assert_eq!(Guarantee::AtLeastOnce.to_string(), "at_least_once");
/// assert!("maybe_once".parse::<Guarantee>().is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, serde::Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Guarantee {
    /// Outputs, dead letters, changelog writes and input offsets commit in
    /// one Kafka transaction: a crash or a failure aborts what was not
    /// committed, and read_committed consumers see each input's effects
    /// exactly once.
    #[default]
    ExactlyOnce,
    /// No transactions: an idempotent producer, and at each commit point the
    /// producer is flushed (every output and changelog write acknowledged)
    /// before the input offsets are committed. Nothing is lost, but a crash
    /// or a failed commit processes the records since the last commit again,
    /// so their outputs may appear twice. Cheaper: no transaction markers,
    /// no coordinator round trips per commit.
    AtLeastOnce,
}

impl Guarantee {
    /// The values `MESHKIT_PROCESSING_GUARANTEE` accepts, in the order of the variants.
    pub const NAMES: &'static [&'static str] = &["exactly_once", "at_least_once"];

    /// Its name, as `MESHKIT_PROCESSING_GUARANTEE` spells it.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(meshkit::Guarantee::ExactlyOnce.as_str(), "exactly_once");
    /// ```
    pub fn as_str(self) -> &'static str {
        match self {
            Guarantee::ExactlyOnce => "exactly_once",
            Guarantee::AtLeastOnce => "at_least_once",
        }
    }
}

impl fmt::Display for Guarantee {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Guarantee {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "exactly_once" => Ok(Guarantee::ExactlyOnce),
            "at_least_once" => Ok(Guarantee::AtLeastOnce),
            _ => Err(format!("expected one of: {}", Guarantee::NAMES.join(", "))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_guarantee_reads_and_shows_as_its_setting_spells_it() {
        for (guarantee, name) in [
            (Guarantee::ExactlyOnce, "exactly_once"),
            (Guarantee::AtLeastOnce, "at_least_once"),
        ] {
            assert_eq!(name.parse::<Guarantee>(), Ok(guarantee));
            assert_eq!(guarantee.to_string(), name);
            // `/healthz` says it the same way.
            assert_eq!(
                serde_json::to_string(&guarantee).expect("json"),
                format!("\"{name}\"")
            );
        }
        assert_eq!(Guarantee::NAMES, ["exactly_once", "at_least_once"]);
        let err = "exactly_once_v2".parse::<Guarantee>().unwrap_err();
        assert_eq!(err, "expected one of: exactly_once, at_least_once");
    }
}
