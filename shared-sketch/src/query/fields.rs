//! An event's fields as the query reads them, and the common names fields go by across
//! log formats.
//!
//! Common field names across log formats. A security engineer types `src_ip` whether the
//! data is a VPC flow log (`srcaddr`), Zeek (`id.orig_h`), CloudTrail (`sourceIPAddress`),
//! an access log (`clientip`) or CICFlowMeter CSV (`Src IP`);
//! a record's own field name always wins, and these are tried, in order, when it is absent.

use std::borrow::Cow;

/// Read access to one event's fields, as canonical text.
pub trait Fields {
    /// The field's one value: aggregates, `by` groups and hit fields read this. An array
    /// has none.
    fn get(&self, field: &str) -> Option<Cow<'_, str>>;

    /// Whether `test` holds for some value of the field: its one value, or an element of
    /// the array it holds, as Elasticsearch, Splunk and rsigma search arrays. Searches
    /// read this.
    fn any(&self, field: &str, mut test: impl FnMut(&str) -> bool) -> bool
    where
        Self: Sized,
    {
        self.get(field).is_some_and(|value| test(&value))
    }
}

const ALIASES: &[(&str, &[&str])] = &[
    (
        "src_ip",
        &[
            "srcaddr",
            "id.orig_h",
            "sourceIPAddress",
            "src_addr",
            "clientip",
            "srcAddr",
            "Src IP",
            "Source IP",
        ],
    ),
    (
        "dst_ip",
        &[
            "dstaddr",
            "id.resp_h",
            "dest_ip",
            "dst_addr",
            "dstAddr",
            "Dst IP",
        ],
    ),
    ("src_port", &["srcport", "id.orig_p", "srcPort", "Src Port"]),
    (
        "dst_port",
        &["dstport", "id.resp_p", "dest_port", "dstPort", "Dst Port"],
    ),
    ("bytes", &["orig_bytes"]),
    ("user", &["username", "userIdentity.userName"]),
];

/// The other names `field` is known by (empty when it has none).
pub fn aliases(field: &str) -> &'static [&'static str] {
    ALIASES
        .iter()
        .find(|(name, _)| *name == field)
        .map_or(&[], |(_, names)| names)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn src_ip_names_the_vpc_flow_and_zeek_fields() {
        assert!(aliases("src_ip").contains(&"srcaddr"));
        assert!(aliases("src_ip").contains(&"id.orig_h"));
        assert!(aliases("no_such_field").is_empty());
    }
}
