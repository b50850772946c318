//! The wire format: one version byte, then gzip(bincode 2, serde path, standard config).
//! Decoding treats its input as hostile: it checks the version, inflates at most
//! `MAX_DECODED_BYTES`, lets bincode claim no more than that, and never panics.

use std::io::{Read, Write};

use flate2::Compression;
use flate2::read::GzDecoder;
use flate2::write::GzEncoder;
use serde::Serialize;
use serde::de::DeserializeOwned;

/// Bumped whenever the bytes of any wire type change (what a worker, the gateway and the
/// page exchange, and a rule's minute rollups, which hold partials: the catalog drops
/// those on upgrade when this changes).
pub const WIRE_VERSION: u8 = 12;
/// The version of files kept in the lake beside the data (segment index sidecars): they
/// outlive a release, so they change apart from the wire, each reader checking its layout.
pub const FILE_VERSION: u8 = 10;
/// Largest inflated message accepted (a partial is tens of KiB; a hits list a few MiB).
pub const MAX_DECODED_BYTES: usize = 64 * 1024 * 1024;
const GZIP_LEVEL: u32 = 6;

type Config = bincode::config::Configuration<
    bincode::config::LittleEndian,
    bincode::config::Varint,
    bincode::config::Limit<MAX_DECODED_BYTES>,
>;

fn config() -> Config {
    bincode::config::standard().with_limit::<MAX_DECODED_BYTES>()
}

#[derive(Debug, thiserror::Error)]
pub enum CodecError {
    #[error("empty message")]
    Empty,
    #[error("wire version {found} is not supported (expected {expected}); reload the page")]
    Version { found: u8, expected: u8 },
    #[error("message inflates past {MAX_DECODED_BYTES} bytes")]
    TooLarge,
    #[error("corrupt gzip: {0}")]
    Gzip(#[from] std::io::Error),
    #[error("corrupt message: {0}")]
    Decode(#[from] bincode::error::DecodeError),
    #[error("cannot encode: {0}")]
    Encode(#[from] bincode::error::EncodeError),
    #[error("{0} trailing bytes after the message")]
    Trailing(usize),
}

pub fn encode<T: Serialize>(value: &T) -> Result<Vec<u8>, CodecError> {
    encode_as(WIRE_VERSION, value)
}

pub fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, CodecError> {
    decode_as(WIRE_VERSION, bytes)
}

/// `encode` for a file kept in the lake (`FILE_VERSION`).
pub fn encode_file<T: Serialize>(value: &T) -> Result<Vec<u8>, CodecError> {
    encode_as(FILE_VERSION, value)
}

/// Reads what `encode_file` wrote, with `decode`'s limits.
pub fn decode_file<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, CodecError> {
    decode_as(FILE_VERSION, bytes)
}

fn encode_as<T: Serialize>(version: u8, value: &T) -> Result<Vec<u8>, CodecError> {
    let body = bincode::serde::encode_to_vec(value, config())?;
    let mut out = Vec::with_capacity(body.len() / 2 + 32);
    out.push(version);
    let mut gz = GzEncoder::new(out, Compression::new(GZIP_LEVEL));
    gz.write_all(&body)?;
    Ok(gz.finish()?)
}

fn decode_as<T: DeserializeOwned>(expected: u8, bytes: &[u8]) -> Result<T, CodecError> {
    let (&version, compressed) = bytes.split_first().ok_or(CodecError::Empty)?;
    if version != expected {
        return Err(CodecError::Version {
            found: version,
            expected,
        });
    }
    let mut body = Vec::new();
    GzDecoder::new(compressed)
        .take(MAX_DECODED_BYTES as u64 + 1)
        .read_to_end(&mut body)?;
    if body.len() > MAX_DECODED_BYTES {
        return Err(CodecError::TooLarge);
    }
    let (value, used) = bincode::serde::decode_from_slice(&body, config())?;
    if used != body.len() {
        return Err(CodecError::Trailing(body.len() - used));
    }
    Ok(value)
}

/// `encode` without the gzip, for records a database keeps that are small and read by the
/// thousand (a rule's minute rollups): inflating each would cost more than it saves.
pub fn encode_stored<T: Serialize>(value: &T) -> Result<Vec<u8>, CodecError> {
    let mut out = vec![WIRE_VERSION];
    bincode::serde::encode_into_std_write(value, &mut out, config())?;
    Ok(out)
}

/// Reads what `encode_stored` wrote, with `decode`'s limits.
pub fn decode_stored<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, CodecError> {
    let (&version, body) = bytes.split_first().ok_or(CodecError::Empty)?;
    if version != WIRE_VERSION {
        return Err(CodecError::Version {
            found: version,
            expected: WIRE_VERSION,
        });
    }
    if body.len() > MAX_DECODED_BYTES {
        return Err(CodecError::TooLarge);
    }
    let (value, used) = bincode::serde::decode_from_slice(body, config())?;
    if used != body.len() {
        return Err(CodecError::Trailing(body.len() - used));
    }
    Ok(value)
}

/// `encode` for the gateway's frames.
pub fn encode_frame(frame: &crate::Frame) -> Result<Vec<u8>, CodecError> {
    encode(frame)
}

/// `decode` for the browser's frames.
pub fn decode_frame(bytes: &[u8]) -> Result<crate::Frame, CodecError> {
    decode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frame::{ClientMessage, Frame, Progress};

    #[test]
    fn round_trip() {
        let msg = ClientMessage::Query {
            q: "a:b | top 3 c".into(),
            hits: 5000,
            key: Some("slk_1_2".into()),
        };
        assert_eq!(
            decode::<ClientMessage>(&encode(&msg).unwrap()).unwrap(),
            msg
        );
    }

    #[test]
    fn corrupt_bytes_are_typed_errors() {
        let good = encode(&Frame::Done(Progress::default())).unwrap();
        assert!(matches!(decode_frame(&[]), Err(CodecError::Empty)));
        let mut wrong_version = good.clone();
        wrong_version[0] = 99;
        assert!(matches!(
            decode_frame(&wrong_version),
            Err(CodecError::Version { found: 99, .. })
        ));
        assert!(matches!(
            decode_frame(&good[..good.len() / 2]),
            Err(CodecError::Gzip(_))
        ));
        let mut flipped = good.clone();
        let mid = flipped.len() / 2;
        flipped[mid] ^= 0x55;
        assert!(decode_frame(&flipped).is_err());
        // Valid gzip, invalid bincode: an enum tag that does not exist.
        let mut gz = GzEncoder::new(vec![WIRE_VERSION], Compression::new(1));
        gz.write_all(&[42, 0, 0]).unwrap();
        assert!(matches!(
            decode_frame(&gz.finish().unwrap()),
            Err(CodecError::Decode(_))
        ));
    }

    #[test]
    fn a_gzip_bomb_is_refused_without_inflating_it_all() {
        let mut gz = GzEncoder::new(vec![WIRE_VERSION], Compression::best());
        let zeros = vec![0u8; 1 << 20];
        for _ in 0..(MAX_DECODED_BYTES >> 20) + 2 {
            gz.write_all(&zeros).unwrap();
        }
        let bomb = gz.finish().unwrap();
        assert!(bomb.len() < 1 << 20);
        assert!(matches!(decode_frame(&bomb), Err(CodecError::TooLarge)));
    }

    #[test]
    fn a_huge_claimed_length_is_refused() {
        // A Vec<u8> length prefix (varint 0xFD + u64) claiming 2^60 bytes.
        let mut body = vec![0xFD];
        body.extend_from_slice(&(1u64 << 60).to_le_bytes());
        let mut gz = GzEncoder::new(vec![WIRE_VERSION], Compression::new(1));
        gz.write_all(&body).unwrap();
        let bytes = gz.finish().unwrap();
        assert!(decode::<Vec<u8>>(&bytes).is_err());
    }

    #[test]
    fn stored_records_round_trip_and_refuse_garbage() {
        let msg = ClientMessage::Cancel;
        let bytes = encode_stored(&msg).unwrap();
        assert_eq!(decode_stored::<ClientMessage>(&bytes).unwrap(), msg);
        assert!(decode_stored::<ClientMessage>(&[]).is_err());
        assert!(decode_stored::<ClientMessage>(&[WIRE_VERSION, 0xff, 0xff, 0xff]).is_err());
        let mut trailing = bytes.clone();
        trailing.push(0);
        assert!(decode_stored::<ClientMessage>(&trailing).is_err());
    }
}
