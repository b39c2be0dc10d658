//! Entries that expire: a TTL store's values carry their expiry time, and an
//! index ordered by expiry time finds the due ones with one seek, so that no
//! check scans the store.
//!
//! A value is its expiry time (8 bytes) then the encoded value, in the
//! database and in the changelog alike, so a restore rebuilds the index from
//! the values it replays. The index of store `s` is kept under key slot
//! `s | 0x80` as `expiry time ‖ key` with an empty value; it is not
//! changelogged. An index entry whose value was written again (a later
//! expiry) or deleted is stale: removing it is all a check does with it.

/// The high bit of a key slot: the slot holds a store's expiry index.
const INDEX_SLOT: usize = 0x80;

/// The key slot of store `store`'s expiry index.
pub(crate) fn index_slot(store: usize) -> usize {
    store | INDEX_SLOT
}

/// `at` as 8 bytes whose byte order is the numbers' order.
fn ordered(at: i64) -> [u8; 8] {
    (u64::from_ne_bytes(at.to_ne_bytes()) ^ (1 << 63)).to_be_bytes()
}

fn from_ordered(bytes: [u8; 8]) -> i64 {
    i64::from_ne_bytes((u64::from_be_bytes(bytes) ^ (1 << 63)).to_ne_bytes())
}

/// A value expiring at `at`: `at` then `payload`.
pub(crate) fn frame(at: i64, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(8 + payload.len());
    out.extend_from_slice(&ordered(at));
    out.extend_from_slice(payload);
    out
}

/// A framed value's expiry time and payload; `None` if it is too short to
/// be one.
pub(crate) fn split(bytes: &[u8]) -> Option<(i64, &[u8])> {
    let (at, payload) = bytes.split_first_chunk::<8>()?;
    Some((from_ordered(*at), payload))
}

/// The index key of `key` expiring at `at`.
pub(crate) fn index_key(at: i64, key: &[u8]) -> Vec<u8> {
    frame(at, key)
}

/// The first index key after every entry expiring at or before `now`.
pub(crate) fn index_end(now: i64) -> Vec<u8> {
    ordered(now.saturating_add(1)).to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expiry_times_sort_as_bytes_and_split_back() {
        let times = [i64::MIN, -5, -1, 0, 1, 1_700_000_000_000, i64::MAX];
        let keys: Vec<Vec<u8>> = times.iter().map(|t| index_key(*t, b"k")).collect();
        let mut sorted = keys.clone();
        sorted.sort();
        assert_eq!(keys, sorted);
        for (t, k) in times.iter().zip(&keys) {
            assert_eq!(split(k), Some((*t, &b"k"[..])));
        }
        assert_eq!(split(b"short"), None);
        assert!(index_key(10, b"zzz").as_slice() < index_end(10).as_slice());
        assert!(index_key(11, b"").as_slice() >= index_end(10).as_slice());
    }

    #[test]
    fn the_index_slot_is_apart_from_every_store() {
        for store in 0..127 {
            assert!(index_slot(store) >= 0x80);
            assert_eq!(index_slot(store) & 0x7f, store);
        }
    }
}
