//! How many queries one key, and one tenant, may run at once: past either, a query is
//! refused as busy (HTTP 429 with `Retry-After`), so one client cannot hold every scan
//! slot of a gateway others depend on.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

use shared_sketch::{ErrorKind, QueryError};

/// A person's dashboard runs a handful of queries at once; a script more rarely.
pub const DEFAULT_PER_KEY: usize = 8;
/// Every key and widget of one tenant, together.
pub const DEFAULT_PER_TENANT: usize = 32;

/// Queries running, per key and per tenant.
#[derive(Debug)]
pub struct Admission {
    per_key: usize,
    per_tenant: usize,
    running: Mutex<HashMap<Holder, usize>>,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Holder {
    Tenant(String),
    Key(String),
}

/// A running query's place: given back when dropped, however the query ends.
#[derive(Debug)]
pub struct Admitted<'a> {
    admission: &'a Admission,
    holders: Vec<Holder>,
}

impl Default for Admission {
    fn default() -> Admission {
        Admission::new(DEFAULT_PER_KEY, DEFAULT_PER_TENANT)
    }
}

impl Admission {
    pub fn new(per_key: usize, per_tenant: usize) -> Admission {
        Admission {
            per_key,
            per_tenant,
            running: Mutex::new(HashMap::new()),
        }
    }

    /// A place for a query of `tenant` asked with the key of id `key` (none: an open
    /// gateway or a widget token, counted by tenant alone), or why not.
    pub fn admit(&self, tenant: &str, key: Option<&str>) -> Result<Admitted<'_>, QueryError> {
        let mut holders = vec![(Holder::Tenant(tenant.to_string()), self.per_tenant)];
        if let Some(key) = key {
            holders.push((Holder::Key(key.to_string()), self.per_key));
        }
        let mut running = self.running.lock().unwrap_or_else(PoisonError::into_inner);
        for (holder, limit) in &holders {
            if running.get(holder).copied().unwrap_or(0) >= *limit {
                let whose = match holder {
                    Holder::Tenant(_) => "this tenant",
                    Holder::Key(_) => "this key",
                };
                return Err(QueryError::new(
                    ErrorKind::Busy,
                    format!(
                        "{whose} already runs {limit} queries at once: try again when one ends"
                    ),
                ));
            }
        }
        for (holder, _) in &holders {
            *running.entry(holder.clone()).or_insert(0) += 1;
        }
        Ok(Admitted {
            admission: self,
            holders: holders.into_iter().map(|(holder, _)| holder).collect(),
        })
    }
}

impl Drop for Admitted<'_> {
    fn drop(&mut self) {
        let mut running = self
            .admission
            .running
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        for holder in &self.holders {
            if let Some(n) = running.get_mut(holder) {
                *n -= 1;
                if *n == 0 {
                    running.remove(holder);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn a_key_and_a_tenant_run_at_most_their_limits_at_once() {
        let admission = Admission::new(2, 3);
        let first = admission.admit("acme", Some("k1")).unwrap();
        let _second = admission.admit("acme", Some("k1")).unwrap();
        let busy = admission.admit("acme", Some("k1")).unwrap_err();
        assert_eq!(busy.kind, ErrorKind::Busy);
        assert!(
            busy.message.contains("this key already runs 2"),
            "{}",
            busy.message
        );
        // Another key of the tenant fits once, then the tenant is full.
        let _third = admission.admit("acme", Some("k2")).unwrap();
        let busy = admission.admit("acme", Some("k3")).unwrap_err();
        assert!(
            busy.message.contains("this tenant already runs 3"),
            "{}",
            busy.message
        );
        // Another tenant is not held up; a query that ends gives its place back.
        assert!(admission.admit("globex", None).is_ok());
        drop(first);
        assert!(admission.admit("acme", Some("k1")).is_ok());
        assert!(admission.running.lock().unwrap().len() <= 4);
    }
}
