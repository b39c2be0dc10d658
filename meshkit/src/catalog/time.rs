//! UTC timestamps in RFC 3339 form (`2024-05-01T12:00:00.000Z`), without a
//! date-time dependency: the catalog and OpenLineage only need "now", a
//! total order and that one text form.

use std::fmt;
use std::str::FromStr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A UTC instant with millisecond precision, shown and serialized as
/// RFC 3339 (`YYYY-MM-DDTHH:MM:SS.mmmZ`).
///
/// # Examples
///
/// ```
/// use meshkit::catalog::Timestamp;
///
/// let t = Timestamp::from_millis(1_714_564_800_123);
/// assert_eq!(t.to_string(), "2024-05-01T12:00:00.123Z");
/// assert_eq!("2024-05-01T12:00:00.123Z".parse::<Timestamp>(), Ok(t));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Timestamp(u64);

/// Why a text is not an RFC 3339 UTC timestamp.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TimestampError {
    /// Not of the form `YYYY-MM-DDTHH:MM:SS[.fff]Z` (or `+00:00`).
    #[error("`{text}` is not an RFC 3339 UTC timestamp (YYYY-MM-DDTHH:MM:SS[.fff]Z)")]
    Malformed {
        /// The text.
        text: String,
    },
}

impl Timestamp {
    /// The current time (the Unix epoch if the clock is before it).
    pub fn now() -> Self {
        let since = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
        Self(u64::try_from(since.as_millis()).unwrap_or(u64::MAX))
    }

    /// The instant `millis` milliseconds after the Unix epoch.
    pub const fn from_millis(millis: u64) -> Self {
        Self(millis)
    }

    /// Milliseconds since the Unix epoch.
    pub const fn as_millis(self) -> u64 {
        self.0
    }

    /// How long after `earlier` this is (zero if it is not after it).
    pub fn since(self, earlier: Self) -> Duration {
        Duration::from_millis(self.0.saturating_sub(earlier.0))
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let millis = self.0 % 1000;
        let secs = self.0 / 1000;
        let (days, rem) = (secs / 86_400, secs % 86_400);
        let (y, m, d) = civil_from_days(i64::try_from(days).unwrap_or(i64::MAX));
        write!(
            f,
            "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{millis:03}Z",
            rem / 3600,
            rem % 3600 / 60,
            rem % 60
        )
    }
}

impl FromStr for Timestamp {
    type Err = TimestampError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let bad = || TimestampError::Malformed {
            text: text.to_string(),
        };
        let body = text
            .strip_suffix('Z')
            .or_else(|| text.strip_suffix('z'))
            .or_else(|| text.strip_suffix("+00:00"))
            .ok_or_else(bad)?;
        let (date, time) = body.split_once(['T', 't', ' ']).ok_or_else(bad)?;
        let num = |s: &str, len: usize| -> Result<u64, TimestampError> {
            if s.len() == len && s.bytes().all(|b| b.is_ascii_digit()) {
                s.parse().map_err(|_| bad())
            } else {
                Err(bad())
            }
        };
        let mut date_parts = date.split('-');
        let (Some(y), Some(m), Some(d), None) = (
            date_parts.next(),
            date_parts.next(),
            date_parts.next(),
            date_parts.next(),
        ) else {
            return Err(bad());
        };
        let (y, m, d) = (num(y, 4)?, num(m, 2)?, num(d, 2)?);
        let (hms, frac) = time.split_once('.').unwrap_or((time, ""));
        let mut time_parts = hms.split(':');
        let (Some(hh), Some(mm), Some(ss), None) = (
            time_parts.next(),
            time_parts.next(),
            time_parts.next(),
            time_parts.next(),
        ) else {
            return Err(bad());
        };
        let (hh, mm, ss) = (num(hh, 2)?, num(mm, 2)?, num(ss, 2)?);
        if !(1..=12).contains(&m) || !(1..=31).contains(&d) || hh > 23 || mm > 59 || ss > 60 || y < 1970 {
            return Err(bad());
        }
        if !frac.bytes().all(|b| b.is_ascii_digit()) || (frac.is_empty() && time.contains('.')) {
            return Err(bad());
        }
        let millis = frac
            .bytes()
            .chain(std::iter::repeat(b'0'))
            .take(3)
            .fold(0u64, |acc, b| acc * 10 + u64::from(b - b'0'));
        let days = u64::try_from(days_from_civil(y as i64, m, d)).map_err(|_| bad())?;
        Ok(Self(((days * 86_400 + hh * 3600 + mm * 60 + ss) * 1000) + millis))
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// Howard Hinnant's `civil_from_days`: days since 1970-01-01 to (y, m, d).
fn civil_from_days(days: i64) -> (i64, u64, u64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m.unsigned_abs(), d.unsigned_abs())
}

/// The inverse: (y, m, d) to days since 1970-01-01.
fn days_from_civil(y: i64, m: u64, d: u64) -> i64 {
    let (m, d) = (m as i64, d as i64);
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = if m > 2 { m - 3 } else { m + 9 };
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_and_parses_known_instants() {
        for (millis, text) in [
            (0, "1970-01-01T00:00:00.000Z"),
            (951_782_400_000, "2000-02-29T00:00:00.000Z"),
            (1_709_251_199_999, "2024-02-29T23:59:59.999Z"),
            (4_102_444_800_000, "2100-01-01T00:00:00.000Z"),
        ] {
            let t = Timestamp::from_millis(millis);
            assert_eq!(t.to_string(), text);
            assert_eq!(text.parse::<Timestamp>(), Ok(t));
        }
    }

    #[test]
    fn accepts_other_utc_spellings_and_rejects_garbage() {
        assert_eq!(
            "2024-05-01T12:00:00Z".parse::<Timestamp>(),
            "2024-05-01T12:00:00.000+00:00".parse::<Timestamp>()
        );
        assert_eq!(
            "2024-05-01T12:00:00.5Z"
                .parse::<Timestamp>()
                .map(Timestamp::as_millis),
            Ok(1_714_564_800_500)
        );
        for bad in [
            "",
            "2024-05-01",
            "2024-05-01T12:00:00",
            "2024-13-01T12:00:00Z",
            "2024-05-01T12:00:00+02:00",
            "2024-05-01T12:00Z",
            "2024-05-01T12:00:00.Z",
            "yyyy-05-01T12:00:00Z",
        ] {
            assert!(bad.parse::<Timestamp>().is_err(), "{bad}");
        }
    }

    #[test]
    fn round_trips_through_json_and_orders() {
        let a = Timestamp::from_millis(1_000);
        let b = Timestamp::from_millis(2_500);
        let json = serde_json::to_string(&b).unwrap();
        assert_eq!(json, "\"1970-01-01T00:00:02.500Z\"");
        assert_eq!(serde_json::from_str::<Timestamp>(&json).unwrap(), b);
        assert!(a < b);
        assert_eq!(b.since(a), Duration::from_millis(1_500));
        assert_eq!(a.since(b), Duration::ZERO);
    }
}
