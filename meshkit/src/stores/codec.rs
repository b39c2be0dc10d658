//! Encodings: keys in an order-preserving form (so byte order is key order and
//! range scans work), values compactly.

use serde::de::DeserializeOwned;
use serde::Serialize;

use super::StateError;

pub(crate) fn encode_key<K: Serialize>(store: &str, key: &K) -> Result<Vec<u8>, StateError> {
    storekey::serialize(key).map_err(|e| codec_error(store, "encode", "key", e))
}

pub(crate) fn decode_key<K: DeserializeOwned>(store: &str, bytes: &[u8]) -> Result<K, StateError> {
    storekey::deserialize(bytes).map_err(|e| codec_error(store, "decode", "key", e))
}

pub(crate) fn encode_value<V: Serialize>(store: &str, value: &V) -> Result<Vec<u8>, StateError> {
    postcard::to_stdvec(value).map_err(|e| codec_error(store, "encode", "value", e))
}

pub(crate) fn decode_value<V: DeserializeOwned>(store: &str, bytes: &[u8]) -> Result<V, StateError> {
    postcard::from_bytes(bytes).map_err(|e| codec_error(store, "decode", "value", e))
}

fn codec_error(
    store: &str,
    action: &'static str,
    what: &'static str,
    err: impl std::fmt::Display,
) -> StateError {
    StateError::Codec {
        store: store.to_string(),
        action,
        what,
        message: err.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_order_is_byte_order() {
        let keys: Vec<(String, i64)> = vec![
            ("a".into(), -5),
            ("a".into(), 3),
            ("a".into(), 40),
            ("ab".into(), -100),
            ("b".into(), 0),
        ];
        let encoded: Vec<Vec<u8>> = keys
            .iter()
            .map(|k| encode_key("s", k).expect("encodes"))
            .collect();
        let mut sorted = encoded.clone();
        sorted.sort();
        assert_eq!(encoded, sorted, "encoded keys sort like the keys");
        for (key, bytes) in keys.iter().zip(&encoded) {
            assert_eq!(&decode_key::<(String, i64)>("s", bytes).expect("decodes"), key);
        }
    }

    #[test]
    fn values_round_trip_and_garbage_is_an_error() {
        let bytes = encode_value("s", &(7u64, "x".to_string())).expect("encodes");
        assert_eq!(
            decode_value::<(u64, String)>("s", &bytes).expect("decodes"),
            (7, "x".into())
        );
        let err = decode_value::<(u64, String)>("s", &[0xff]).expect_err("garbage");
        assert!(
            err.to_string().contains("store `s`: cannot decode a value"),
            "{err}"
        );
    }
}
