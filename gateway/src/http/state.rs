//! What every handler is given: the engine queries run on, the access rules, and the
//! catalog that keeps tenants, keys and saved queries.

use std::sync::Arc;

use lake::Catalog;

use crate::access::Access;
use crate::engine::Engine;

#[derive(Clone)]
pub struct AppState {
    pub engine: Arc<Engine>,
    pub access: Arc<Access>,
    /// The default tenant's catalog, shared by every tenant for what is not files.
    pub catalog: Catalog,
}

impl AppState {
    pub fn new(engine: Arc<Engine>, access: Access) -> AppState {
        AppState {
            catalog: engine.lake().catalog.clone(),
            engine,
            access: Arc::new(access),
        }
    }
}
