//! The fixed partial behind the cross-target test vectors: built the same way natively and
//! in wasm, so equal bytes prove both targets hash, sketch and encode identically.

use shared_sketch::{Hit, Partial, Query, parse};

pub const VECTOR_QUERY: &str = "action:REJECT | stats count(), dc(src_ip)";
pub const TOP_QUERY: &str = "action:REJECT | top 5 src_ip";

/// A deterministic stream: 20,000 events over 5,000 distinct IPs, skewed so the top-K has a
/// clear order.
pub fn vector_partial(text: &str) -> (Query, Partial) {
    let query = parse(text).expect("fixture query parses");
    let mut partial = Partial::new(&query);
    let mut x: u64 = 0x5eed;
    for i in 0..20_000u64 {
        // xorshift: no RNG crate, identical on every target.
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let host = if i % 4 == 0 { x % 8 } else { x % 5_000 };
        let ip = format!("10.{}.{}.{}", host / 65_536, (host / 256) % 256, host % 256);
        partial.all.totals.matched += 1;
        partial.stats.records += 1;
        // A time on most events (rare values' first and last seen), none on some.
        let time = (i % 10 != 0).then(|| 1_795_330_000_000 + (i as i64) * 1000);
        for agg in &mut partial.all.totals.states {
            agg.update(&ip, time);
        }
    }
    let mut hit = Hit::new(
        "2026/11/22/07.json.gz",
        41,
        r#"{"srcaddr":"10.0.0.7","action":"REJECT"}"#,
    );
    hit.time = Some(1_795_330_000_000);
    hit.fields.insert("srcaddr".into(), "10.0.0.7".into());
    // Cut at a character boundary, the same on both targets.
    partial.add_hits([hit, Hit::new("2026/11/22/08.json.gz", 3, &"é".repeat(3000))]);
    partial.stats.files = 1;
    partial.stats.bytes = 123_456;
    partial.stats.add_error(
        "s3://bucket/2026/11/22/broken.json.gz",
        "unexpected end of file",
    );
    (query, partial)
}

pub const DC_VECTOR: &[u8] = include_bytes!("../vectors/dc-partial.bin");
pub const TOP_VECTOR: &[u8] = include_bytes!("../vectors/top-partial.bin");
pub const DC_RESULT: &str = include_str!("../vectors/dc-partial.result.json");
pub const TOP_RESULT: &str = include_str!("../vectors/top-partial.result.json");
