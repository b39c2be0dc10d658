//! Decoding of v2 record batches (magic 2) as they appear in a Fetch response.
//!
//! The decoder is our own rather than `kafka_protocol::records::RecordBatchDecoder` for three
//! reasons: it keeps duplicate header keys (the crate stores headers in a map), it stops cleanly
//! at a truncated last batch (a broker may cut the last batch of a response at the size limit),
//! and it keeps the batch-level facts the oracle needs (last offset delta, control flag) even for
//! a batch whose records were all compacted away. Decompression is the crate's.

use anyhow::{anyhow, bail, ensure, Context, Result};
use bytes::{Buf, Bytes};
use kafka_protocol::compression::{self as cmpr, Decompressor};

/// Size of the batch header that precedes the records, from the base offset to the record count.
const BATCH_HEADER_LEN: usize = 61;
/// Base offset (8 bytes) and batch length (4 bytes): the part not counted in the batch length.
const LOG_OVERHEAD: usize = 12;
/// Offset of the attributes field, where the CRC-covered part of a batch starts.
const CRC_START: usize = 21;

/// One record as stored in a batch, with the batch-level facts resolved.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct RawRecord {
    pub(super) offset: i64,
    pub(super) timestamp: i64,
    pub(super) key: Option<Bytes>,
    pub(super) value: Option<Bytes>,
    pub(super) headers: Vec<(String, Option<Bytes>)>,
}

/// One record batch.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Batch {
    pub(super) base_offset: i64,
    /// Base offset plus the last offset delta: the offset the next batch starts after.
    pub(super) last_offset: i64,
    pub(super) producer_id: i64,
    pub(super) producer_epoch: i16,
    pub(super) transactional: bool,
    pub(super) control: bool,
    pub(super) records: Vec<RawRecord>,
}

/// The complete batches of one partition's records field.
#[derive(Debug, Default)]
pub(super) struct Decoded {
    pub(super) batches: Vec<Batch>,
    /// Bytes were left after the last complete batch: a batch cut at the response size limit.
    pub(super) truncated: bool,
}

/// The type of a control record, from its key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum ControlType {
    Abort,
    Commit,
    /// Another control type (e.g. a KRaft leader change); not a transaction marker.
    Other(i16),
}

/// Decodes a control record key: version (i16) then type (i16).
pub(super) fn control_type(key: Option<&Bytes>) -> Result<ControlType> {
    let key = key.ok_or_else(|| anyhow!("control record without a key"))?;
    ensure!(
        key.len() >= 4,
        "control record key is {} bytes, expected at least 4 (version i16, type i16)",
        key.len()
    );
    let mut k = key.clone();
    let version = k.get_i16();
    ensure!(version >= 0, "control record key version {version} is negative");
    Ok(match k.get_i16() {
        0 => ControlType::Abort,
        1 => ControlType::Commit,
        other => ControlType::Other(other),
    })
}

/// Decodes every complete batch in `buf` (the `records` field of a fetched partition).
pub(super) fn decode_batches(mut buf: Bytes) -> Result<Decoded> {
    let mut out = Decoded::default();
    while !buf.is_empty() {
        if buf.len() < LOG_OVERHEAD {
            out.truncated = true;
            break;
        }
        let base_offset = (&buf[0..8]).get_i64();
        let batch_len = (&buf[8..12]).get_i32();
        ensure!(
            batch_len >= 0,
            "batch at offset {base_offset} has a negative length {batch_len}"
        );
        let total = LOG_OVERHEAD + batch_len as usize;
        if buf.len() < total {
            out.truncated = true;
            break;
        }
        let raw = buf.split_to(total);
        let batch = decode_batch(raw).with_context(|| format!("batch at offset {base_offset}"))?;
        out.batches.push(batch);
    }
    Ok(out)
}

fn decode_batch(raw: Bytes) -> Result<Batch> {
    ensure!(
        raw.len() > 16,
        "batch of {} bytes is too short to hold a magic byte",
        raw.len()
    );
    let magic = raw[16] as i8;
    if magic != 2 {
        bail!("message format v{magic} is not supported (only record batches v2)");
    }
    ensure!(
        raw.len() >= BATCH_HEADER_LEN,
        "batch of {} bytes is shorter than the {BATCH_HEADER_LEN}-byte v2 header",
        raw.len()
    );
    let mut h = raw.slice(0..BATCH_HEADER_LEN);
    let base_offset = h.get_i64();
    let _batch_len = h.get_i32();
    let _leader_epoch = h.get_i32();
    let _magic = h.get_i8();
    let crc = h.get_u32();
    let actual = crc32c(&raw[CRC_START..]);
    ensure!(
        crc == actual,
        "CRC mismatch: batch says {crc:#010x}, content has {actual:#010x}"
    );
    let attributes = h.get_i16();
    let last_offset_delta = h.get_i32();
    let base_timestamp = h.get_i64();
    let max_timestamp = h.get_i64();
    let producer_id = h.get_i64();
    let producer_epoch = h.get_i16();
    let _base_sequence = h.get_i32();
    let record_count = h.get_i32();
    ensure!(record_count >= 0, "negative record count {record_count}");

    let transactional = attributes & (1 << 4) != 0;
    let control = attributes & (1 << 5) != 0;
    let log_append_time = attributes & (1 << 3) != 0;
    let mut body = raw.slice(BATCH_HEADER_LEN..);
    let mut data = match attributes & 0x7 {
        0 => body,
        1 => cmpr::Gzip::decompress(&mut body, |b: &mut Bytes| Ok(std::mem::take(b)))?,
        2 => cmpr::Snappy::decompress(&mut body, |b: &mut Bytes| Ok(std::mem::take(b)))?,
        3 => cmpr::Lz4::decompress(&mut body, |b: &mut Bytes| Ok(std::mem::take(b)))?,
        4 => bail!(
            "zstd-compressed batch: the oracle's kafka-protocol build has no zstd feature \
             (produce test data with another compression.type)"
        ),
        other => bail!("unknown compression type {other}"),
    };

    let mut records = Vec::with_capacity(record_count as usize);
    for i in 0..record_count {
        let record = decode_record(&mut data, base_offset, base_timestamp)
            .with_context(|| format!("record {i} of {record_count}"))?;
        let record = if log_append_time {
            RawRecord {
                timestamp: max_timestamp,
                ..record
            }
        } else {
            record
        };
        records.push(record);
    }
    ensure!(
        data.is_empty(),
        "{} bytes left after the batch's {record_count} records",
        data.len()
    );
    Ok(Batch {
        base_offset,
        last_offset: base_offset + i64::from(last_offset_delta),
        producer_id,
        producer_epoch,
        transactional,
        control,
        records,
    })
}

fn decode_record(buf: &mut Bytes, base_offset: i64, base_timestamp: i64) -> Result<RawRecord> {
    let len = read_varint(buf)?;
    ensure!(len >= 0, "negative record length {len}");
    let mut r = take(buf, len as usize)?;
    ensure!(r.has_remaining(), "empty record");
    let _attributes = r.get_i8();
    let timestamp_delta = read_varlong(&mut r)?;
    let offset_delta = read_varint(&mut r)?;
    let key = read_nullable(&mut r).context("key")?;
    let value = read_nullable(&mut r).context("value")?;
    let header_count = read_varint(&mut r)?;
    ensure!(header_count >= 0, "negative header count {header_count}");
    let mut headers = Vec::with_capacity(header_count as usize);
    for _ in 0..header_count {
        let key_len = read_varint(&mut r)?;
        ensure!(key_len >= 0, "negative header key length {key_len}");
        let key = take(&mut r, key_len as usize)?;
        let key = String::from_utf8(key.to_vec()).context("header key is not UTF-8")?;
        let value = read_nullable(&mut r).with_context(|| format!("header {key:?} value"))?;
        headers.push((key, value));
    }
    ensure!(r.is_empty(), "{} bytes left at the end of a record", r.len());
    Ok(RawRecord {
        offset: base_offset + i64::from(offset_delta),
        timestamp: base_timestamp + timestamp_delta,
        key,
        value,
        headers,
    })
}

fn take(buf: &mut Bytes, n: usize) -> Result<Bytes> {
    ensure!(buf.len() >= n, "need {n} bytes, only {} left", buf.len());
    Ok(buf.split_to(n))
}

fn read_nullable(buf: &mut Bytes) -> Result<Option<Bytes>> {
    let len = read_varint(buf)?;
    match len {
        -1 => Ok(None),
        n if n < -1 => bail!("length {n} is below -1"),
        n => Ok(Some(take(buf, n as usize)?)),
    }
}

/// Reads an unsigned LEB128 integer of at most `max_bytes` bytes.
fn read_unsigned(buf: &mut Bytes, max_bytes: u32) -> Result<u64> {
    let mut value = 0u64;
    for i in 0..max_bytes {
        ensure!(buf.has_remaining(), "varint runs past the end of its record");
        let b = buf.get_u8();
        value |= u64::from(b & 0x7f) << (7 * i);
        if b & 0x80 == 0 {
            return Ok(value);
        }
    }
    bail!("varint longer than {max_bytes} bytes")
}

fn read_varint(buf: &mut Bytes) -> Result<i32> {
    let n = read_unsigned(buf, 5)? as u32;
    Ok(((n >> 1) as i32) ^ -((n & 1) as i32))
}

fn read_varlong(buf: &mut Bytes) -> Result<i64> {
    let n = read_unsigned(buf, 10)?;
    Ok(((n >> 1) as i64) ^ -((n & 1) as i64))
}

/// CRC-32C (Castagnoli), the checksum of v2 record batches.
pub(super) fn crc32c(data: &[u8]) -> u32 {
    const fn table() -> [u32; 256] {
        // Reflected form of the Castagnoli polynomial 0x1EDC6F41.
        const POLY: u32 = 0x82F6_3B78;
        let mut table = [0u32; 256];
        let mut i = 0;
        while i < 256 {
            let mut c = i as u32;
            let mut k = 0;
            while k < 8 {
                c = if c & 1 != 0 { (c >> 1) ^ POLY } else { c >> 1 };
                k += 1;
            }
            table[i] = c;
            i += 1;
        }
        table
    }
    static TABLE: [u32; 256] = table();
    let mut crc = !0u32;
    for &b in data {
        crc = TABLE[((crc ^ u32::from(b)) & 0xff) as usize] ^ (crc >> 8);
    }
    !crc
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::BytesMut;
    use kafka_protocol::indexmap::IndexMap;
    use kafka_protocol::protocol::StrBytes;
    use kafka_protocol::records::{
        Compression, Record, RecordBatchEncoder, RecordEncodeOptions, TimestampType,
    };

    fn record(offset: i64, pid: i64, transactional: bool, control: bool, key: &[u8]) -> Record {
        let mut headers = IndexMap::new();
        headers.insert(StrBytes::from_static_str("h"), Some(Bytes::from_static(b"v")));
        Record {
            transactional,
            control,
            delete_horizon: false,
            partition_leader_epoch: 0,
            producer_id: pid,
            producer_epoch: 0,
            timestamp_type: TimestampType::Creation,
            offset,
            sequence: offset as i32,
            timestamp: 1_000 + offset,
            key: Some(Bytes::copy_from_slice(key)),
            value: Some(Bytes::from(format!("value-{offset}"))),
            headers,
        }
    }

    fn encode(records: &[Record], compression: Compression) -> Bytes {
        let mut buf = BytesMut::new();
        RecordBatchEncoder::encode(
            &mut buf,
            records.iter(),
            &RecordEncodeOptions {
                version: 2,
                compression,
            },
        )
        .expect("encode");
        buf.freeze()
    }

    #[test]
    fn crc32c_check_value() {
        assert_eq!(crc32c(b"123456789"), 0xE306_9283);
    }

    #[test]
    fn decodes_flags_and_records_for_each_compression() {
        for compression in [
            Compression::None,
            Compression::Gzip,
            Compression::Snappy,
            Compression::Lz4,
        ] {
            let records: Vec<Record> = (0..5)
                .map(|o| record(o, 7, true, false, format!("k{o}").as_bytes()))
                .collect();
            let decoded = decode_batches(encode(&records, compression)).expect("decode");
            assert!(!decoded.truncated);
            assert_eq!(decoded.batches.len(), 1, "{compression:?}");
            let b = &decoded.batches[0];
            assert_eq!((b.base_offset, b.last_offset), (0, 4));
            assert!(b.transactional && !b.control);
            assert_eq!(b.producer_id, 7);
            assert_eq!(b.records.len(), 5);
            assert_eq!(b.records[3].offset, 3);
            assert_eq!(b.records[3].timestamp, 1_003);
            assert_eq!(b.records[3].key.as_deref(), Some(&b"k3"[..]));
            assert_eq!(b.records[3].value.as_deref(), Some(&b"value-3"[..]));
            assert_eq!(
                b.records[3].headers,
                vec![("h".to_string(), Some(Bytes::from_static(b"v")))]
            );
        }
    }

    #[test]
    fn stops_at_a_truncated_batch_and_detects_corruption() {
        let mut all = BytesMut::new();
        all.extend_from_slice(&encode(&[record(0, -1, false, false, b"a")], Compression::None));
        let second = encode(&[record(1, -1, false, false, b"b")], Compression::None);
        all.extend_from_slice(&second[..second.len() - 3]);
        let decoded = decode_batches(all.freeze()).expect("decode");
        assert_eq!(decoded.batches.len(), 1);
        assert!(decoded.truncated);

        let mut corrupt = BytesMut::from(&second[..]);
        let last = corrupt.len() - 1;
        corrupt[last] ^= 0xff;
        let err = decode_batches(corrupt.freeze()).expect_err("corrupt batch must fail");
        assert!(format!("{err:#}").contains("CRC"), "{err:#}");
    }

    #[test]
    fn control_keys() {
        let commit = Bytes::from_static(&[0, 0, 0, 1]);
        let abort = Bytes::from_static(&[0, 0, 0, 0]);
        assert_eq!(control_type(Some(&commit)).expect("commit"), ControlType::Commit);
        assert_eq!(control_type(Some(&abort)).expect("abort"), ControlType::Abort);
        assert!(control_type(None).is_err());
        assert!(control_type(Some(&Bytes::from_static(&[0, 0]))).is_err());
    }
}
