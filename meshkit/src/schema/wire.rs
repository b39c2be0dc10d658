//! The Confluent wire format: magic byte 0, the schema id as 4 bytes
//! big-endian, then the Avro binary datum.

use super::DecodeError;

/// The magic byte every Confluent-framed payload starts with.
pub const MAGIC: u8 = 0;

/// Length of the frame header: magic byte and schema id.
pub const HEADER_LEN: usize = 5;

/// Splits a Confluent-framed payload into its schema id and Avro body.
///
/// # Errors
///
/// [`DecodeError::Truncated`] if it is shorter than the 5-byte header;
/// [`DecodeError::BadMagic`] if it does not start with 0.
///
/// # Examples
///
/// ```
/// use meshkit::schema::wire;
///
/// let mut framed = Vec::new();
/// wire::write_header(&mut framed, 42);
/// framed.extend_from_slice(b"body");
/// assert_eq!(wire::split(&framed)?, (42, &b"body"[..]));
/// assert!(wire::split(&[1, 0, 0, 0, 42]).is_err());
/// # Ok::<(), meshkit::schema::DecodeError>(())
/// ```
pub fn split(payload: &[u8]) -> Result<(u32, &[u8]), DecodeError> {
    let Some((header, body)) = payload.split_first_chunk::<HEADER_LEN>() else {
        return Err(DecodeError::Truncated { len: payload.len() });
    };
    if header[0] != MAGIC {
        return Err(DecodeError::BadMagic { byte: header[0] });
    }
    let id = u32::from_be_bytes([header[1], header[2], header[3], header[4]]);
    Ok((id, body))
}

/// Appends the 5-byte header for schema `id` to `out`.
pub fn write_header(out: &mut Vec<u8>, id: u32) {
    out.push(MAGIC);
    out.extend_from_slice(&id.to_be_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_every_bad_frame() {
        let mut framed = Vec::new();
        write_header(&mut framed, 0x0102_0304);
        assert_eq!(framed, [0, 1, 2, 3, 4]);
        assert_eq!(split(&framed).unwrap(), (0x0102_0304, &[][..]));
        assert!(matches!(split(&[]), Err(DecodeError::Truncated { len: 0 })));
        assert!(matches!(
            split(&[0, 0, 0, 1]),
            Err(DecodeError::Truncated { len: 4 })
        ));
        assert!(matches!(
            split(&[7, 0, 0, 0, 1]),
            Err(DecodeError::BadMagic { byte: 7 })
        ));
    }
}
