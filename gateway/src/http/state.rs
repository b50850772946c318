//! What every handler is given: the engine queries run on, the access rules, and the
//! detection rules.

use std::sync::Arc;

use lake::Catalog;

use crate::access::Access;
use crate::detect::RuleBook;
use crate::engine::Engine;

#[derive(Clone)]
pub struct AppState {
    pub engine: Arc<Engine>,
    pub access: Arc<Access>,
    /// The default tenant's detection rules (`serve --rules`), if it has any.
    pub rules: Option<Arc<RuleBook>>,
}

impl AppState {
    pub fn new(engine: Arc<Engine>, access: Access) -> AppState {
        AppState {
            engine,
            access: Arc::new(access),
            rules: None,
        }
    }

    pub fn with_rules(self, book: Arc<RuleBook>) -> AppState {
        AppState {
            rules: Some(book),
            ..self
        }
    }

    /// The default tenant's catalog, which every tenant shares for what is not files:
    /// tenants, keys, saved queries.
    pub fn catalog(&self) -> &Catalog {
        &self.engine.lake().catalog
    }
}
