//! The pieces pages are built from: the query bar, the timeline, lists, tiles, tables.

mod error_banner;
mod groups;
mod hits;
mod progress;
mod query_bar;
mod rare_list;
mod results;
mod series;
mod sign_in;
mod stat_tile;
mod time_picker;
mod timeline;
mod top_list;
mod value_link;
mod values_list;

pub use error_banner::ErrorBanner;
pub use hits::Hits;
pub use progress::ProgressBar;
pub use query_bar::QueryBar;
pub use results::{FileProblems, Limits, Matched, Results, agg_widget};
pub use sign_in::SignIn;
pub use time_picker::TimePicker;
pub use timeline::Timeline;
