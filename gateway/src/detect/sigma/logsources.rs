//! The mapping of Sigma log sources onto sketchlake's events: `logsources.yml`, shipped,
//! then those of a rules folder's `sigma.yml`.

use std::collections::BTreeMap;

use rsigma_parser::LogSource;
use serde::Deserialize;
use shared_sketch::parse;

const SHIPPED: &str = include_str!("logsources.yml");

/// One mapping: the logsource keys it applies to, the events they select, their fields.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Entry {
    pub logsource: BTreeMap<String, String>,
    pub events: String,
    #[serde(default)]
    pub fields: BTreeMap<String, String>,
}

/// Every mapping, in the order read: later ones win ties.
#[derive(Debug, Clone)]
pub struct Logsources {
    entries: Vec<Entry>,
}

/// What a rule's logsource maps to.
#[derive(Debug)]
pub struct Mapped<'a> {
    /// The search selecting the rule's events, placeholders filled in.
    pub events: String,
    pub fields: &'a BTreeMap<String, String>,
}

impl Logsources {
    /// The shipped mappings.
    pub fn shipped() -> Logsources {
        #[allow(clippy::expect_used)] // the shipped file is checked by its test
        let entries = read(SHIPPED).expect("the shipped logsources.yml reads");
        Logsources { entries }
    }

    /// Adds `entries`, which win over those read before.
    pub fn extend(&mut self, entries: Vec<Entry>) -> Result<(), String> {
        check(&entries)?;
        self.entries.extend(entries);
        Ok(())
    }

    /// The mapping for `logsource`, or `None` when no entry names it.
    pub fn find(&self, logsource: &LogSource) -> Option<Mapped<'_>> {
        let value = |key: &str| -> Option<&str> {
            match key {
                "product" => logsource.product.as_deref(),
                "service" => logsource.service.as_deref(),
                "category" => logsource.category.as_deref(),
                other => logsource.custom.get(other).map(String::as_str),
            }
        };
        let applies = |entry: &Entry| {
            entry
                .logsource
                .iter()
                .all(|(k, v)| value(k).is_some_and(|r| r.eq_ignore_ascii_case(v)))
        };
        // `max_by_key` keeps the last of equals: the one read later wins.
        let entry = self
            .entries
            .iter()
            .filter(|e| applies(e))
            .max_by_key(|e| e.logsource.len())?;
        let mut events = entry.events.clone();
        for key in ["product", "service", "category"] {
            let placeholder = format!("{{{key}}}");
            if events.contains(&placeholder) {
                events = events.replace(&placeholder, value(key)?);
            }
        }
        Some(Mapped {
            events,
            fields: &entry.fields,
        })
    }
}

fn read(text: &str) -> Result<Vec<Entry>, String> {
    let entries: Vec<Entry> = yaml_serde::from_str(text).map_err(|e| e.to_string())?;
    check(&entries)?;
    Ok(entries)
}

fn check(entries: &[Entry]) -> Result<(), String> {
    for entry in entries {
        if entry.logsource.is_empty() {
            return Err("an entry's logsource names no key".to_string());
        }
        // Placeholders stand for plain words; what is left must be a query.
        let sample = entry
            .events
            .replace("{product}", "p")
            .replace("{service}", "s")
            .replace("{category}", "c");
        parse(&sample).map_err(|e| format!("events {:?} does not parse: {e}", entry.events))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn logsource(
        product: Option<&str>,
        service: Option<&str>,
        category: Option<&str>,
    ) -> LogSource {
        LogSource {
            product: product.map(str::to_string),
            service: service.map(str::to_string),
            category: category.map(str::to_string),
            ..LogSource::default()
        }
    }

    #[test]
    fn the_shipped_sources_map_cloudtrail_zeek_and_web_logs() {
        let sources = Logsources::shipped();
        let aws = sources
            .find(&logsource(Some("aws"), Some("cloudtrail"), None))
            .unwrap();
        assert_eq!(aws.events, "eventSource:* eventName:*");
        let dns = sources
            .find(&logsource(Some("Zeek"), Some("dns"), None))
            .unwrap();
        assert_eq!(dns.events, r#"_path:"dns" OR @stream:"dns""#);
        assert!(sources.find(&logsource(Some("zeek"), None, None)).is_none());
        let web = sources
            .find(&logsource(None, None, Some("webserver")))
            .unwrap();
        assert_eq!(web.fields["cs-uri-stem"], "url.path");
        assert!(
            sources
                .find(&logsource(Some("windows"), None, Some("process_creation")))
                .is_none()
        );
    }

    #[test]
    fn later_sources_override_the_shipped_ones_and_bad_ones_are_refused() {
        let mut sources = Logsources::shipped();
        let added: Vec<Entry> = yaml_serde::from_str(
            "- logsource: {product: aws, service: cloudtrail}\n  events: 'source:cloudtrail'\n\
             - logsource: {product: okta}\n  events: 'eventType:*'\n  fields: {user: actor.alternateId}\n",
        )
        .unwrap();
        sources.extend(added).unwrap();
        let aws = sources
            .find(&logsource(Some("aws"), Some("cloudtrail"), None))
            .unwrap();
        assert_eq!(aws.events, "source:cloudtrail");
        let okta = sources
            .find(&logsource(Some("okta"), Some("okta"), None))
            .unwrap();
        assert_eq!(okta.fields["user"], "actor.alternateId");

        let bad: Vec<Entry> =
            yaml_serde::from_str("- logsource: {product: x}\n  events: 'a:(('\n").unwrap();
        let e = sources.extend(bad).unwrap_err();
        assert!(e.contains("does not parse"), "{e}");
    }
}
