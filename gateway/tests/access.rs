//! Access over real sockets: API keys per tenant and role, widget tokens (what they allow
//! and every way they are refused), tenants kept to their own files, the WebSocket Origin
//! check, and the embedding headers (CSP frame-ancestors, the loader's CORS).
#![allow(clippy::unwrap_used)] // test helpers: a panic is the failure report

mod common;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use futures_util::SinkExt;
use gateway::access::{Access, Role, new_key};
use gateway::detect::RuleBook;
use gateway::engine::Engine;
use gateway::engine::executor::LocalPool;
use gateway::http::AppState;
use lake::Lake;
use lake::alerts::{Alert, AlertState};
use lake::catalog::{Catalog, DEFAULT_TENANT, Tenant};
use lake::tenants::{open_tenant_lakes, tenant_lake};
use serde_json::{Value, json};
use shared_sketch::{ClientMessage, Fold, Frame, encode};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use workers::ScanOptions;

const PORTAL: &str = "http://portal.example:8081";

/// A gateway with keys required: the default tenant's lake plus tenants `acme` and
/// `globex`, each over its own demo data (different sizes, so counts tell them apart).
struct Rig {
    addr: SocketAddr,
    keys: BTreeMap<&'static str, String>,
    /// Events in each tenant's data.
    events: BTreeMap<&'static str, u64>,
    catalog: Catalog,
    _dirs: Vec<tempfile::TempDir>,
}

async fn rig() -> Rig {
    let mut dirs = Vec::new();
    let mut events = BTreeMap::new();
    for (tenant, records) in [(DEFAULT_TENANT, 300), ("acme", 500), ("globex", 700)] {
        let (dir, _) = common::demo_data(records);
        events.insert(tenant, common::records(dir.path()).len() as u64);
        dirs.push(dir);
    }
    let lake = Lake::open(dirs[0].path(), None).await.unwrap();
    let options = ScanOptions::default();
    lake.sync(dirs[0].path(), &options).await.unwrap();
    let catalog = lake.catalog.clone();
    for (name, dir, origins) in [
        ("acme", &dirs[1], vec![PORTAL.to_string()]),
        ("globex", &dirs[2], vec![]),
    ] {
        catalog
            .set_tenant(&Tenant {
                name: name.into(),
                data: Some(dir.path().display().to_string()),
                origins,
                created_ms: 0,
            })
            .await
            .unwrap();
    }
    let mut keys = BTreeMap::new();
    for (name, tenant, role) in [
        ("operator", DEFAULT_TENANT, Role::Admin),
        ("acme-admin", "acme", Role::Admin),
        ("acme-read", "acme", Role::Read),
        ("globex-admin", "globex", Role::Admin),
        ("revoked", "acme", Role::Admin),
    ] {
        let (key, record) = new_key(tenant, role, name).unwrap();
        catalog.add_key(&record).await.unwrap();
        if name == "revoked" {
            assert!(catalog.revoke_key(&record.id, 1).await.unwrap());
        }
        keys.insert(name, key);
    }
    // globex's data is ingested into segments (in its own folder), acme's read in place.
    let globex = tenant_lake(&lake, "globex").await.unwrap();
    let globex_data = dirs[2].path().display().to_string();
    let report = lake::ingest::ingest(&globex, &globex_data, &options, &Default::default())
        .await
        .unwrap();
    assert!(report.segments > 0 && report.rows == events["globex"]);
    let tenants = open_tenant_lakes(&lake, &options).await.unwrap();
    let access = Access::new(&catalog, false).await.unwrap();
    let engine = Engine::new(lake, Arc::new(LocalPool::new(2))).with_tenants(tenants);
    // acme has rules (`serve --tenant-rules acme=…`); globex has none.
    let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("../rules/examples");
    let state = AppState::new(Arc::new(engine), access)
        .with_rules("acme", Arc::new(RuleBook::open(&examples).unwrap()));
    let addr = common::serve_state(state, None).await;
    Rig {
        addr,
        keys,
        events,
        catalog,
        _dirs: dirs,
    }
}

impl Rig {
    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    async fn post(&self, key: Option<&str>, path: &str, body: Value) -> (u16, Value) {
        let mut request = reqwest::Client::new().post(self.url(path)).json(&body);
        if let Some(key) = key {
            request = request.bearer_auth(&self.keys[key]);
        }
        let response = request.send().await.unwrap();
        (response.status().as_u16(), response.json().await.unwrap())
    }

    async fn get(&self, key: &str, path: &str) -> (u16, Value) {
        let response = reqwest::Client::new()
            .get(self.url(path))
            .bearer_auth(&self.keys[key])
            .send()
            .await
            .unwrap();
        (response.status().as_u16(), response.json().await.unwrap())
    }

    /// Saves `q` for `key`'s tenant; its id.
    async fn save(&self, key: &str, name: &str, q: &str) -> String {
        let (status, body) = self
            .post(Some(key), "/api/v1/saved", json!({ "name": name, "q": q }))
            .await;
        assert_eq!(status, 201, "{body}");
        body["id"].as_str().unwrap().to_string()
    }

    async fn token(&self, key: &str, body: Value) -> (u16, Value) {
        self.post(Some(key), "/api/v1/widget-tokens", body).await
    }

    /// Opens the WebSocket with `origin` (none: not a browser), sends `first`; the frames
    /// until the server closes, or the refused upgrade's status.
    async fn socket(&self, origin: Option<&str>, first: &ClientMessage) -> Result<Vec<Frame>, u16> {
        let mut request = format!("ws://{}/ws", self.addr)
            .into_client_request()
            .unwrap();
        if let Some(origin) = origin {
            request
                .headers_mut()
                .insert("Origin", origin.parse().unwrap());
        }
        let (mut socket, _) = match tokio_tungstenite::connect_async(request).await {
            Ok(connected) => connected,
            Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
                return Err(response.status().as_u16());
            }
            Err(e) => panic!("{e}"),
        };
        socket
            .send(Message::Binary(encode(first).unwrap().into()))
            .await
            .unwrap();
        Ok(common::frames_until_close(&mut socket).await)
    }

    async fn widget(&self, token: &str, saved: &str, widget: &str, origin: &str) -> Vec<Frame> {
        let message = ClientMessage::Widget {
            token: token.into(),
            saved: saved.into(),
            widget: widget.into(),
            origin: origin.into(),
        };
        self.socket(Some(&format!("http://{}", self.addr)), &message)
            .await
            .unwrap()
    }
}

/// Merges a run's frames: its query text and the answer's matched count.
fn answer(frames: &[Frame]) -> (String, u64) {
    let Some(Frame::Plan(plan)) = frames.first() else {
        panic!("expected a plan first, got {frames:?}");
    };
    let mut fold = Fold::default();
    for frame in frames {
        if let Frame::Error(e) = frame {
            panic!("{}", e.message);
        }
        fold.apply(frame.clone());
    }
    assert!(matches!(frames.last(), Some(Frame::Done(_))));
    let answer = fold.answer().expect("a whole answer");
    (plan.query.to_string(), answer.result.matched)
}

#[tokio::test]
async fn keys_name_the_tenant_and_role_and_tenants_see_only_their_files() {
    let rig = rig().await;
    let count = json!({ "q": "| stats count" });

    let (status, body) = rig.post(None, "/api/v1/query", count.clone()).await;
    assert_eq!(status, 401, "{body}");
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains("API key is required")
    );
    let (status, _) = rig
        .post(Some("revoked"), "/api/v1/query", count.clone())
        .await;
    assert_eq!(status, 401);
    let forged = reqwest::Client::new()
        .post(rig.url("/api/v1/query"))
        .bearer_auth(format!("{}0", rig.keys["acme-read"]))
        .json(&count)
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status().as_u16(), 401);

    // Each tenant's queries count exactly its own events, whoever else is in the catalog.
    for (key, tenant) in [("acme-read", "acme"), ("globex-admin", "globex")] {
        let (status, body) = rig.post(Some(key), "/api/v1/query", count.clone()).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["matched"], rig.events[tenant], "{key}");
        assert_eq!(body["stats"]["records"], rig.events[tenant], "{key}");
    }
    assert_ne!(rig.events["acme"], rig.events["globex"]);
    // The catalog holds all three tenants' files, each under its own name: globex's are
    // segments, the others' raw files.
    for tenant in [DEFAULT_TENANT, "acme", "globex"] {
        let files = rig
            .catalog
            .for_tenant(tenant)
            .list(lake::catalog::State::Active)
            .await
            .unwrap();
        assert!(!files.is_empty(), "{tenant}");
        let segments = files.iter().all(|f| f.kind == lake::catalog::Kind::Segment);
        assert_eq!(segments, tenant == "globex", "{tenant}");
    }

    // Read keys read; only admin keys save.
    let (status, body) = rig
        .post(
            Some("acme-read"),
            "/api/v1/saved",
            json!({ "name": "x", "q": "| stats count" }),
        )
        .await;
    assert_eq!(status, 403, "{body}");
    let id = rig.save("acme-admin", "talkers", "| top 5 srcaddr").await;
    let (status, body) = rig.get("acme-read", &format!("/api/v1/saved/{id}")).await;
    assert_eq!((status, body["name"].as_str()), (200, Some("talkers")));
    let (status, _) = rig
        .get("globex-admin", &format!("/api/v1/saved/{id}"))
        .await;
    assert_eq!(status, 404, "another tenant's saved query is not found");

    // Over the WebSocket, the key travels in the first message.
    let ask = |key: Option<&str>| ClientMessage::Query {
        q: "| stats count".into(),
        hits: 0,
        key: key.map(|k| rig.keys[k].clone()),
    };
    let frames = rig.socket(None, &ask(Some("acme-read"))).await.unwrap();
    assert_eq!(answer(&frames).1, rig.events["acme"]);
    let frames = rig.socket(None, &ask(None)).await.unwrap();
    assert!(common::only_error(&frames).contains("API key is required"));
}

#[tokio::test]
async fn a_widget_token_runs_its_saved_query_and_nothing_else() {
    let rig = rig().await;
    let talkers = rig.save("acme-admin", "talkers", "| top 5 srcaddr").await;
    let rejects = rig
        .save("acme-admin", "rejects", "action:REJECT | top 5 srcaddr")
        .await;
    let globex = rig.save("globex-admin", "theirs", "| stats count").await;
    let request =
        |saved: &str| json!({ "saved": saved, "widget": "top-talkers", "origin": PORTAL });

    // Minting: admin keys only, for the tenant's own saved queries and allowed origins.
    let (status, _) = rig.token("acme-read", request(&talkers)).await;
    assert_eq!(status, 403);
    let (status, _) = rig.token("acme-admin", request(&globex)).await;
    assert_eq!(status, 404, "another tenant's saved query");
    let (status, body) = rig
        .token(
            "acme-admin",
            json!({ "saved": talkers, "widget": "top-talkers", "origin": "https://evil.example" }),
        )
        .await;
    assert_eq!(status, 400, "{body}");
    let (status, _) = rig
        .token(
            "acme-admin",
            json!({ "saved": talkers, "widget": "shell", "origin": PORTAL }),
        )
        .await;
    assert_eq!(status, 400);
    let (status, body) = rig.token("acme-admin", request(&talkers)).await;
    assert_eq!(status, 201, "{body}");
    let token = body["token"].as_str().unwrap().to_string();
    let now = shared_sketch::time::now_ms() as u64 / 1000;
    let expires = body["expires_at"].as_u64().unwrap();
    assert!(
        (now + 890..=now + 901).contains(&expires),
        "15 minutes by default"
    );

    // It runs its saved query over its tenant's data.
    let (q, matched) = answer(&rig.widget(&token, &talkers, "top-talkers", PORTAL).await);
    assert_eq!(
        (q.as_str(), matched),
        ("| top 5 srcaddr", rig.events["acme"])
    );

    // And nothing else.
    let frames = rig.widget(&token, &rejects, "top-talkers", PORTAL).await;
    assert!(common::only_error(&frames).contains("another saved query"));
    let frames = rig.widget(&token, &globex, "top-talkers", PORTAL).await;
    assert!(common::only_error(&frames).contains("another saved query"));
    let frames = rig.widget(&token, &talkers, "hits", PORTAL).await;
    assert!(common::only_error(&frames).contains("top-talkers widget"));
    let frames = rig
        .widget(&token, &talkers, "top-talkers", "https://evil.example")
        .await;
    assert!(common::only_error(&frames).contains("for pages of"));

    // A token whose payload names another tenant or saved query fails its signature.
    let parts: Vec<&str> = token.split('.').collect();
    let claims = base64_json(parts[1]);
    for (field, value) in [("tenant", "globex"), ("sub", globex.as_str())] {
        let mut forged = claims.clone();
        forged[field] = json!(value);
        let forged = format!("{}.{}.{}", parts[0], base64_url(&forged), parts[2]);
        let saved = if field == "sub" { &globex } else { &talkers };
        let frames = rig.widget(&forged, saved, "top-talkers", PORTAL).await;
        assert!(common::only_error(&frames).contains("not valid"), "{field}");
    }
    // As does one signed with another key, or with no algorithm at all.
    let none = format!(
        "{}.{}.",
        base64_url(&json!({"alg": "none", "typ": "JWT"})),
        parts[1]
    );
    let frames = rig.widget(&none, &talkers, "top-talkers", PORTAL).await;
    assert!(common::only_error(&frames).contains("not valid"));

    // An expired token.
    let (_, body) = rig
        .token(
            "acme-admin",
            json!({ "saved": talkers, "widget": "top-talkers", "origin": PORTAL, "seconds": 1 }),
        )
        .await;
    let short = body["token"].as_str().unwrap().to_string();
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    let frames = rig.widget(&short, &talkers, "top-talkers", PORTAL).await;
    assert!(common::only_error(&frames).contains("expired"));

    // A widget token is not an API key.
    let response = reqwest::Client::new()
        .post(rig.url("/api/v1/query"))
        .bearer_auth(&token)
        .json(&json!({ "q": "| stats count" }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 401);
}

#[tokio::test]
async fn a_token_narrows_the_time_range_its_query_covers() {
    let rig = rig().await;
    let id = rig.save("acme-admin", "all", "| stats count").await;
    // The demo's day ends at a fixed time; a range ending before its start holds nothing.
    let (status, body) = rig
        .token(
            "acme-admin",
            json!({ "saved": id, "widget": "distinct", "origin": PORTAL, "latest": "2000-01-01T00:00:00Z" }),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let frames = rig
        .widget(body["token"].as_str().unwrap(), &id, "distinct", PORTAL)
        .await;
    let (q, matched) = answer(&frames);
    assert_eq!(matched, 0);
    assert!(q.contains("latest=2000-01-01"), "{q}");
    let (status, _) = rig
        .token(
            "acme-admin",
            json!({ "saved": id, "widget": "distinct", "origin": PORTAL, "earliest": "yesterday" }),
        )
        .await;
    assert_eq!(status, 400);
}

#[tokio::test]
async fn cross_site_websockets_are_refused() {
    let rig = rig().await;
    let ask = ClientMessage::Query {
        q: "| stats count".into(),
        hits: 0,
        key: Some(rig.keys["acme-read"].clone()),
    };
    for origin in ["https://evil.example", "null", PORTAL] {
        assert_eq!(
            rig.socket(Some(origin), &ask).await.err(),
            Some(403),
            "{origin}"
        );
    }
    let own = format!("http://{}", rig.addr);
    assert!(rig.socket(Some(&own), &ask).await.is_ok());
}

#[tokio::test]
async fn embedding_headers_follow_the_tenant_allow_list() {
    let rig = rig().await;
    let client = reqwest::Client::new();
    let csp = |response: &reqwest::Response| {
        response
            .headers()
            .get("content-security-policy")
            .map(|v| v.to_str().unwrap().to_string())
    };
    // No frontend in this rig: the embed page says so, and is still not frameable.
    let page = client
        .get(rig.url("/embed/top-talkers"))
        .send()
        .await
        .unwrap();
    let strict = |frame_ancestors: &str| {
        format!(
            "default-src 'none'; script-src 'self' 'wasm-unsafe-eval'; \
             style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; \
             base-uri 'none'; form-action 'none'; frame-ancestors {frame_ancestors}"
        )
    };
    assert_eq!(csp(&page), Some(strict("'none'")));
    for header in [
        ("x-content-type-options", "nosniff"),
        ("referrer-policy", "no-referrer"),
    ] {
        assert_eq!(page.headers()[header.0], header.1);
    }
    let api = client.get(rig.url("/api/v1/status")).send().await.unwrap();
    assert_eq!(csp(&api), Some(strict("'none'")));

    let loader = |origin: &'static str| {
        client
            .get(rig.url("/embed/loader.js"))
            .header("Origin", origin)
            .send()
    };
    let allowed = loader(PORTAL).await.unwrap();
    assert_eq!(allowed.status().as_u16(), 200);
    assert_eq!(
        allowed.headers()["access-control-allow-origin"]
            .to_str()
            .unwrap(),
        PORTAL
    );
    assert!(allowed.text().await.unwrap().contains("sketchlake-widget"));
    let refused = loader("https://evil.example").await.unwrap();
    assert!(
        refused
            .headers()
            .get("access-control-allow-origin")
            .is_none()
    );
}

fn base64_json(part: &str) -> Value {
    use base64::Engine as _;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(part)
        .unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

fn base64_url(value: &Value) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(serde_json::to_vec(value).unwrap())
}

#[tokio::test]
async fn the_cli_sets_tenants_makes_keys_and_ingests_into_a_tenants_folder() {
    let main = tempfile::tempdir().unwrap();
    let acme = tempfile::tempdir().unwrap();
    let (source, _) = common::demo_data(200);
    let path = |p: &std::path::Path| p.display().to_string();
    let (main_dir, acme_dir) = (path(main.path()), path(acme.path()));
    let cli = |args: &[&str]| common::cli(args);

    cli(&[
        "tenant",
        "set",
        "acme",
        "--data",
        &main_dir,
        "--folder",
        &acme_dir,
        "--allow-origin",
        "https://SOC.acme.example:443/",
    ]);
    let (listed, _) = cli(&["tenant", "list", "--data", &main_dir]);
    assert!(
        listed.contains("acme") && listed.contains("https://soc.acme.example"),
        "{listed}"
    );
    cli(&[
        "ingest",
        "--data",
        &main_dir,
        "--tenant",
        "acme",
        &path(source.path()),
    ]);

    let catalog = Lake::open(main.path(), None).await.unwrap().catalog;
    let acme_files = catalog
        .for_tenant("acme")
        .list(lake::catalog::State::Active)
        .await
        .unwrap();
    assert!(!acme_files.is_empty());
    assert!(
        acme_files.iter().all(|f| f.uri.contains(&acme_dir)),
        "segments in acme's folder"
    );
    assert!(
        catalog
            .list(lake::catalog::State::Active)
            .await
            .unwrap()
            .is_empty()
    );

    let (key, _) = cli(&[
        "key", "create", "--data", &main_dir, "--tenant", "acme", "--role", "read",
    ]);
    let key = key.trim();
    assert!(key.starts_with("slk_"));
    let (keys, _) = cli(&["key", "list", "--data", &main_dir]);
    let id = keys.split('\t').next().unwrap();
    assert!(key.contains(id) && keys.contains("active") && !keys.contains(&key[20..]));
    cli(&["key", "revoke", "--data", &main_dir, id]);
    let (keys, _) = cli(&["key", "list", "--data", &main_dir]);
    assert!(keys.contains("revoked"));

    // An unknown tenant and overlapping folders are refused.
    let fails = |args: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_sketchlake"))
            .args(args)
            .output()
            .unwrap();
        assert!(!out.status.success(), "{args:?} succeeded");
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    fails(&[
        "key", "create", "--data", &main_dir, "--tenant", "nobody", "--role", "read",
    ]);
    let inner = main.path().join("inner");
    std::fs::create_dir(&inner).unwrap();
    let why = fails(&[
        "tenant",
        "set",
        "inner",
        "--data",
        &main_dir,
        "--folder",
        &path(&inner),
    ]);
    assert!(why.contains("overlaps tenant default"), "{why}");
    let why = fails(&[
        "tenant", "set", "beta", "--data", &main_dir, "--folder", &acme_dir,
    ]);
    assert!(why.contains("overlaps tenant acme"), "{why}");
    // Changing acme's own origins keeps its folder.
    cli(&[
        "tenant", "set", "acme", "--data", &main_dir, "--folder", &acme_dir,
    ]);
    // And serve would refuse overlapping folders, had they been set.
    let lake = Lake::open(main.path(), None).await.unwrap();
    lake.catalog
        .set_tenant(&Tenant {
            name: "inner".into(),
            data: Some(path(&inner)),
            origins: vec![],
            created_ms: 0,
        })
        .await
        .unwrap();
    let overlap = open_tenant_lakes(&lake, &ScanOptions::default()).await;
    assert!(
        matches!(overlap, Err(lake::LakeError::Overlap { .. })),
        "{:?}",
        overlap.err()
    );
}

#[tokio::test]
async fn alerts_belong_to_a_tenant_read_keys_see_them_admins_change_them_and_tokens_never_reach_them()
 {
    let rig = rig().await;
    let acme = rig.catalog.for_tenant("acme");
    let alert = Alert {
        id: "port-scan-1".into(),
        tenant: String::new(),
        rule: "port-scan".into(),
        version: "v".into(),
        name: "Port scan".into(),
        query: "action:REJECT".into(),
        severity: "high".into(),
        fields: vec!["src_ip".into()],
        group: vec!["198.51.100.23".into()],
        window: (0, 900_000),
        count: 600,
        first_ms: None,
        last_ms: None,
        samples: Vec::new(),
        dedup_key: "port-scan src_ip=198.51.100.23".into(),
        state: AlertState::New,
        staging: false,
        created_ms: 5,
    };
    acme.raise(&alert, 900_000, &[]).await.unwrap();

    let (status, listed) = rig.get("acme-read", "/api/v1/alerts").await;
    assert_eq!(status, 200, "{listed}");
    assert_eq!(listed[0]["id"], "port-scan-1");
    assert_eq!(listed[0]["tenant"], "acme");
    let (status, theirs) = rig.get("globex-admin", "/api/v1/alerts").await;
    assert_eq!(
        (status, theirs),
        (200, json!([])),
        "another tenant's alerts"
    );
    let (status, _) = rig.get("globex-admin", "/api/v1/alerts/port-scan-1").await;
    assert_eq!(status, 404);
    // Searched as a data set, the tenant's own only.
    let search = "/api/v1/alerts/search?q=severity%3Ahigh%20%7C%20stats%20count%20by%20src_ip";
    let (status, found) = rig.get("acme-read", search).await;
    assert_eq!(status, 200, "{found}");
    assert_eq!(found["groups"]["rows"][0]["key"], json!(["198.51.100.23"]));
    let (status, found) = rig.get("globex-admin", search).await;
    assert_eq!((status, &found["matched"]), (200, &json!(0)), "{found}");
    let (status, refused) = rig
        .get("acme-read", "/api/v1/alerts/search?q=%7C%20stats%20nope(x)")
        .await;
    assert_eq!(status, 400, "{refused}");
    // Rules too: acme's folder to acme's keys; globex, which has none, sees none of them.
    let (status, rules) = rig.get("acme-read", "/api/v1/rules").await;
    assert_eq!(status, 200, "{rules}");
    let ids: Vec<&str> = rules["rules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        ["large-upload", "port-scan", "ssh-brute-force"],
        "{rules}"
    );
    let (status, theirs) = rig.get("globex-admin", "/api/v1/rules").await;
    assert_eq!(status, 200, "{theirs}");
    assert_eq!(theirs["rules"], json!([]), "{theirs}");

    let change = json!({ "state": "acknowledged" });
    let path = "/api/v1/alerts/port-scan-1/state";
    let (status, _) = rig.post(Some("acme-read"), path, change.clone()).await;
    assert_eq!(status, 403, "read keys do not change alerts");
    let (status, _) = rig.post(Some("globex-admin"), path, change.clone()).await;
    assert_eq!(status, 404);
    let (status, _) = rig
        .post(Some("acme-admin"), path, json!({ "state": "gone" }))
        .await;
    assert_eq!(status, 400);
    let (status, changed) = rig.post(Some("acme-admin"), path, change).await;
    assert_eq!(status, 200, "{changed}");
    assert_eq!(changed["state"], "acknowledged");

    // A widget token is not a key: refused, as no key at all is.
    let saved = rig.save("acme-admin", "talkers", "| top 5 srcaddr").await;
    let (status, body) = rig
        .token(
            "acme-admin",
            json!({ "saved": saved, "widget": "top-talkers", "origin": PORTAL }),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let token = body["token"].as_str().unwrap();
    for path in [
        "/api/v1/alerts",
        "/api/v1/alerts/search?q=severity%3Ahigh",
        "/api/v1/rules",
        "/api/v1/sinks",
    ] {
        let response = reqwest::Client::new()
            .get(rig.url(path))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 401, "{path}");
        let response = reqwest::get(rig.url(path)).await.unwrap();
        assert_eq!(response.status(), 401, "{path} without a key");
    }
}

#[tokio::test]
async fn metrics_count_queries_for_the_operator_alone() {
    let rig = rig().await;
    let metrics = |key: Option<&'static str>| {
        let mut request = reqwest::Client::new().get(rig.url("/metrics"));
        if let Some(key) = key {
            request = request.bearer_auth(&rig.keys[key]);
        }
        async move {
            let response = request.send().await.unwrap();
            let status = response.status().as_u16();
            let kind = response
                .headers()
                .get("content-type")
                .map(|v| v.to_str().unwrap().to_string());
            (status, kind, response.text().await.unwrap())
        }
    };
    // Counters cover every tenant: no key, a read key, another tenant's admin are refused.
    assert_eq!(metrics(None).await.0, 401);
    assert_eq!(metrics(Some("acme-read")).await.0, 403);
    assert_eq!(metrics(Some("acme-admin")).await.0, 403);
    let (status, _) = rig
        .post(
            Some("operator"),
            "/api/v1/query",
            json!({ "q": "| stats count" }),
        )
        .await;
    assert_eq!(status, 200);
    let (status, _) = rig
        .post(Some("operator"), "/api/v1/query", json!({ "q": "a:(" }))
        .await;
    assert_eq!(status, 400);
    let (status, kind, text) = metrics(Some("operator")).await;
    assert_eq!(status, 200, "{text}");
    assert_eq!(
        kind.as_deref(),
        Some("text/plain; version=0.0.4; charset=utf-8")
    );
    let value = |name: &str| -> f64 {
        text.lines()
            .find_map(|l| l.strip_prefix(name).and_then(|v| v.strip_prefix(' ')))
            .unwrap_or_else(|| panic!("{name} missing from\n{text}"))
            .parse()
            .unwrap()
    };
    assert_eq!(value("sketchlake_queries_total{outcome=\"finished\"}"), 1.0);
    assert_eq!(value("sketchlake_queries_total{outcome=\"rejected\"}"), 1.0);
    assert_eq!(value("sketchlake_queries_running"), 0.0);
    assert!(value("sketchlake_scanned_bytes_total") > 0.0);
    assert_eq!(value("sketchlake_executor_slots"), 2.0);
    assert_eq!(value("sketchlake_alert_deliveries_pending"), 0.0);
    // Every sample has its HELP and TYPE, as Prometheus's parser expects.
    for sample in text.lines().filter(|l| !l.starts_with('#')) {
        let name = sample.split(['{', ' ']).next().unwrap();
        assert!(text.contains(&format!("# TYPE {name} ")), "{name}");
    }
}

#[tokio::test]
async fn wrong_keys_from_one_address_are_refused_for_a_minute() {
    let rig = rig().await;
    let client = reqwest::Client::new();
    let ask = |key: String| {
        client
            .post(rig.url("/api/v1/query"))
            .bearer_auth(key)
            .json(&json!({ "q": "| stats count" }))
            .send()
    };
    let forged = format!(
        "{}0000",
        &rig.keys["acme-read"][..rig.keys["acme-read"].len() - 4]
    );
    for attempt in 0..10 {
        let refused = ask(forged.clone()).await.unwrap();
        assert_eq!(refused.status(), 401, "attempt {attempt}");
    }
    // Past ten a minute, the address is refused outright, a right key too, with when to
    // ask again; over HTTP and at the WebSocket's upgrade alike.
    for key in [forged, rig.keys["acme-read"].clone()] {
        let throttled = ask(key).await.unwrap();
        assert_eq!(throttled.status(), 429);
        let retry: u64 = throttled.headers()["retry-after"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!((1..=60).contains(&retry), "{retry}");
        let body: Value = throttled.json().await.unwrap();
        assert!(
            body["error"]
                .as_str()
                .unwrap()
                .contains("too many wrong keys")
        );
    }
    let ask = ClientMessage::Query {
        q: "| stats count".into(),
        hits: 0,
        key: Some(rig.keys["acme-read"].clone()),
    };
    assert_eq!(rig.socket(None, &ask).await.err(), Some(429));
}
