//! A sketchlake rule file (YAML) on any text: a rule or a clear error, never a crash.
#![no_main]

use std::path::Path;

use gateway::detect::parse_rule;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(rule) = parse_rule(Path::new("rules/fuzzed.yml"), text) {
        let _ = rule.watches();
    }
});
