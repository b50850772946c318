//! A Sigma file (YAML, rules and correlations) on any text: converted or refused with
//! why, never a crash; the query of a rule it converts has a canonical form that parses
//! to itself.
#![no_main]

use std::path::PathBuf;
use std::sync::OnceLock;

use gateway::detect::sigma::{Converted, Settings, read_files};
use libfuzzer_sys::fuzz_target;

static SETTINGS: OnceLock<Settings> = OnceLock::new();

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let settings = SETTINGS.get_or_init(Settings::default);
    let files = [(PathBuf::from("sigma/fuzzed.yml"), text.to_string())];
    for (_, read) in read_files(&files, settings) {
        for converted in read.into_iter().flatten() {
            if let Converted::Rule(rule) = converted {
                let canonical = rule.query.to_string();
                let again = shared_sketch::parse(&canonical).map(|q| q.to_string());
                assert!(
                    again.as_ref() == Ok(&canonical),
                    "a converted rule's query {canonical:?} reads back as {again:?}"
                );
                let _ = rule.watches();
            }
        }
    }
});
