//! Detection rules: queries that run on the data as it arrives. `rule` reads one rule
//! file, `folder` a rules folder, `check` runs a rule's own tests.

mod check;
mod folder;
mod rule;

pub use check::{Checked, check, firing};
pub use folder::{Rules, load};
pub use rule::{Dedup, Expect, Rule, RuleError, RuleState, RuleTest, Severity, parse_rule};
