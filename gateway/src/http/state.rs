//! What every handler is given: the engine queries run on, the access rules, and the
//! detection rules.

use std::collections::BTreeMap;
use std::sync::Arc;

use lake::Catalog;

use crate::access::Access;
use crate::detect::RuleBook;
use crate::engine::Engine;

#[derive(Clone)]
pub struct AppState {
    pub engine: Arc<Engine>,
    pub access: Arc<Access>,
    /// Detection rules by tenant (`serve --rules`, `--tenant-rules`).
    pub rules: BTreeMap<String, Arc<RuleBook>>,
}

impl AppState {
    pub fn new(engine: Arc<Engine>, access: Access) -> AppState {
        AppState {
            engine,
            access: Arc::new(access),
            rules: BTreeMap::new(),
        }
    }

    pub fn with_rules(mut self, tenant: &str, book: Arc<RuleBook>) -> AppState {
        self.rules.insert(tenant.to_string(), book);
        self
    }

    /// The default tenant's catalog, which every tenant shares for what is not files:
    /// tenants, keys, saved queries.
    pub fn catalog(&self) -> &Catalog {
        &self.engine.lake().catalog
    }
}
