mod error_banner;
mod groups;
mod progress;
mod query_bar;
mod rare_list;
mod results;
mod series;
mod stat_tile;
mod top_list;

pub use error_banner::ErrorBanner;
pub use progress::ProgressBar;
pub use query_bar::QueryBar;
pub use results::Results;
