//! Tenants' lakes: each tenant but the default reads its own folder, catalogued in the
//! gateway's catalog under its own name, so its queries plan only its files.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use workers::ScanOptions;

use crate::error::LakeError;
use crate::lake::{Lake, Root};

/// `https://Soc.Example.com:443/` → `https://soc.example.com`: an origin as browsers send
/// it, so lists compare by equality.
pub fn normalize_origin(text: &str) -> Result<String, BadOrigin> {
    let bad = |why: String| BadOrigin {
        text: text.to_string(),
        why,
    };
    let url = url::Url::parse(text.trim()).map_err(|e| bad(format!("is not an origin: {e}")))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(bad("is not an http(s) origin".into()));
    }
    if url.path() != "/" || url.query().is_some() || url.fragment().is_some() {
        return Err(bad("has a path: an origin is scheme://host[:port]".into()));
    }
    Ok(url.origin().ascii_serialization())
}

/// A web origin that is not one.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
#[error("{text:?} {why}")]
pub struct BadOrigin {
    pub text: String,
    pub why: String,
}

/// `tenant`'s lake: its folder, with its share of `main`'s catalog. (The default tenant's
/// lake is `main` itself.)
pub async fn tenant_lake(main: &Lake, tenant: &str) -> Result<Lake, LakeError> {
    let folder = main
        .catalog
        .tenants()
        .await?
        .into_iter()
        .find(|t| t.name == tenant)
        .and_then(|t| t.data)
        .ok_or_else(|| LakeError::NoTenant(tenant.to_string()))?;
    Ok(Lake {
        root: Root::Folder(PathBuf::from(folder)),
        catalog: main.catalog.for_tenant(tenant),
    })
}

/// Opens and syncs every tenant's lake in `main`'s catalog. Folders may not overlap each
/// other or `main`'s: a file under two lakes would be two tenants'.
pub async fn open_tenant_lakes(
    main: &Lake,
    options: &ScanOptions,
) -> Result<BTreeMap<String, Arc<Lake>>, LakeError> {
    let mut roots: Vec<(String, PathBuf)> = main_folder(main).into_iter().collect();
    let mut lakes = BTreeMap::new();
    for tenant in main.catalog.tenants().await? {
        let Some(folder) = tenant.data else { continue };
        let root = PathBuf::from(folder);
        if let Some((other, _)) = roots.iter().find(|(_, r)| overlap(r, &root)) {
            return Err(LakeError::Overlap {
                tenant: tenant.name,
                other: other.clone(),
                path: root,
            });
        }
        roots.push((tenant.name.clone(), root.clone()));
        let lake = Lake {
            root: Root::Folder(root.clone()),
            catalog: main.catalog.for_tenant(&tenant.name),
        };
        let synced = lake.sync(&root, options).await?;
        tracing::info!(tenant = %tenant.name, lake = %root.display(), added = synced.added, changed = synced.changed, removed = synced.removed, "tenant's catalog up to date");
        lakes.insert(tenant.name, Arc::new(lake));
    }
    Ok(lakes)
}

/// Refuses `folder` for tenant `name` when it overlaps `main`'s folder or another tenant's.
pub async fn check_folder(main: &Lake, name: &str, folder: &Path) -> Result<(), LakeError> {
    let others = main.catalog.tenants().await?.into_iter().filter_map(|t| {
        let root = PathBuf::from(t.data?);
        (t.name != name).then_some((t.name, root))
    });
    let mut roots = main_folder(main).into_iter().chain(others);
    match roots.find(|(_, root)| overlap(root, folder)) {
        Some((other, _)) => Err(LakeError::Overlap {
            tenant: name.to_string(),
            other,
            path: folder.to_path_buf(),
        }),
        None => Ok(()),
    }
}

/// The default tenant's folder, unless its lake is a bucket (no folder can overlap that).
fn main_folder(main: &Lake) -> Option<(String, PathBuf)> {
    match &main.root {
        Root::Folder(path) => Some((main.catalog.tenant().to_string(), path.clone())),
        Root::Bucket(_) => None,
    }
}

fn overlap(a: &Path, b: &Path) -> bool {
    a.starts_with(b) || b.starts_with(a)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_are_normalized_and_paths_refused() {
        assert_eq!(
            normalize_origin("https://SOC.example.com:443/").as_deref(),
            Ok("https://soc.example.com")
        );
        assert_eq!(
            normalize_origin("http://127.0.0.1:8081").as_deref(),
            Ok("http://127.0.0.1:8081")
        );
        for bad in [
            "soc.example.com",
            "ftp://x",
            "https://x/portal",
            "https://x/?a=1",
            "null",
        ] {
            assert!(normalize_origin(bad).is_err(), "{bad}");
        }
    }
}
