//! What every handler is given: the engine queries run on and the access rules.

use std::sync::Arc;

use lake::Catalog;

use crate::access::Access;
use crate::engine::Engine;

#[derive(Clone)]
pub struct AppState {
    pub engine: Arc<Engine>,
    pub access: Arc<Access>,
}

impl AppState {
    pub fn new(engine: Arc<Engine>, access: Access) -> AppState {
        AppState {
            engine,
            access: Arc::new(access),
        }
    }

    /// The default tenant's catalog, which every tenant shares for what is not files:
    /// tenants, keys, saved queries.
    pub fn catalog(&self) -> &Catalog {
        &self.engine.lake().catalog
    }
}
