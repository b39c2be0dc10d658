//! What happens to a record whose transform fails.

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
