//! The server's layers, read from its sources: nothing below `http/` speaks HTTP or imports
//! it, and no chain of imports leads from `http/` back into `http/`. `docs/architecture.md`
//! describes the layers this test keeps.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

const SRC: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/src");

/// The composition root: it mounts the router, so it is the one module above `http`.
const ROOT: &str = "startup";

/// Every `.rs` file under `dir`.
fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("src readable") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The top-level module a source file belongs to (`http/pages/forms.rs` → `http`).
fn module_of(path: &Path) -> String {
    let rel = path.strip_prefix(SRC).expect("under src");
    let first = rel.components().next().expect("a component");
    first
        .as_os_str()
        .to_string_lossy()
        .trim_end_matches(".rs")
        .to_string()
}

/// The top-level modules a file names as `crate::<module>`.
fn named(text: &str, modules: &BTreeSet<String>) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for (i, _) in text.match_indices("crate::") {
        // `formwork::crate::` never occurs; skip `$crate::` of macros.
        if text[..i].ends_with('$') {
            continue;
        }
        let rest = &text[i + "crate::".len()..];
        let name: String = rest
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect();
        if modules.contains(&name) {
            out.insert(name);
        }
    }
    out
}

/// Lines that are neither comments nor doc comments (a doc link is not an import).
fn code(text: &str) -> String {
    text.lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Top-level module → the modules it imports.
type Edges = BTreeMap<String, BTreeSet<String>>;

/// The module graph, and each source file's code.
fn graph() -> (Edges, Vec<(PathBuf, String)>) {
    let mut files = Vec::new();
    sources(Path::new(SRC), &mut files);
    let modules: BTreeSet<String> = files
        .iter()
        .map(|f| module_of(f))
        .filter(|m| m != "lib" && m != "main")
        .collect();
    let mut edges: Edges = BTreeMap::new();
    let mut texts = Vec::new();
    for f in &files {
        let from = module_of(f);
        let text = code(&std::fs::read_to_string(f).expect("readable"));
        let to = named(&text, &modules);
        edges
            .entry(from.clone())
            .or_default()
            .extend(to.into_iter().filter(|m| *m != from));
        texts.push((f.clone(), text));
    }
    (edges, texts)
}

#[test]
fn only_the_composition_root_imports_http() {
    let (edges, _) = graph();
    let importers: Vec<&String> = edges
        .iter()
        .filter(|(m, to)| to.contains("http") && *m != ROOT && *m != "lib" && *m != "main")
        .map(|(m, _)| m)
        .collect();
    assert!(
        importers.is_empty(),
        "modules below http import it: {importers:?}"
    );
}

#[test]
fn no_import_chain_leads_from_http_back_to_http() {
    let (edges, _) = graph();
    // Everything http reaches, transitively.
    let mut seen = BTreeSet::new();
    let mut todo: Vec<String> = edges.get("http").into_iter().flatten().cloned().collect();
    let mut via: BTreeMap<String, String> = BTreeMap::new();
    for m in &todo {
        via.insert(m.clone(), "http".into());
    }
    while let Some(m) = todo.pop() {
        if !seen.insert(m.clone()) {
            continue;
        }
        for next in edges.get(&m).into_iter().flatten() {
            via.entry(next.clone()).or_insert_with(|| m.clone());
            todo.push(next.clone());
        }
    }
    if seen.contains("http") {
        let mut chain = vec!["http".to_string()];
        let mut at = via["http"].clone();
        while at != "http" {
            chain.push(at.clone());
            at = via[&at].clone();
        }
        chain.push("http".into());
        chain.reverse();
        panic!("an import circle runs through http: {}", chain.join(" → "));
    }
}

#[test]
fn nothing_below_http_speaks_http() {
    let (_, texts) = graph();
    let offenders: Vec<String> = texts
        .iter()
        .filter(|(f, _)| {
            let m = module_of(f);
            m != "http" && m != ROOT && m != "bench"
        })
        .filter(|(_, t)| {
            t.contains("axum::") || t.contains("StatusCode") || t.contains("IntoResponse")
        })
        .map(|(f, _)| f.strip_prefix(SRC).unwrap().display().to_string())
        .collect();
    assert!(
        offenders.is_empty(),
        "files below http use HTTP types: {offenders:?}"
    );
}
