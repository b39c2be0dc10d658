//! Window specifications on event time: how a windowed store groups records
//! (tumbling or hopping, with a grace period for late records) and when its
//! results are published. Plain data, declared in a product's descriptor;
//! the stores that keep windows are in the `state` layer.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// When a windowed store's results are meant to be published.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Emit {
    /// Every update of a window.
    EveryUpdate,
    /// Once per window, its final value, when the window closes (its end plus
    /// the grace period has passed in stream time).
    OnClose,
}

/// How records are grouped in event time: the window size, how far
/// consecutive windows start apart, and how long a window accepts late
/// records after its end.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use meshkit::state::{Emit, Windows};
///
/// let minute = Windows::tumbling(Duration::from_secs(60)).grace(Duration::from_secs(10));
/// let w = minute.windows_for(125_000);
/// assert_eq!((w[0].start, w[0].end), (120_000, 180_000));
///
/// let hopping = Windows::hopping(Duration::from_secs(60), Duration::from_secs(20)).emit(Emit::OnClose);
/// assert_eq!(hopping.windows_for(125_000).len(), 3);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Windows {
    /// Window length.
    pub size: Duration,
    /// Distance between window starts (= `size` for tumbling windows).
    pub advance: Duration,
    /// How long after its end a window still accepts records.
    pub grace: Duration,
    /// When results are published.
    pub emit: Emit,
}

impl Windows {
    /// Back-to-back windows of `size`.
    pub fn tumbling(size: Duration) -> Self {
        Self::hopping(size, size)
    }

    /// Windows of `size` starting every `advance` (overlapping when
    /// `advance < size`).
    pub fn hopping(size: Duration, advance: Duration) -> Self {
        Self {
            size,
            advance,
            grace: Duration::ZERO,
            emit: Emit::EveryUpdate,
        }
    }

    /// Accept records up to `grace` after a window's end (default none).
    #[must_use]
    pub fn grace(mut self, grace: Duration) -> Self {
        self.grace = grace;
        self
    }

    /// When results are published (default every update).
    #[must_use]
    pub fn emit(mut self, emit: Emit) -> Self {
        self.emit = emit;
        self
    }

    pub(crate) fn ms(d: Duration) -> i64 {
        i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
    }

    /// Checks the sizes: both positive, and the advance no longer than the size.
    pub(crate) fn check(&self) -> Result<(), &'static str> {
        if self.size.is_zero() || self.advance.is_zero() {
            return Err("a window's size and advance must be positive");
        }
        if self.advance > self.size {
            return Err("a window's advance must not exceed its size (records would fall between windows)");
        }
        Ok(())
    }

    /// The windows that contain event time `timestamp` (milliseconds), oldest first.
    pub fn windows_for(&self, timestamp: i64) -> Vec<Window> {
        let (size, advance) = (Self::ms(self.size).max(1), Self::ms(self.advance).max(1));
        let last_start = timestamp.div_euclid(advance) * advance;
        let mut windows = Vec::new();
        let mut start = last_start;
        while start > timestamp - size {
            windows.push(Window {
                start,
                end: start + size,
            });
            start -= advance;
        }
        windows.reverse();
        windows
    }

    /// Whether `window` is closed at `stream_time`: its end plus grace passed.
    pub fn is_closed(&self, window: Window, stream_time: i64) -> bool {
        window.end + Self::ms(self.grace) <= stream_time
    }
}

/// One window: event times from `start` (inclusive) to `end` (exclusive), in
/// milliseconds since the Unix epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Window {
    /// First millisecond in the window.
    pub start: i64,
    /// First millisecond after it.
    pub end: i64,
}
