//! Who may do what (docs/EMBEDDING.md has the model):
//! - **API keys**, per tenant, `admin` or `read`, for people and tools: sent as
//!   `Authorization: Bearer <key>` over HTTP and in the first WebSocket message. Only a
//!   SHA-256 of each key's secret is stored.
//! - **Widget tokens**: JWTs (HS256) minted by an admin key through the API, short-lived,
//!   naming tenant, saved query, widget, embedding origin and the time range they allow.
//!   A widget token runs its saved query and nothing else.
//!
//! A gateway started with `--no-auth` treats every caller as an admin of the default
//! tenant; it refuses to listen anywhere but loopback that way.
//!
//! Wrong keys and tokens are counted per client address (`Throttle`): past a few a minute,
//! that address is refused outright until the minute is out.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use rand::TryRngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use lake::catalog::{Catalog, CatalogError, DEFAULT_TENANT, KeyRecord};
use shared_sketch::time::now_ms;

/// Every API key starts so: a leaked key is recognisable in logs and by secret scanners.
const KEY_PREFIX: &str = "slk_";
/// The catalog's name for the widget-token signing key.
const SIGNING_SECRET: &str = "widget_token_hs256";
const ISSUER: &str = "sketchlake";
const AUDIENCE: &str = "sketchlake-widget";
/// Widget tokens live this long unless asked otherwise, and never longer than the maximum.
pub const DEFAULT_TOKEN_SECONDS: u64 = 15 * 60;
pub const MAX_TOKEN_SECONDS: u64 = 24 * 3600;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Everything a read key may, plus saving queries and minting widget tokens.
    Admin,
    /// Queries and reading saved queries.
    Read,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Read => "read",
        }
    }
}

impl std::str::FromStr for Role {
    type Err = UnknownRole;
    fn from_str(s: &str) -> Result<Role, UnknownRole> {
        match s {
            "admin" => Ok(Role::Admin),
            "read" => Ok(Role::Read),
            other => Err(UnknownRole(other.to_string())),
        }
    }
}

#[derive(Debug, thiserror::Error)]
#[error("unknown role {0:?}: admin or read")]
pub struct UnknownRole(pub String);

/// The caller of a request: a tenant and what it may do there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub tenant: String,
    pub role: Role,
    /// The id of the key it presented (none on an open gateway): limits count per key.
    pub key: Option<String>,
}

impl Principal {
    /// Refuses a read-only caller.
    pub fn admin(&self) -> Result<(), AuthError> {
        match self.role {
            Role::Admin => Ok(()),
            Role::Read => Err(AuthError::Forbidden("this needs an admin key")),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("an API key is required (Authorization: Bearer slk_…)")]
    Missing,
    #[error("the API key is not valid")]
    BadKey,
    #[error("{0}")]
    Forbidden(&'static str),
    #[error("the widget token has expired")]
    Expired,
    #[error("the widget token is not valid: {0}")]
    BadToken(String),
    #[error("cannot sign a widget token: {0}")]
    Signing(String),
    #[error("no randomness from the OS: {0}")]
    Random(#[from] std::io::Error),
    #[error("too many wrong keys or tokens from this address: try again in {retry_after} s")]
    Throttled { retry_after: u64 },
    #[error(transparent)]
    Catalog(#[from] CatalogError),
}

/// What a widget token allows: this and nothing else.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Grant {
    pub tenant: String,
    /// The saved query's id (the token's subject).
    #[serde(rename = "sub")]
    pub saved: String,
    pub widget: String,
    /// The web origin allowed to embed it.
    pub origin: String,
    /// The time range its query may cover, as `earliest=`/`latest=` take it (`-24h`,
    /// `now`, an ISO time); a query asking for more is narrowed to it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub earliest: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latest: Option<String>,
}

/// A widget token's claims: its grant, and the registered claims that bound it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Claims {
    #[serde(flatten)]
    grant: Grant,
    iss: String,
    aud: String,
    iat: u64,
    exp: u64,
    jti: String,
}

/// The gateway's access rules: open (`--no-auth`) or by key, and the token signing key.
pub struct Access {
    open: bool,
    catalog: Catalog,
    encoding: EncodingKey,
    decoding: DecodingKey,
    throttle: Throttle,
}

impl std::fmt::Debug for Access {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Access")
            .field("open", &self.open)
            .finish_non_exhaustive()
    }
}

impl Access {
    /// Loads (or, the first time, creates) the signing key kept in `catalog`, which all
    /// gateways sharing the catalog use.
    pub async fn new(catalog: &Catalog, open: bool) -> Result<Access, AuthError> {
        let secret = catalog.secret(SIGNING_SECRET, random_hex(32)?).await?;
        Ok(Access::with_secret(catalog, open, &secret))
    }

    /// Open access for one command-line process. Its token key lives only in memory: a
    /// lake that is only being read gets nothing written into its catalog.
    pub fn local(catalog: &Catalog) -> Result<Access, AuthError> {
        Ok(Access::with_secret(catalog, true, &random_hex(32)?))
    }

    fn with_secret(catalog: &Catalog, open: bool, secret: &str) -> Access {
        Access {
            open,
            catalog: catalog.clone(),
            encoding: EncodingKey::from_secret(secret.as_bytes()),
            decoding: DecodingKey::from_secret(secret.as_bytes()),
            throttle: Throttle::default(),
        }
    }

    pub fn is_open(&self) -> bool {
        self.open
    }

    /// `principal`, for a client at `from` (when known): refused while that address is
    /// throttled, and a wrong key counted against it.
    pub async fn principal_from(
        &self,
        from: Option<IpAddr>,
        key: Option<&str>,
    ) -> Result<Principal, AuthError> {
        if self.open {
            return self.principal(key).await;
        }
        self.counted(from, self.principal(key).await)
    }

    /// `verify`, for a client at `from`, as `principal_from`.
    pub fn verify_from(&self, from: Option<IpAddr>, token: &str) -> Result<Grant, AuthError> {
        self.counted(from, self.verify(token))
    }

    /// Whether `from` may be answered now: refused while throttled.
    pub fn admit(&self, from: Option<IpAddr>) -> Result<(), AuthError> {
        match from {
            Some(ip) if !self.open => self.throttle.admit(ip, Instant::now()),
            _ => Ok(()),
        }
    }

    fn counted<T>(
        &self,
        from: Option<IpAddr>,
        outcome: Result<T, AuthError>,
    ) -> Result<T, AuthError> {
        let Some(ip) = from else {
            return outcome;
        };
        let now = Instant::now();
        self.throttle.admit(ip, now)?;
        if matches!(
            outcome,
            Err(AuthError::BadKey | AuthError::BadToken(_) | AuthError::Expired)
        ) {
            self.throttle.failed(ip, now);
        }
        outcome
    }

    /// The caller presenting `key` (none: open gateways only).
    pub async fn principal(&self, key: Option<&str>) -> Result<Principal, AuthError> {
        if self.open {
            return Ok(Principal {
                tenant: DEFAULT_TENANT.to_string(),
                role: Role::Admin,
                key: None,
            });
        }
        let key = key.ok_or(AuthError::Missing)?;
        let (id, secret) = split_key(key).ok_or(AuthError::BadKey)?;
        let record = self.catalog.key(id).await?.ok_or(AuthError::BadKey)?;
        if record.revoked_ms.is_some() || !same(&sha256_hex(secret), &record.secret_sha256) {
            return Err(AuthError::BadKey);
        }
        let role = record.role.parse().map_err(|_| AuthError::BadKey)?;
        Ok(Principal {
            tenant: record.tenant,
            role,
            key: Some(id.to_string()),
        })
    }

    /// A signed token for `grant`, valid for `seconds` (at most `MAX_TOKEN_SECONDS`), and
    /// when it expires (epoch seconds).
    pub fn mint(&self, grant: Grant, seconds: u64) -> Result<(String, u64), AuthError> {
        let now = u64::try_from(now_ms() / 1000).unwrap_or(0);
        let claims = Claims {
            grant,
            iss: ISSUER.to_string(),
            aud: AUDIENCE.to_string(),
            iat: now,
            exp: now + seconds.clamp(1, MAX_TOKEN_SECONDS),
            jti: random_hex(16)?,
        };
        let token = jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .map_err(|e| AuthError::Signing(e.to_string()))?;
        Ok((token, claims.exp))
    }

    /// The grant of a token this gateway (or one sharing its catalog) signed, unexpired.
    /// Only HS256 is accepted, whatever the token's header says.
    pub fn verify(&self, token: &str) -> Result<Grant, AuthError> {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = 0;
        validation.set_issuer(&[ISSUER]);
        validation.set_audience(&[AUDIENCE]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        jsonwebtoken::decode::<Claims>(token, &self.decoding, &validation)
            .map(|data| data.claims.grant)
            .map_err(|e| match e.kind() {
                ErrorKind::ExpiredSignature => AuthError::Expired,
                ErrorKind::InvalidSignature => AuthError::BadToken("bad signature".into()),
                _ => AuthError::BadToken(e.to_string()),
            })
    }
}

/// Wrong keys per client address: after `MAX_WRONG` in a `WINDOW`, every request from
/// that address is refused until the window ends, before its key is looked at. Keys are
/// 256-bit secrets, beyond guessing; what this stops is a client hammering the catalog
/// and filling the logs. IPv6 addresses count by their /64, which one host usually holds
/// whole. At most `MAX_TRACKED` addresses are remembered: past that, expired ones go,
/// and new ones are not counted until there is room (bounded memory under a flood).
#[derive(Debug, Default)]
pub struct Throttle {
    windows: Mutex<HashMap<IpAddr, Window>>,
}

#[derive(Debug, Clone, Copy)]
struct Window {
    start: Instant,
    wrong: u32,
}

const MAX_WRONG: u32 = 10;
const WINDOW: Duration = Duration::from_secs(60);
const MAX_TRACKED: usize = 100_000;

impl Throttle {
    fn admit(&self, ip: IpAddr, now: Instant) -> Result<(), AuthError> {
        let windows = self.windows.lock().unwrap_or_else(PoisonError::into_inner);
        match windows.get(&prefix(ip)) {
            Some(w) if w.wrong >= MAX_WRONG && now < w.start + WINDOW => {
                let left = (w.start + WINDOW).saturating_duration_since(now);
                Err(AuthError::Throttled {
                    retry_after: left.as_secs().max(1),
                })
            }
            _ => Ok(()),
        }
    }

    fn failed(&self, ip: IpAddr, now: Instant) {
        let mut windows = self.windows.lock().unwrap_or_else(PoisonError::into_inner);
        let ip = prefix(ip);
        if !windows.contains_key(&ip) && windows.len() >= MAX_TRACKED {
            windows.retain(|_, w| now < w.start + WINDOW);
            if windows.len() >= MAX_TRACKED {
                return;
            }
        }
        let window = windows.entry(ip).or_insert(Window {
            start: now,
            wrong: 0,
        });
        if now >= window.start + WINDOW {
            *window = Window {
                start: now,
                wrong: 0,
            };
        }
        window.wrong += 1;
        if window.wrong == MAX_WRONG {
            tracing::warn!(%ip, "too many wrong keys: refusing this address for a minute");
        }
    }
}

/// The address a client is counted by: itself, or an IPv6 address's /64.
fn prefix(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => {
            let bits = u128::from(v6) & !((1u128 << 64) - 1);
            IpAddr::V6(bits.into())
        }
    }
}

/// A new key for `tenant`: the key to hand out (shown once) and the record to store.
pub fn new_key(tenant: &str, role: Role, label: &str) -> Result<(String, KeyRecord), AuthError> {
    let id = random_hex(8)?;
    let secret = random_hex(32)?;
    let record = KeyRecord {
        id: id.clone(),
        tenant: tenant.to_string(),
        role: role.as_str().to_string(),
        secret_sha256: sha256_hex(&secret),
        label: label.to_string(),
        created_ms: now_ms(),
        revoked_ms: None,
    };
    Ok((format!("{KEY_PREFIX}{id}_{secret}"), record))
}

/// `slk_<id>_<secret>` → (id, secret).
fn split_key(key: &str) -> Option<(&str, &str)> {
    let rest = key.trim().strip_prefix(KEY_PREFIX)?;
    let (id, secret) = rest.split_once('_')?;
    (!id.is_empty() && !secret.is_empty()).then_some((id, secret))
}

fn sha256_hex(text: &str) -> String {
    hex(&Sha256::digest(text.as_bytes()))
}

/// Equal strings, compared in time that does not depend on where they differ.
fn same(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).fold(0, |d, (x, y)| d | (x ^ y)) == 0
}

/// `bytes` random bytes from the operating system, as hex.
pub fn random_hex(bytes: usize) -> std::io::Result<String> {
    let mut buffer = vec![0u8; bytes];
    rand::rngs::OsRng
        .try_fill_bytes(&mut buffer)
        .map_err(std::io::Error::other)?;
    Ok(hex(&buffer))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_throttle_counts_an_address_for_one_window() {
        let throttle = Throttle::default();
        let start = Instant::now();
        let host: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let neighbour: IpAddr = "2001:db8:1:2:bbbb::9".parse().unwrap();
        let elsewhere: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        for _ in 0..MAX_WRONG {
            assert!(throttle.admit(host, start).is_ok());
            throttle.failed(host, start);
        }
        // The /64 is one client; the next /64 is another.
        assert!(matches!(
            throttle.admit(neighbour, start + Duration::from_secs(59)),
            Err(AuthError::Throttled { retry_after: 1 })
        ));
        assert!(throttle.admit(elsewhere, start).is_ok());
        // A new window starts afresh.
        let later = start + WINDOW;
        assert!(throttle.admit(host, later).is_ok());
        throttle.failed(host, later);
        assert!(throttle.admit(host, later).is_ok());
    }

    #[test]
    fn keys_split_into_id_and_secret() {
        assert_eq!(split_key("slk_ab12_ffee"), Some(("ab12", "ffee")));
        assert_eq!(split_key(" slk_ab12_ffee\n"), Some(("ab12", "ffee")));
        for bad in ["", "slk_", "slk__x", "slk_x_", "abc_ab12_ffee", "slk_ab12"] {
            assert_eq!(split_key(bad), None, "{bad}");
        }
    }

    #[test]
    fn comparison_is_exact() {
        assert!(same("abc", "abc"));
        assert!(!same("abc", "abd"));
        assert!(!same("abc", "ab"));
    }
}
