//! The catalog on both of its databases: embedded SQLite, and a real PostgreSQL server
//! (`cargo xtask test` starts one on loopback and passes its URL in
//! `SKETCHLAKE_TEST_POSTGRES`; without it, only SQLite is tested and that is said).
#![allow(clippy::unwrap_used)] // test helpers: a panic is the failure report

mod common;

use lake::alerts::{Alert, AlertState, Raised, Sink, SinkKind};
use lake::catalog::{Catalog, CatalogError, Entry, Kind, SavedQuery, Selection, State};
use lake::rollups::{Detected, RuleKey};
use lake::{Lake, Synced};
use sqlx::Row;
use workers::{Detector, ScanOptions, Watch};

/// A fresh, empty catalog on each backend: (name, url). The SQLite file lives in `dir`.
async fn backends(dir: &std::path::Path) -> Vec<(&'static str, String)> {
    let mut urls = vec![(
        "sqlite",
        format!("sqlite://{}?mode=rwc", dir.join("catalog.db").display()),
    )];
    match std::env::var("SKETCHLAKE_TEST_POSTGRES") {
        Ok(admin) => {
            // One database per test: tests run in parallel.
            let name = format!(
                "catalog_{}_{}",
                std::process::id(),
                dir.file_name().unwrap().to_string_lossy().to_lowercase()
            )
            .replace(|c: char| !c.is_ascii_alphanumeric(), "_");
            urls.push(("postgres", common::new_database(&admin, &name).await));
        }
        Err(_) => eprintln!("SKETCHLAKE_TEST_POSTGRES is not set: PostgreSQL not tested"),
    }
    urls
}

fn segment(uri: &str, time: Option<(i64, i64)>, bytes: u64) -> Entry {
    Entry {
        uri: uri.to_string(),
        kind: Kind::Segment,
        format: "ndjson".to_string(),
        time,
        time_fields: "timestamp,ts".to_string(),
        rows: Some(10),
        bytes,
        index_uri: Some(format!("{uri}.idx")),
        source: Some("file:///src/a.json".to_string()),
        modified_ms: 1,
        state: State::Active,
    }
}

fn raw(uri: &str, bytes: u64) -> Entry {
    Entry {
        kind: Kind::Raw,
        format: "vpcflow".to_string(),
        time: None,
        time_fields: String::new(),
        rows: None,
        index_uri: None,
        source: None,
        ..segment(uri, None, bytes)
    }
}

fn raw_timed(uri: &str, format: &str, time_fields: &str, bytes: u64) -> Entry {
    Entry {
        format: format.to_string(),
        time: Some((0, 999)),
        time_fields: time_fields.to_string(),
        rows: Some(3),
        ..raw(uri, bytes)
    }
}

fn uris(entries: &[Entry]) -> Vec<&str> {
    entries.iter().map(|e| e.uri.as_str()).collect()
}

fn targets(selection: &Selection) -> Vec<&str> {
    selection.targets.iter().map(|t| t.uri.as_str()).collect()
}

#[tokio::test]
async fn plans_prune_by_time_only_what_cannot_match() {
    let dir = tempfile::tempdir().unwrap();
    for (backend, url) in backends(dir.path()).await {
        let catalog = Catalog::open(&url).await.unwrap();
        catalog
            .register(&[
                segment("file:///s/early", Some((0, 999)), 100),
                segment("file:///s/edge", Some((1_000, 1_000)), 10),
                segment("file:///s/late", Some((2_000, 2_999)), 1_000),
                segment("file:///s/untimed", None, 1),
                raw("file:///r/raw.log", 5),
                // Read at ingest for its time: ruled out like a segment when a scan of its
                // format reads the same field.
                raw_timed("file:///r/conn.log", "zeek", "ts", 10_000),
                // Timed from a field a scan of its format does not read: never ruled out.
                raw_timed("file:///r/access.log", "apache", "when", 20_000),
            ])
            .await
            .unwrap();
        let fields = |format: &str| match format {
            "zeek" => "ts".to_string(),
            _ => "timestamp,ts".to_string(),
        };
        let all = catalog.plan((None, None), fields).await.unwrap();
        assert_eq!(all.targets.len(), 7, "{backend}");
        assert_eq!((all.pruned, all.pruned_bytes), (0, 0), "{backend}");
        // [1000, 2000): `early` and the Zeek log end before, `late` starts at the exclusive end.
        let mid = catalog
            .plan((Some(1_000), Some(2_000)), fields)
            .await
            .unwrap();
        assert_eq!(
            targets(&mid),
            [
                "file:///r/access.log",
                "file:///r/raw.log",
                "file:///s/edge",
                "file:///s/untimed"
            ],
            "{backend}"
        );
        assert_eq!((mid.pruned, mid.pruned_bytes), (3, 11_100), "{backend}");
        let open_start = catalog.plan((None, Some(1_000)), fields).await.unwrap();
        assert_eq!(open_start.pruned, 2, "{backend}: edge and late");
        // Times read from other fields bound nothing for this scan.
        let other = catalog
            .plan((Some(1_000), Some(2_000)), |_| "start".to_string())
            .await
            .unwrap();
        assert_eq!((other.targets.len(), other.pruned), (7, 0), "{backend}");
        // What went in comes back out, field by field.
        let back = catalog.get("file:///s/early").await.unwrap().unwrap();
        assert_eq!(
            back,
            segment("file:///s/early", Some((0, 999)), 100),
            "{backend}"
        );
        assert_eq!(
            catalog.get("file:///r/raw.log").await.unwrap().unwrap(),
            raw("file:///r/raw.log", 5),
            "{backend}"
        );
        assert_eq!(
            catalog.get("file:///nope").await.unwrap(),
            None,
            "{backend}"
        );
    }
}

#[tokio::test]
async fn a_swap_replaces_sources_with_segments_in_one_step() {
    let dir = tempfile::tempdir().unwrap();
    for (backend, url) in backends(dir.path()).await {
        let catalog = Catalog::open(&url).await.unwrap();
        let source = raw("file:///r/a.json", 50);
        catalog
            .register(std::slice::from_ref(&source))
            .await
            .unwrap();
        let segments = [
            segment("file:///s/a.0", Some((0, 5)), 20),
            segment("file:///s/a.1", Some((5, 9)), 20),
        ];
        catalog
            .swap(std::slice::from_ref(&source), State::Ingested, &segments)
            .await
            .unwrap();
        let planned = catalog.plan((None, None), |_| String::new()).await.unwrap();
        assert_eq!(
            targets(&planned),
            ["file:///s/a.0", "file:///s/a.1"],
            "{backend}"
        );
        let ingested = catalog.list(State::Ingested).await.unwrap();
        assert_eq!(uris(&ingested), ["file:///r/a.json"], "{backend}");

        // Compaction: both segments retired, one in their place.
        let merged = segment("file:///s/merged", Some((0, 9)), 35);
        catalog
            .swap(&segments, State::Retired, std::slice::from_ref(&merged))
            .await
            .unwrap();
        let planned = catalog.plan((None, None), |_| String::new()).await.unwrap();
        assert_eq!(targets(&planned), ["file:///s/merged"], "{backend}");
        assert_eq!(catalog.list(State::Retired).await.unwrap().len(), 2);
        catalog
            .remove(&["file:///s/a.0".to_string(), "file:///s/a.1".to_string()])
            .await
            .unwrap();
        assert!(catalog.list(State::Retired).await.unwrap().is_empty());
    }
}

#[tokio::test]
async fn reopening_keeps_the_rows_and_a_newer_schema_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    for (backend, url) in backends(dir.path()).await {
        let catalog = Catalog::open(&url).await.unwrap();
        catalog.register(&[raw("file:///r/x", 1)]).await.unwrap();
        drop(catalog);
        let again = Catalog::open(&url).await.unwrap();
        assert_eq!(
            again.list(State::Active).await.unwrap().len(),
            1,
            "{backend}"
        );
        drop(again);

        let pool = sqlx::AnyPool::connect(&url).await.unwrap();
        sqlx::query("UPDATE catalog_meta SET value = 99 WHERE key = 'schema_version'")
            .execute(&pool)
            .await
            .unwrap();
        pool.close().await;
        let refused = Catalog::open(&url).await.unwrap_err();
        assert!(
            matches!(refused, CatalogError::Schema { found: 99 }),
            "{backend}: {refused}"
        );
    }
}

/// A lake's catalog follows its folder: new files are registered, changed ones updated,
/// deleted ones forgotten; the lake's own folder and hidden files are not data.
#[tokio::test]
async fn a_lake_sync_follows_the_folder() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("lake");
    std::fs::create_dir_all(root.join("zeek")).unwrap();
    std::fs::write(root.join("a.json"), "{\"x\":1}\n").unwrap();
    std::fs::write(
        root.join("zeek/conn.log"),
        "#separator \\x09\n#fields\tts\n1\n",
    )
    .unwrap();
    std::fs::write(root.join(".hidden"), "x\n").unwrap();
    for (backend, url) in backends(dir.path()).await {
        let lake = Lake::open(&root, Some(&url)).await.unwrap();
        let options = ScanOptions::default();
        let synced = lake.sync(&root, &options).await.unwrap();
        assert_eq!(
            synced,
            Synced {
                added: 2,
                changed: 0,
                removed: 0
            },
            "{backend}"
        );
        let active = lake.catalog.list(State::Active).await.unwrap();
        let formats: Vec<&str> = active.iter().map(|e| e.format.as_str()).collect();
        assert_eq!(formats, ["ndjson", "zeek"], "{backend}");
        assert_eq!(lake.sync(&root, &options).await.unwrap(), Synced::default());

        std::fs::write(root.join("a.json"), "{\"x\":1}\n{\"x\":2}\n").unwrap();
        std::fs::remove_file(root.join("zeek/conn.log")).unwrap();
        let synced = lake.sync(&root, &options).await.unwrap();
        assert_eq!(
            synced,
            Synced {
                added: 0,
                changed: 1,
                removed: 1
            },
            "{backend}"
        );
        let active = lake.catalog.list(State::Active).await.unwrap();
        assert_eq!(active.len(), 1, "{backend}");
        assert_eq!(active[0].bytes, 16, "{backend}");
        // Put back for the next backend.
        std::fs::write(root.join("a.json"), "{\"x\":1}\n").unwrap();
        std::fs::write(
            root.join("zeek/conn.log"),
            "#separator \\x09\n#fields\tts\n1\n",
        )
        .unwrap();
    }
}

/// The whole path through the binary on each catalog: ingest into a lake, then query it;
/// the answer equals a query over the source files.
#[tokio::test]
async fn ingest_and_query_through_either_catalog() {
    let dir = tempfile::tempdir().unwrap();
    let sources = dir.path().join("sources");
    gateway::demo::generate(
        &sources,
        &gateway::demo::DemoConfig {
            records: 12_000,
            days: 1,
            ..Default::default()
        },
    )
    .unwrap();
    let sketchlake = |args: &[&str]| common::cli(args).0;
    let q = "action:REJECT | stats count, sum(bytes) by dstport";
    let answer = |json: &str| {
        let v: serde_json::Value = serde_json::from_str(json).unwrap();
        (v["matched"].clone(), v["groups"].clone())
    };
    let source = sources.to_str().unwrap();
    let direct = answer(&sketchlake(&["query", "--data", source, q]));
    for (backend, url) in backends(dir.path()).await {
        let lake = dir.path().join(format!("lake-{backend}"));
        let lake = lake.to_str().unwrap();
        let ingest = || sketchlake(&["ingest", "--catalog", &url, "--data", lake, source]);
        let said = ingest();
        assert!(
            said.starts_with("ingested 24 files into 24 segments"),
            "{backend}: {said}"
        );
        let again = ingest();
        assert!(again.contains("; 24 ingested before"), "{backend}: {again}");
        let via = answer(&sketchlake(&[
            "query",
            "--catalog",
            &url,
            "--data",
            lake,
            q,
        ]));
        assert_eq!(via, direct, "{backend}");
        let catalog = Catalog::open(&url).await.unwrap();
        assert_eq!(
            catalog.list(State::Active).await.unwrap().len(),
            24,
            "{backend}"
        );
    }
}

#[tokio::test]
async fn saved_queries_are_kept_per_tenant_and_names_are_unique_within_one() {
    let dir = tempfile::tempdir().unwrap();
    for (backend, url) in backends(dir.path()).await {
        let catalog = Catalog::open(&url).await.unwrap();
        let saved = |id: &str, tenant: &str, name: &str| SavedQuery {
            id: id.to_string(),
            tenant: tenant.to_string(),
            name: name.to_string(),
            q: "action:REJECT | top 10 src_ip".to_string(),
            created_ms: 1,
        };
        catalog
            .save_query(&saved("a1", "acme", "rejects"))
            .await
            .unwrap();
        catalog
            .save_query(&saved("a2", "acme", "ports"))
            .await
            .unwrap();
        // The same name in another tenant is another query.
        catalog
            .save_query(&saved("b1", "blue", "rejects"))
            .await
            .unwrap();
        let taken = catalog.save_query(&saved("a3", "acme", "rejects")).await;
        assert!(
            matches!(taken, Err(CatalogError::NameTaken { .. })),
            "{backend}: {taken:?}"
        );

        let names: Vec<String> = catalog
            .saved_queries("acme")
            .await
            .unwrap()
            .into_iter()
            .map(|s| s.name)
            .collect();
        assert_eq!(names, ["ports", "rejects"], "{backend}");
        assert_eq!(
            catalog.saved_query("acme", "a1").await.unwrap(),
            Some(saved("a1", "acme", "rejects")),
            "{backend}"
        );
        // A tenant neither sees nor deletes another's.
        assert_eq!(
            catalog.saved_query("blue", "a1").await.unwrap(),
            None,
            "{backend}"
        );
        assert!(
            !catalog.delete_saved_query("blue", "a1").await.unwrap(),
            "{backend}"
        );
        assert!(
            catalog.delete_saved_query("acme", "a1").await.unwrap(),
            "{backend}"
        );
        assert_eq!(
            catalog.saved_query("acme", "a1").await.unwrap(),
            None,
            "{backend}"
        );
        assert_eq!(
            catalog.saved_queries("blue").await.unwrap().len(),
            1,
            "{backend}"
        );
    }
}

#[tokio::test]
async fn tenants_plan_list_and_change_only_their_own_files() {
    let dir = tempfile::tempdir().unwrap();
    for (backend, url) in backends(dir.path()).await {
        let mine = Catalog::open(&url).await.unwrap().for_tenant("acme");
        let theirs = mine.for_tenant("globex");
        mine.register(&[raw("file:///acme/a.log", 10)])
            .await
            .unwrap();
        theirs
            .register(&[raw("file:///globex/g.log", 20)])
            .await
            .unwrap();
        let planned = mine.plan((None, None), |_| String::new()).await.unwrap();
        assert_eq!(targets(&planned), ["file:///acme/a.log"], "{backend}");
        // Nor is the other tenant's file counted as pruned.
        assert_eq!((planned.pruned, planned.pruned_bytes), (0, 0), "{backend}");
        assert_eq!(
            uris(&theirs.list(State::Active).await.unwrap()),
            ["file:///globex/g.log"]
        );
        assert!(mine.get("file:///globex/g.log").await.unwrap().is_none());

        // A file another tenant catalogued is neither taken over nor forgotten.
        let taken = mine.register(&[raw("file:///globex/g.log", 99)]).await;
        assert!(
            matches!(&taken, Err(CatalogError::OtherTenant { owner, .. }) if owner == "globex"),
            "{backend}: {taken:?}"
        );
        mine.remove(&["file:///globex/g.log".to_string()])
            .await
            .unwrap();
        let kept = theirs.get("file:///globex/g.log").await.unwrap().unwrap();
        assert_eq!(kept.bytes, 20, "{backend}");
    }
}

/// The files table as versions 1 and 2 made it, named `segments`; version 1 had no tenants.
fn previous_schema(version: i64) -> Vec<String> {
    let tenant = if version >= 2 {
        ", tenant TEXT NOT NULL DEFAULT 'default'"
    } else {
        ""
    };
    let mut statements = vec![
        "CREATE TABLE catalog_meta (key TEXT PRIMARY KEY, value BIGINT NOT NULL)".to_string(),
        format!(
            "CREATE TABLE segments (uri TEXT PRIMARY KEY, kind TEXT NOT NULL, \
             format TEXT NOT NULL, time_min BIGINT, time_max BIGINT, time_fields TEXT NOT NULL, \
             row_count BIGINT, bytes BIGINT NOT NULL, index_uri TEXT, source TEXT, \
             modified_ms BIGINT NOT NULL, state TEXT NOT NULL{tenant})"
        ),
        "CREATE INDEX segments_by_state_time ON segments (state, time_max)".to_string(),
        format!("INSERT INTO catalog_meta (key, value) VALUES ('schema_version', {version})"),
        "INSERT INTO segments (uri, kind, format, time_fields, bytes, modified_ms, state) \
         VALUES ('file:///r/old.log', 'raw', 'ndjson', '', 5, 1, 'active')"
            .to_string(),
    ];
    if version >= 2 {
        statements
            .push("CREATE INDEX segments_by_tenant ON segments (tenant, state, time_max)".into());
    }
    statements
}

/// Makes the catalog at `url` as `version` left it, with one raw file, then opens it.
async fn upgraded_from(url: &str, version: i64) -> Catalog {
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(url).await.unwrap();
    for statement in previous_schema(version) {
        sqlx::query(sqlx::AssertSqlSafe(statement))
            .execute(&pool)
            .await
            .unwrap();
    }
    pool.close().await;
    Catalog::open(url).await.unwrap()
}

#[tokio::test]
async fn a_version_1_catalog_is_upgraded_in_place() {
    upgrades_in_place(1).await;
}

#[tokio::test]
async fn a_version_2_catalog_is_upgraded_in_place() {
    upgrades_in_place(2).await;
}

/// A catalog of an earlier `version` is upgraded in place: its rows kept (the default
/// tenant's, from version 1), the table of catalogued files named for what it holds (raw
/// files as well as segments: version 3), and it works as a new one.
async fn upgrades_in_place(version: i64) {
    let dir = tempfile::tempdir().unwrap();
    for (backend, url) in backends(dir.path()).await {
        let upgraded = upgraded_from(&url, version).await;
        assert_eq!(
            uris(&upgraded.list(State::Active).await.unwrap()),
            ["file:///r/old.log"],
            "{backend}: the old files are the default tenant's"
        );
        assert!(
            upgraded
                .for_tenant("acme")
                .list(State::Active)
                .await
                .unwrap()
                .is_empty()
        );
        upgraded
            .register(&[raw("file:///r/new.log", 7)])
            .await
            .unwrap();
        let planned = upgraded
            .plan((None, None), |_| String::new())
            .await
            .unwrap();
        assert_eq!(
            targets(&planned),
            ["file:///r/new.log", "file:///r/old.log"],
            "{backend}"
        );
        drop(upgraded);

        let pool = sqlx::AnyPool::connect(&url).await.unwrap();
        let old_table = sqlx::query("SELECT COUNT(*) FROM segments")
            .fetch_one(&pool)
            .await;
        assert!(old_table.is_err(), "{backend}: the old table is gone");
        assert_eq!(
            count(
                &pool,
                "SELECT value FROM catalog_meta WHERE key = 'schema_version'"
            )
            .await,
            7,
            "{backend}"
        );
        pool.close().await;
        // Opened again: already upgraded, nothing to do.
        let again = Catalog::open(&url).await.unwrap();
        assert_eq!(
            again.list(State::Active).await.unwrap().len(),
            2,
            "{backend}"
        );
    }
}

#[tokio::test]
async fn keys_are_kept_hashed_and_revoked_for_good() {
    let dir = tempfile::tempdir().unwrap();
    for (backend, url) in backends(dir.path()).await {
        let catalog = Catalog::open(&url).await.unwrap();
        let (key, record) =
            gateway::access::new_key("acme", gateway::access::Role::Read, "ci").unwrap();
        catalog.add_key(&record).await.unwrap();
        let stored = catalog.key(&record.id).await.unwrap().unwrap();
        assert_eq!(stored, record, "{backend}");
        assert!(!stored.secret_sha256.is_empty() && !key.contains(&stored.secret_sha256));
        assert!(catalog.revoke_key(&record.id, 7).await.unwrap());
        assert!(
            !catalog.revoke_key(&record.id, 8).await.unwrap(),
            "{backend}"
        );
        assert_eq!(
            catalog.key(&record.id).await.unwrap().unwrap().revoked_ms,
            Some(7)
        );
        // The signing secret is created once and then shared.
        let first = catalog.secret("s", "one".into()).await.unwrap();
        let second = catalog.secret("s", "two".into()).await.unwrap();
        assert_eq!(
            (first.as_str(), second.as_str()),
            ("one", "one"),
            "{backend}"
        );
    }
}

/// A rule's rollups of two minutes of `source`, as the ingest pass makes them.
fn detected(source: &str, rule: &RuleKey, watch: &Watch, src_ips: &[&str]) -> Detected {
    let watches = [watch.clone()];
    let mut detector = Detector::new(&watches, source, 0);
    detector.read_time_from(&["ts".to_string()]);
    for (i, ip) in src_ips.iter().enumerate() {
        let event = format!("{{\"ts\": {}, \"src_ip\": \"{ip}\"}}", 60 + i * 60);
        detector.object(i as u64 + 1, event.as_bytes());
    }
    Detected {
        source: source.to_string(),
        modified_ms: 5,
        rules: vec![rule.clone()],
        rollups: detector.finish().unwrap(),
    }
}

/// Rule `r`'s new alert `id` for the source `src_ip`, over the first hour.
fn alert_for(id: &str, src_ip: &str) -> Alert {
    Alert {
        id: id.into(),
        tenant: String::new(),
        rule: "r".into(),
        version: "v1".into(),
        name: "R".into(),
        query: "| stats count by src_ip".into(),
        severity: "low".into(),
        fields: vec!["src_ip".into()],
        group: vec![src_ip.into()],
        window: (0, 3_600_000),
        count: 1,
        first_ms: None,
        last_ms: None,
        samples: Vec::new(),
        dedup_key: format!("r src_ip={src_ip}"),
        state: AlertState::New,
        staging: false,
        created_ms: 0,
    }
}

#[tokio::test]
async fn rollups_alerts_sinks_and_deliveries_are_kept_alike_on_both_databases() {
    let dir = tempfile::tempdir().unwrap();
    let query = shared_sketch::parse("| stats count by src_ip").unwrap();
    let watch = Watch {
        group: vec!["src_ip".into()],
        query,
        per_event: false,
    };
    let rule = RuleKey {
        id: "r".into(),
        version: "v1".into(),
    };
    for (backend, url) in backends(dir.path()).await {
        let catalog = Catalog::open(&url).await.unwrap();
        let first = detected("file:///a.json", &rule, &watch, &["x", "y"]);
        let samples = first.rollups[0].partials().unwrap()[0].1.hits.clone();
        catalog
            .swap_detected(
                &[],
                State::Ingested,
                &[segment("file:///s1", None, 1)],
                &first.encode(),
            )
            .await
            .unwrap();
        let (spans, batch) = catalog.rollups_since(&rule, 0).await.unwrap();
        assert_eq!(spans, [(60_000, 120_000)], "{backend}");
        let stored = catalog.rollups(&rule, (0, 180_000)).await.unwrap();
        assert_eq!(stored.len(), 2, "{backend}");
        assert_eq!(stored[0].1.hits, samples, "{backend}");
        let evaluated = catalog.evaluated_sources().await.unwrap();
        assert_eq!(
            evaluated["file:///a.json"].get(&rule),
            Some(&5),
            "{backend}"
        );
        // The same source evaluated again replaces its rollups, under a newer batch.
        let again = detected("file:///a.json", &rule, &watch, &["z"]);
        catalog.add_rollups(again).await.unwrap();
        let (spans, newer) = catalog.rollups_since(&rule, batch).await.unwrap();
        assert!(newer > batch && spans == [(60_000, 60_000)], "{backend}");
        assert_eq!(catalog.rollups(&rule, (0, 180_000)).await.unwrap().len(), 1);
        // A backfill from minute 2 on keeps what came before it, in rows on both sides.
        let two = detected("file:///b.json", &rule, &watch, &["p", "q", "r"]);
        catalog.add_rollups(two).await.unwrap();
        assert_eq!(catalog.rollups(&rule, (0, 240_000)).await.unwrap().len(), 4);
        catalog.delete_rollups_since(&rule, 120_000).await.unwrap();
        let kept: Vec<i64> = catalog
            .rollups(&rule, (0, 240_000))
            .await
            .unwrap()
            .iter()
            .map(|(m, _)| *m)
            .collect();
        assert_eq!(kept, [60_000, 60_000], "{backend}");
        // Another tenant sees none of it.
        let other = catalog.for_tenant("acme");
        assert!(other.rollups(&rule, (0, 180_000)).await.unwrap().is_empty());

        catalog.set_run_mark(&rule, newer, 77).await.unwrap();
        assert_eq!(catalog.run_mark(&rule).await.unwrap(), newer, "{backend}");
        assert_eq!(catalog.last_runs().await.unwrap(), [("r".to_string(), 77)]);

        let alert = Alert {
            count: 3,
            first_ms: Some(60_000),
            last_ms: Some(60_000),
            samples: samples.clone(),
            created_ms: 1000,
            ..alert_for("r-1", "x")
        };
        let sinks = ["hook".to_string()];
        assert_eq!(
            catalog.raise(&alert, 3_600_000, &sinks).await.unwrap(),
            Raised::New
        );
        let later = Alert {
            id: "r-2".into(),
            window: (300_000, 3_900_000),
            count: 5,
            last_ms: Some(3_800_000),
            ..alert.clone()
        };
        assert_eq!(
            catalog.raise(&later, 3_600_000, &sinks).await.unwrap(),
            Raised::Duplicate { id: "r-1".into() },
            "{backend}"
        );
        let kept = catalog.alert("r-1").await.unwrap().unwrap();
        assert_eq!(
            (kept.count, kept.last_ms),
            (5, Some(3_800_000)),
            "{backend}"
        );
        assert_eq!(kept.samples, alert.samples, "{backend}");
        // Past the period: a new alert.
        let next_day = Alert {
            id: "r-3".into(),
            window: (86_400_000, 90_000_000),
            created_ms: 2000,
            ..alert.clone()
        };
        assert_eq!(
            catalog.raise(&next_day, 3_600_000, &sinks).await.unwrap(),
            Raised::New
        );
        let listed = catalog.alerts(i64::MIN, 10).await.unwrap();
        assert_eq!(
            listed.iter().map(|a| a.id.as_str()).collect::<Vec<_>>(),
            ["r-3", "r-1"],
            "{backend}: newest first"
        );
        assert!(other.alerts(i64::MIN, 10).await.unwrap().is_empty());
        assert!(
            catalog
                .set_alert_state("r-1", AlertState::Closed)
                .await
                .unwrap()
        );
        assert!(
            !other
                .set_alert_state("r-1", AlertState::Closed)
                .await
                .unwrap()
        );
        assert_eq!(
            catalog.alert("r-1").await.unwrap().unwrap().state,
            AlertState::Closed
        );

        let due = catalog.due_deliveries(5000, 10).await.unwrap();
        assert_eq!(due.len(), 2, "{backend}: one per new alert");
        catalog
            .delivery_failed("r-1/hook", 9000, "down")
            .await
            .unwrap();
        catalog.delivered("r-3/hook", 5000).await.unwrap();
        assert!(catalog.due_deliveries(5000, 10).await.unwrap().is_empty());
        assert_eq!(catalog.pending_deliveries().await.unwrap(), 1);
        // Pending to a sink nobody has set: nothing to wait for until someone does, and
        // tried once, not again when its retry falls due.
        assert_eq!(catalog.next_delivery_ms().await.unwrap(), None, "{backend}");
        assert!(
            catalog.due_deliveries(10_000, 10).await.unwrap().is_empty(),
            "{backend}: held for its sink"
        );

        let sink = Sink {
            tenant: String::new(),
            name: "hook".into(),
            kind: SinkKind::Webhook,
            url: "https://example.com/hook".into(),
            secret: "s".into(),
            created_ms: 1,
        };
        catalog.set_sink(&sink).await.unwrap();
        assert_eq!(catalog.next_delivery_ms().await.unwrap(), Some(9000));
        let due = catalog.due_deliveries(10_000, 10).await.unwrap();
        assert_eq!(due.len(), 1, "{backend}: due once its sink is set");
        let stored = catalog.sink("hook").await.unwrap().unwrap();
        assert_eq!(
            (stored.kind, stored.secret.as_str()),
            (SinkKind::Webhook, "s")
        );
        assert!(other.sink("hook").await.unwrap().is_none());
        assert!(catalog.delete_sink("hook").await.unwrap());
        assert!(catalog.sinks().await.unwrap().is_empty(), "{backend}");
        catalog.close().await;
    }
}

/// Rule runs, deliveries and ingest write to one catalog at once in a gateway. A
/// transaction that reads before it writes (raising an alert looks for its duplicate
/// first) must wait for the others, not fail: SQLite refused such a one at once ("database
/// is locked") when another connection had written since its read.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn writers_at_once_wait_for_each_other() {
    let dir = tempfile::tempdir().unwrap();
    for (backend, url) in backends(dir.path()).await {
        let catalog = std::sync::Arc::new(Catalog::open(&url).await.unwrap());
        let sinks = ["hook".to_string()];
        let mut tasks = tokio::task::JoinSet::new();
        for i in 0..64i64 {
            let catalog = catalog.clone();
            let sinks = sinks.clone();
            tasks.spawn(async move {
                // Eight groups, each raised eight times: duplicates update, news insert.
                let alert = Alert {
                    count: 1 + i as u64,
                    first_ms: Some(i),
                    last_ms: Some(i),
                    created_ms: i,
                    ..alert_for(&format!("r-{i}"), &format!("10.0.0.{}", i % 8))
                };
                catalog.raise(&alert, 3_600_000, &sinks).await?;
                catalog
                    .register(&[raw(&format!("file:///{i}.json"), 10)])
                    .await?;
                catalog
                    .delivery_failed(&format!("r-{}/hook", i % 8), 9000, "down")
                    .await
            });
        }
        while let Some(done) = tasks.join_next().await {
            done.unwrap()
                .unwrap_or_else(|e| panic!("{backend}: a writer failed: {e}"));
        }
        let alerts = catalog.alerts(i64::MIN, 100).await.unwrap();
        assert_eq!(alerts.len(), 8, "{backend}: one alert per group");
        assert_eq!(catalog.pending_deliveries().await.unwrap(), 8, "{backend}");
        catalog.close().await;
    }
}

/// Versions 5 and 6 kept rule rollups in the wire's bytes of before `WIRE_VERSION` 11 and
/// 12: the upgrade drops them (derived data, rebuilt from the files) and keeps everything
/// else.
#[tokio::test]
async fn a_version_5_or_6_catalog_drops_its_rule_rollups() {
    for version in [5, 6] {
        a_catalog_of_version_drops_its_rule_rollups(version).await;
    }
}

async fn a_catalog_of_version_drops_its_rule_rollups(version: i64) {
    let dir = tempfile::tempdir().unwrap();
    for (backend, url) in backends(dir.path()).await {
        let catalog = Catalog::open(&url).await.unwrap();
        catalog
            .register(&[raw("file:///r/kept.log", 3)])
            .await
            .unwrap();
        drop(catalog);
        sqlx::any::install_default_drivers();
        let pool = sqlx::AnyPool::connect(&url).await.unwrap();
        for statement in [
            "INSERT INTO rule_minutes VALUES ('default', 'r', 'v', 's', 0, 60000, 1, 2, 'x')",
            "INSERT INTO rule_sources VALUES ('default', 'r', 'v', 's', 5)",
            "INSERT INTO rule_runs VALUES ('default', 'r', 'v', 1, 7)",
            &format!("UPDATE catalog_meta SET value = {version} WHERE key = 'schema_version'"),
        ] {
            sqlx::query(sqlx::AssertSqlSafe(statement.to_string()))
                .execute(&pool)
                .await
                .unwrap();
        }
        pool.close().await;

        let upgraded = Catalog::open(&url).await.unwrap();
        assert_eq!(
            uris(&upgraded.list(State::Active).await.unwrap()),
            ["file:///r/kept.log"],
            "{backend}"
        );
        drop(upgraded);
        let pool = sqlx::AnyPool::connect(&url).await.unwrap();
        for table in ["rule_minutes", "rule_sources", "rule_runs"] {
            let rows = count(&pool, &format!("SELECT COUNT(*) FROM {table}")).await;
            assert_eq!(rows, 0, "{backend}: {table}");
        }
        assert_eq!(
            count(
                &pool,
                "SELECT value FROM catalog_meta WHERE key = 'schema_version'"
            )
            .await,
            7,
            "{backend}: from {version}"
        );
        pool.close().await;
    }
}

/// The one number `sql` selects.
async fn count(pool: &sqlx::AnyPool, sql: &str) -> i64 {
    sqlx::query(sqlx::AssertSqlSafe(sql.to_string()))
        .fetch_one(pool)
        .await
        .unwrap()
        .try_get(0)
        .unwrap()
}

/// Lookup tables on both databases: put, listed from what was noted, read for a query,
/// replaced, deleted; another tenant's are not seen.
#[tokio::test]
async fn lookup_tables_are_kept_per_tenant() {
    let dir = tempfile::tempdir().unwrap();
    for (backend, url) in backends(dir.path()).await {
        let catalog = Catalog::open(&url).await.unwrap();
        let csv = b"ip,threat\n10.0.0.1,scanner\n";
        catalog.put_lookup("bad_ips", csv, 5).await.unwrap();
        let listed = catalog.lookups().await.unwrap();
        assert_eq!(listed.len(), 1, "{backend}");
        assert_eq!(
            (listed[0].columns.clone(), listed[0].rows, listed[0].bytes),
            (
                vec!["ip".to_string(), "threat".to_string()],
                1,
                csv.len() as u64
            ),
            "{backend}"
        );
        catalog
            .put_lookup("bad_ips", b"ip\n1\n2\n", 6)
            .await
            .unwrap();
        let tables = catalog.read_lookups(&["bad_ips"]).await.unwrap();
        assert_eq!(tables["bad_ips"].rows.len(), 2, "{backend}");
        assert!(
            catalog
                .for_tenant("acme")
                .lookups()
                .await
                .unwrap()
                .is_empty()
        );
        assert!(catalog.delete_lookup("bad_ips").await.unwrap(), "{backend}");
        assert!(
            catalog.read_lookups(&["bad_ips"]).await.is_err(),
            "{backend}"
        );
    }
}
