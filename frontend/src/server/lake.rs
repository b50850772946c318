//! What the page asks the gateway about the lake before the first query.

use shared_sketch::lake::{DataKind, LakeSummary};

/// The kind of data the lake holds. Any failure reads as `Events`, the generic dashboard:
/// the page still works.
pub async fn data_kind() -> DataKind {
    super::api::get_json::<LakeSummary>("/api/v1/lake")
        .await
        .map_or(DataKind::Events, |s| s.kind)
}
