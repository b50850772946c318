//! What a query runs against, built once by `Engine::new` and its `with_…` settings.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use lake::{DEFAULT_TENANT, Lake};
use workers::ScanOptions;

use super::admission::Admission;
use super::executor::Executor;
use super::metrics::Metrics;

/// `Engine::timeout` unless configured.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(300);

/// The lakes queries read, the executor their scans run on, how files are read, and how
/// long a query may run.
pub struct Engine {
    /// The default tenant's lake (`serve --data`).
    lake: Arc<Lake>,
    /// Every other tenant's lake, by tenant.
    tenants: BTreeMap<String, Arc<Lake>>,
    executor: Arc<dyn Executor>,
    scan: Arc<ScanOptions>,
    /// A query still running after this long is stopped; its answer covers what was
    /// scanned, and says so.
    timeout: Duration,
    metrics: Arc<Metrics>,
    admission: Admission,
}

impl Engine {
    /// Queries of the default tenant read `lake`, scanned on `executor`; no other tenants,
    /// every file's format recognised from its first bytes, `DEFAULT_TIMEOUT`.
    pub fn new(lake: Lake, executor: Arc<dyn Executor>) -> Engine {
        Engine {
            lake: Arc::new(lake),
            tenants: BTreeMap::new(),
            executor,
            scan: Arc::default(),
            timeout: DEFAULT_TIMEOUT,
            metrics: Arc::default(),
            admission: Admission::default(),
        }
    }

    /// Other tenants' lakes, by tenant.
    pub fn with_tenants(mut self, tenants: BTreeMap<String, Arc<Lake>>) -> Engine {
        self.tenants = tenants;
        self
    }

    /// How files are read (`--input-format`, `--time-field`).
    pub fn with_scan(mut self, scan: ScanOptions) -> Engine {
        self.scan = Arc::new(scan);
        self
    }

    pub fn with_timeout(mut self, timeout: Duration) -> Engine {
        self.timeout = timeout;
        self
    }

    /// The default tenant's lake, whose catalog also keeps tenants, keys and saved queries.
    pub fn lake(&self) -> &Arc<Lake> {
        &self.lake
    }

    /// `tenant`'s lake: a query reads only the files its tenant's catalog lists.
    pub fn lake_for(&self, tenant: &str) -> Option<&Arc<Lake>> {
        if tenant == DEFAULT_TENANT {
            Some(&self.lake)
        } else {
            self.tenants.get(tenant)
        }
    }

    pub fn executor(&self) -> &Arc<dyn Executor> {
        &self.executor
    }

    pub fn scan(&self) -> &Arc<ScanOptions> {
        &self.scan
    }

    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// At most `per_key` queries at once per key, and `per_tenant` per tenant.
    pub fn with_limits(mut self, per_key: usize, per_tenant: usize) -> Engine {
        self.admission = Admission::new(per_key, per_tenant);
        self
    }

    pub fn admission(&self) -> &Admission {
        &self.admission
    }

    /// The gateway's counters (`GET /metrics`).
    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.metrics
    }
}
