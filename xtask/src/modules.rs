//! Which module uses which, in every crate of the workspace: a test holds that no modules
//! use each other, directly or round a circle (docs/ARCHITECTURE.md, "Layers"). A module is
//! a file; a `mod.rs` or crate root that re-exports a child uses that child.
//!
//! The source is read, not compiled: comments, strings and `#[cfg(test)] mod tests` are
//! left out, `use` trees are expanded, and inline `crate::`/`super::`/`self::` paths count
//! too. A path names the deepest module it reaches (`crate::partial::Hit` names
//! `partial`, the front door, even when `Hit` is defined in a child of it).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// A module: its crate root's file and its path below the root (`["query", "ast"]`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Module {
    krate: String,
    path: Vec<String>,
}

impl std::fmt::Display for Module {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.krate)?;
        for part in &self.path {
            write!(f, "::{part}")?;
        }
        Ok(())
    }
}

/// Every circle of modules using each other in the crates under `workspace`, each as the
/// uses that close it ("a uses b"); none in a well-layered workspace.
pub fn circles(workspace: &Path) -> std::io::Result<Vec<Vec<String>>> {
    let mut edges: BTreeMap<Module, BTreeSet<Module>> = BTreeMap::new();
    for (krate, root) in crate_roots(workspace)? {
        let mut files = BTreeMap::new();
        collect(&root, true, Vec::new(), &mut files)?;
        let mut modules = BTreeMap::new();
        for (path, file) in files {
            let code = clean(&std::fs::read_to_string(&file)?);
            modules.insert(path, Items::of(&code));
        }
        for (path, items) in &modules {
            let targets = edges
                .entry(Module {
                    krate: krate.clone(),
                    path: path.clone(),
                })
                .or_default();
            for used in &items.used {
                if let Some(to) = resolve(&modules, path, used, 0)
                    && &to != path
                {
                    targets.insert(Module {
                        krate: krate.clone(),
                        path: to,
                    });
                }
            }
        }
    }
    Ok(strongly_connected(&edges)
        .into_iter()
        .filter(|c| c.len() > 1)
        .map(|circle| {
            let mut uses = Vec::new();
            for from in &circle {
                for to in edges[from].iter().filter(|to| circle.contains(to)) {
                    uses.push(format!("{from} uses {to}"));
                }
            }
            uses
        })
        .collect())
}

/// What one module file defines, imports and uses.
#[derive(Default)]
struct Items {
    /// Names of items defined here (and, harmlessly, of methods and associated items).
    defined: BTreeSet<String>,
    /// Names brought in by `use`, with the path they name.
    imported: BTreeMap<String, Vec<String>>,
    /// `use path::*` paths.
    globs: Vec<Vec<String>>,
    /// Every path used: `use` trees and inline `crate::`/`super::`/`self::` paths.
    used: Vec<Vec<String>>,
}

impl Items {
    fn of(code: &str) -> Items {
        let mut items = Items::default();
        let words = word_starts(code);
        // The end of the `use` declaration being read: its paths are not inline paths.
        let mut in_use = 0;
        for (i, (at, word)) in words.iter().enumerate() {
            let next = |n: usize| words.get(i + n).map(|w| w.1);
            match *word {
                _ if *at < in_use => {}
                "use" => {
                    let tree = &code[at + 3..];
                    let tree = &tree[..tree.find(';').unwrap_or(tree.len())];
                    in_use = at + 3 + tree.len();
                    let mut found = Vec::new();
                    expand(
                        &tree.replace(char::is_whitespace, " "),
                        &mut Vec::new(),
                        &mut found,
                    );
                    for import in found {
                        match import.name {
                            Some(name) => {
                                items.imported.insert(name, import.path.clone());
                            }
                            None => items.globs.push(import.path.clone()),
                        }
                        items.used.push(import.path);
                    }
                }
                "crate" | "super" | "self" if code[at + word.len()..].starts_with("::") => {
                    let end = code[*at..]
                        .find(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':'))
                        .map_or(code.len(), |n| at + n);
                    items.used.push(split(&code[*at..end]));
                }
                "fn" | "struct" | "enum" | "trait" | "const" | "static" | "type" | "union"
                | "macro_rules" => {
                    let name = match (next(1), next(2)) {
                        (Some("fn" | "mut"), Some(name)) => name,
                        (Some(name), _) => name,
                        _ => continue,
                    };
                    items.defined.insert(name.to_string());
                }
                _ => {}
            }
        }
        items
    }
}

/// Each crate's root files: `src/lib.rs`, `src/main.rs` and `src/bin/*.rs`, named by
/// their folder (and file, for binaries).
fn crate_roots(workspace: &Path) -> std::io::Result<Vec<(String, PathBuf)>> {
    let mut roots = Vec::new();
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(workspace)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.join("Cargo.toml").is_file() && p.join("src").is_dir())
        .collect();
    dirs.sort();
    for dir in dirs {
        let name = dir
            .file_name()
            .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
        for root in ["lib.rs", "main.rs"] {
            let file = dir.join("src").join(root);
            if file.is_file() {
                roots.push((format!("{name}/{root}"), file));
            }
        }
        if let Ok(bins) = std::fs::read_dir(dir.join("src/bin")) {
            for bin in bins.filter_map(|e| e.ok().map(|e| e.path())) {
                if bin.extension().is_some_and(|e| e == "rs") {
                    roots.push((format!("{name}/{}", bin.display()), bin));
                }
            }
        }
    }
    Ok(roots)
}

/// `file` (module `path`) and every module file it declares, recursively.
fn collect(
    file: &Path,
    owns_dir: bool,
    path: Vec<String>,
    files: &mut BTreeMap<Vec<String>, PathBuf>,
) -> std::io::Result<()> {
    let code = clean(&std::fs::read_to_string(file)?);
    let dir = match (owns_dir, file.parent(), file.file_stem()) {
        (true, Some(parent), _) => parent.to_path_buf(),
        (false, Some(parent), Some(stem)) => parent.join(stem),
        _ => return Ok(()),
    };
    for name in declared_modules(&code) {
        let (flat, nested) = (
            dir.join(format!("{name}.rs")),
            dir.join(&name).join("mod.rs"),
        );
        let mut child = path.clone();
        child.push(name);
        if flat.is_file() {
            collect(&flat, false, child, files)?;
        } else if nested.is_file() {
            collect(&nested, true, child, files)?;
        }
    }
    files.insert(path, file.to_path_buf());
    Ok(())
}

/// The names of `mod name;` declarations (inline `mod name { … }` blocks are part of
/// their file).
fn declared_modules(code: &str) -> Vec<String> {
    code.split([';', '{', '}'])
        .filter_map(|statement| {
            let words: Vec<&str> = statement.split_whitespace().collect();
            let at = words.iter().position(|w| *w == "mod")?;
            let name = *words.get(at + 1)?;
            let before_ok = words[..at]
                .iter()
                .all(|w| w.starts_with("pub") || w.starts_with("#["));
            (before_ok && words.len() == at + 2).then(|| name.to_string())
        })
        .collect()
}

/// `code` without comments, without the contents of string and char literals, and cut
/// before its unit tests.
fn clean(code: &str) -> String {
    let bytes = code.as_bytes();
    let mut out = String::with_capacity(code.len());
    let mut i = 0;
    while i < bytes.len() {
        let rest = &code[i..];
        if rest.starts_with("//") {
            i += rest.find('\n').unwrap_or(rest.len());
        } else if rest.starts_with("/*") {
            i += rest.find("*/").map_or(rest.len(), |end| end + 2);
        } else if let Some(hashes) = raw_string_start(rest) {
            let close = format!("\"{}", "#".repeat(hashes));
            let body = hashes + 2;
            i += rest[body..]
                .find(&close)
                .map_or(rest.len(), |end| body + end + close.len());
            out.push_str("\"\"");
        } else if rest.starts_with('"') {
            let mut j = 1;
            while j < rest.len() && rest.as_bytes()[j] != b'"' {
                j += if rest.as_bytes()[j] == b'\\' { 2 } else { 1 };
            }
            i += (j + 1).min(rest.len());
            out.push_str("\"\"");
        } else if let Some(escaped) = rest.strip_prefix("'\\") {
            i += escaped.find('\'').map_or(rest.len(), |end| end + 3);
            out.push_str("' '");
        } else if let Some(c) = rest[1..].chars().next()
            && rest.starts_with('\'')
            && rest[1 + c.len_utf8()..].starts_with('\'')
        {
            i += 2 + c.len_utf8();
            out.push_str("' '");
        } else {
            let c = rest.chars().next().unwrap_or(' ');
            out.push(c);
            i += c.len_utf8();
        }
    }
    let tests = out
        .match_indices("#[cfg(test)]")
        .map(|(at, _)| at)
        .find(|&at| out[at + 12..].trim_start().starts_with("mod "));
    if let Some(at) = tests {
        out.truncate(at);
    }
    out
}

/// `r"`, `r#"`, `br##"`…: the number of `#`s of a raw string starting here.
fn raw_string_start(rest: &str) -> Option<usize> {
    let rest = rest.strip_prefix('b').unwrap_or(rest).strip_prefix('r')?;
    let hashes = rest.len() - rest.trim_start_matches('#').len();
    rest[hashes..].starts_with('"').then_some(hashes)
}

/// The identifiers of `code`, where each starts.
fn word_starts(code: &str) -> Vec<(usize, &str)> {
    let mut words = Vec::new();
    let mut start = None;
    for (i, c) in code
        .char_indices()
        .chain(std::iter::once((code.len(), ' ')))
    {
        let ident = c.is_alphanumeric() || c == '_';
        match (ident, start) {
            (true, None) => start = Some(i),
            (false, Some(s)) => {
                let before = code[..s].chars().next_back();
                // `a::use` or `r#use` are not the keyword.
                if !matches!(before, Some(':' | '#')) {
                    words.push((s, &code[s..i]));
                }
                start = None;
            }
            _ => {}
        }
    }
    words
}

fn split(path: &str) -> Vec<String> {
    path.split("::")
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

/// One path a `use` tree brings in: the name it binds (none for a glob).
struct Import {
    path: Vec<String>,
    name: Option<String>,
}

/// Expands one use tree (`a::{b, c::d as e, self}`) after `prefix` into `out`.
fn expand(tree: &str, prefix: &mut Vec<String>, out: &mut Vec<Import>) {
    let tree = tree.trim().trim_start_matches("::");
    let Some(open) = tree.find('{') else {
        let (path, alias) = match tree.split_once(" as ") {
            Some((path, alias)) => (path, Some(alias.trim().to_string())),
            None => (tree, None),
        };
        let mut full = prefix.clone();
        let parts = split(path);
        let glob = parts.last().is_some_and(|p| p == "*");
        full.extend(parts.into_iter().filter(|s| s != "*" && s != "self"));
        let name = if glob {
            None
        } else {
            alias.or_else(|| full.last().cloned())
        };
        out.push(Import { path: full, name });
        return;
    };
    let depth = prefix.len();
    prefix.extend(split(&tree[..open]));
    let inner = &tree[open + 1..tree.rfind('}').unwrap_or(tree.len())];
    let mut level = 0;
    let mut start = 0;
    for (i, c) in inner
        .char_indices()
        .chain(std::iter::once((inner.len(), ',')))
    {
        match c {
            '{' => level += 1,
            '}' => level -= 1,
            ',' if level == 0 => {
                if !inner[start..i].trim().is_empty() {
                    expand(&inner[start..i], prefix, out);
                }
                start = i + 1;
            }
            _ => {}
        }
    }
    prefix.truncate(depth);
}

/// The module that defines what `path`, used in module `from`, names (following `use`
/// imports and re-exports); `None` for other crates' paths.
fn resolve(
    modules: &BTreeMap<Vec<String>, Items>,
    from: &[String],
    path: &[String],
    depth: usize,
) -> Option<Vec<String>> {
    let (first, rest) = path.split_first()?;
    let mut module: Vec<String> = match first.as_str() {
        "crate" => Vec::new(),
        "self" => from.to_vec(),
        "super" => from[..from.len().checked_sub(1)?].to_vec(),
        child => {
            let mut base = from.to_vec();
            base.push(child.to_string());
            if !modules.contains_key(&base) {
                return None;
            }
            base
        }
    };
    for (i, name) in rest.iter().enumerate() {
        if name == "super" {
            module.pop()?;
            continue;
        }
        let mut child = module.clone();
        child.push(name.clone());
        if modules.contains_key(&child) {
            module = child;
            continue;
        }
        let items = modules.get(&module)?;
        if items.defined.contains(name) || depth > 16 {
            return Some(module);
        }
        let tail = &rest[i + 1..];
        if let Some(target) = items.imported.get(name) {
            let full: Vec<String> = target.iter().chain(tail).cloned().collect();
            return resolve(modules, &module, &full, depth + 1).or(Some(module));
        }
        for glob in &items.globs {
            let full: Vec<String> = glob.iter().chain(&rest[i..]).cloned().collect();
            if let Some(found) = resolve(modules, &module, &full, depth + 1)
                && modules
                    .get(&found)
                    .is_some_and(|m| m.defined.contains(name))
            {
                return Some(found);
            }
        }
        return Some(module);
    }
    Some(module)
}

/// Tarjan's strongly connected components.
fn strongly_connected(edges: &BTreeMap<Module, BTreeSet<Module>>) -> Vec<Vec<Module>> {
    struct State<'a> {
        edges: &'a BTreeMap<Module, BTreeSet<Module>>,
        index: BTreeMap<&'a Module, (usize, usize)>,
        stack: Vec<&'a Module>,
        on_stack: BTreeSet<&'a Module>,
        next: usize,
        found: Vec<Vec<Module>>,
    }
    fn visit<'a>(s: &mut State<'a>, v: &'a Module) {
        s.index.insert(v, (s.next, s.next));
        s.next += 1;
        s.stack.push(v);
        s.on_stack.insert(v);
        for w in s.edges.get(v).into_iter().flatten() {
            if !s.index.contains_key(w) {
                visit(s, w);
                let low = s.index[w].1.min(s.index[v].1);
                s.index.entry(v).and_modify(|e| e.1 = low);
            } else if s.on_stack.contains(w) {
                let low = s.index[w].0.min(s.index[v].1);
                s.index.entry(v).and_modify(|e| e.1 = low);
            }
        }
        if s.index[v].0 == s.index[v].1 {
            let mut component = Vec::new();
            while let Some(w) = s.stack.pop() {
                s.on_stack.remove(w);
                component.push(w.clone());
                if w == v {
                    break;
                }
            }
            component.sort();
            s.found.push(component);
        }
    }
    let mut state = State {
        edges,
        index: BTreeMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        next: 0,
        found: Vec::new(),
    };
    for v in edges.keys() {
        if !state.index.contains_key(v) {
            visit(&mut state, v);
        }
    }
    state.found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_modules_use_each_other() {
        let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let circles = circles(&workspace).expect("the workspace's sources are readable");
        assert!(
            circles.is_empty(),
            "modules that use each other (move what both need into a third, or one into the other):\n{}",
            circles
                .iter()
                .map(|c| c.join("\n  "))
                .collect::<Vec<_>>()
                .join("\n\n")
        );
    }

    #[test]
    fn use_trees_expand() {
        let mut out = Vec::new();
        expand(
            "crate::a::{b, c::{d as e, self}, f::*}",
            &mut Vec::new(),
            &mut out,
        );
        let out: Vec<(String, Option<String>)> = out
            .into_iter()
            .map(|i| (i.path.join("::"), i.name))
            .collect();
        let name = |n: &str| Some(n.to_string());
        assert_eq!(
            out,
            [
                ("crate::a::b".to_string(), name("b")),
                ("crate::a::c::d".to_string(), name("e")),
                ("crate::a::c".to_string(), name("c")),
                ("crate::a::f".to_string(), None),
            ]
        );
    }

    #[test]
    fn paths_name_the_module_that_defines_the_item() {
        let v = |p: &[&str]| p.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let modules = BTreeMap::from([
            (v(&[]), Items::of("mod a; mod b; pub use a::Thing;")),
            (v(&["a"]), Items::of("pub struct Thing;")),
            (
                v(&["b"]),
                Items::of("use crate::Thing; fn f() { super::a::g(); }"),
            ),
        ]);
        let used = &modules[&v(&["b"])].used;
        let to: Vec<_> = used
            .iter()
            .map(|p| resolve(&modules, &v(&["b"]), p, 0))
            .collect();
        assert_eq!(to, [Some(v(&["a"])), Some(v(&["a"]))]);
        let module = |p: &str| Module {
            krate: "k".into(),
            path: vec![p.to_string()],
        };
        let edges = BTreeMap::from([
            (module("a"), BTreeSet::from([module("b")])),
            (module("b"), BTreeSet::from([module("a")])),
        ]);
        assert_eq!(
            strongly_connected(&edges)
                .iter()
                .filter(|c| c.len() > 1)
                .count(),
            1
        );
    }

    #[test]
    fn comments_strings_and_tests_are_not_code() {
        let code = "use crate::a; // crate::b\nlet s = \"crate::c\"; let c = '\"';\n#[cfg(test)]\nmod tests { use crate::d; }";
        let used: Vec<String> = Items::of(&clean(code))
            .used
            .iter()
            .map(|p| p.join("::"))
            .collect();
        assert_eq!(used, ["crate::a"]);
    }
}
