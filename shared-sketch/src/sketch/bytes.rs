//! Serde plumbing for sketches that carry their own byte format: written as one byte
//! string (compact in bincode), read back from bytes or, for self-describing formats such
//! as JSON, from a sequence of numbers.

use std::fmt;

use serde::de::{self, DeserializeOwned, SeqAccess, Visitor};
use serde::{Deserializer, Serialize, Serializer};

use super::error::SketchError;

/// Largest nested sketch body decoded (the frame codec bounds the whole message too).
const MAX_NESTED_BYTES: usize = 16 << 20;

/// bincode (standard config) of a sketch's own wire struct: the form that travels inside
/// a frame as one byte string, so a corrupt sketch is an error of that sketch alone.
pub fn encode_nested<T: Serialize>(value: &T) -> Vec<u8> {
    // Our wire structs hold only bytes, strings, integers and Vecs: encoding cannot fail.
    bincode::serde::encode_to_vec(value, bincode::config::standard()).unwrap_or_default()
}

/// Reads `encode_nested` output with a size limit; trailing bytes are an error.
pub fn decode_nested<T: DeserializeOwned>(
    bytes: &[u8],
    sketch: &'static str,
) -> Result<T, SketchError> {
    let corrupt = |message: String| SketchError::new(sketch, message);
    let config = bincode::config::standard().with_limit::<MAX_NESTED_BYTES>();
    let (value, used) =
        bincode::serde::decode_from_slice(bytes, config).map_err(|e| corrupt(e.to_string()))?;
    if used != bytes.len() {
        return Err(corrupt(format!("{} trailing bytes", bytes.len() - used)));
    }
    Ok(value)
}

pub fn serialize<S: Serializer>(bytes: &[u8], serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_bytes(bytes)
}

pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<u8>, D::Error> {
    struct BytesVisitor;

    impl<'de> Visitor<'de> for BytesVisitor {
        type Value = Vec<u8>;

        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a sketch's bytes")
        }

        fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<Vec<u8>, E> {
            Ok(v.to_vec())
        }

        fn visit_byte_buf<E: de::Error>(self, v: Vec<u8>) -> Result<Vec<u8>, E> {
            Ok(v)
        }

        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<u8>, A::Error> {
            // The hint comes from untrusted input: cap what it may preallocate.
            let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(64 * 1024));
            while let Some(b) = seq.next_element()? {
                out.push(b);
            }
            Ok(out)
        }
    }

    deserializer.deserialize_bytes(BytesVisitor)
}

/// Implements `Serialize`/`Deserialize` for a sketch type through its `to_bytes` and
/// `from_bytes` (the library's own format, validated on the way in).
macro_rules! serde_via_bytes {
    ($sketch:ty) => {
        impl serde::Serialize for $sketch {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                $crate::sketch::bytes::serialize(&self.to_bytes(), serializer)
            }
        }

        impl<'de> serde::Deserialize<'de> for $sketch {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let bytes = $crate::sketch::bytes::deserialize(deserializer)?;
                Self::from_bytes(&bytes).map_err(serde::de::Error::custom)
            }
        }
    };
}
pub(crate) use serde_via_bytes;
