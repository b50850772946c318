//! The API key the page runs with, when the gateway requires one: typed into the sign-in
//! form, kept in this tab's session storage (gone when the tab closes), and sent in each
//! query's first WebSocket message and as `Authorization` on the page's API calls.

const STORAGE_KEY: &str = "sketchlake-key";

fn storage() -> Option<web_sys::Storage> {
    web_sys::window()?.session_storage().ok().flatten()
}

pub fn stored() -> Option<String> {
    storage()?
        .get_item(STORAGE_KEY)
        .ok()
        .flatten()
        .filter(|k| !k.is_empty())
}

pub fn store(key: &str) {
    if let Some(storage) = storage() {
        let _ = storage.set_item(STORAGE_KEY, key.trim());
    }
}

pub fn forget() {
    if let Some(storage) = storage() {
        let _ = storage.remove_item(STORAGE_KEY);
    }
}
