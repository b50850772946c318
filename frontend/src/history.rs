//! Queries run before, newest first, kept in the browser (localStorage) for the query
//! bar's suggestions.

const KEY: &str = "sketchlake.history";
const KEEP: usize = 30;

fn storage() -> Option<web_sys::Storage> {
    web_sys::window()?.local_storage().ok()?
}

/// The remembered queries, newest first.
pub fn recent() -> Vec<String> {
    storage()
        .and_then(|s| s.get_item(KEY).ok().flatten())
        .map(|text| text.lines().map(str::to_string).collect())
        .unwrap_or_default()
}

/// Puts `q` first (once); blank queries and line breaks are not kept.
pub fn remember(q: &str) {
    let q = q.trim();
    if q.is_empty() || q.contains('\n') {
        return;
    }
    let mut list = recent();
    list.retain(|old| old != q);
    list.insert(0, q.to_string());
    list.truncate(KEEP);
    if let Some(storage) = storage() {
        let _ = storage.set_item(KEY, &list.join("\n"));
    }
}
