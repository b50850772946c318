//! Regular expressions in queries (`field~"regex"`), compiled one way by the parser that
//! checks them and the matcher that runs them.

/// The compiled size a `field~"regex"` may take: the `regex` crate matches in linear time,
/// and this bounds its memory too.
pub const MAX_REGEX_BYTES: usize = 1 << 20;

/// Compiles a query's regular expression, within `MAX_REGEX_BYTES`.
pub fn compile_regex(pattern: &str) -> Result<regex::Regex, regex::Error> {
    regex::RegexBuilder::new(pattern)
        .size_limit(MAX_REGEX_BYTES)
        .build()
}
