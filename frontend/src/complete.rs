//! What the query bar offers to finish the word being typed: a command after `|`, a
//! function inside `eval`, `where` and `search`, an aggregate inside `stats`, `timechart`
//! and `groupbycount`. Each offer is the whole query with the word finished, as a datalist
//! option must be.

use shared_sketch::query::{AGGREGATES, COMMANDS, FUNCTIONS};

/// At most this many offers: a list to glance at, not the manual.
const MOST: usize = 12;

pub fn completions(text: &str) -> Vec<String> {
    let Some(pipe) = text.rfind('|') else {
        return Vec::new();
    };
    let segment = &text[pipe + 1..];
    let trimmed = segment.trim_start();
    let word_start = text.len()
        - text
            .chars()
            .rev()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .map(char::len_utf8)
            .sum::<usize>();
    let word = &text[word_start..];
    let offers: Vec<(&str, &str)> = if !trimmed.contains(char::is_whitespace) {
        // The command's own name.
        COMMANDS.iter().map(|c| (*c, " ")).collect()
    } else {
        if word.is_empty() {
            return Vec::new();
        }
        let command = trimmed
            .split_whitespace()
            .next()
            .unwrap_or_default()
            .to_ascii_lowercase();
        match command.as_str() {
            "eval" | "where" | "search" => FUNCTIONS.iter().map(|(_, n, ..)| (*n, "(")).collect(),
            "stats" | "timechart" => AGGREGATES.iter().map(|a| (*a, "(")).collect(),
            _ => Vec::new(),
        }
    };
    let lower = word.to_ascii_lowercase();
    offers
        .into_iter()
        .filter(|(name, _)| name.starts_with(&lower) && *name != lower)
        .take(MOST)
        .map(|(name, after)| {
            let head = if word.is_empty() && !segment.ends_with(' ') {
                format!("{text} ")
            } else {
                text[..word_start].to_string()
            };
            format!("{head}{name}{after}")
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_functions_and_aggregates_complete() {
        assert_eq!(completions("x | st"), ["x | stats "]);
        assert!(completions("x |").contains(&"x | eval ".to_string()));
        assert_eq!(completions("x | de"), ["x | dedup "]);
        assert_eq!(completions("x | eval n = tonu"), ["x | eval n = tonumber("]);
        assert_eq!(
            completions("x | eval a = 1 | where is"),
            [
                "x | eval a = 1 | where isnull(",
                "x | eval a = 1 | where isnotnull("
            ]
        );
        let stats = completions("x | stats count, st");
        assert_eq!(
            stats,
            ["x | stats count, stdev(", "x | stats count, stdevp("]
        );
        // Nothing to finish: a finished word, a field, no pipe.
        assert!(completions("x | stats").is_empty());
        assert!(completions("x | top 10 sr").is_empty());
        assert!(completions("src_ip").is_empty());
        assert!(completions("x | eval n = ").is_empty());
    }
}
