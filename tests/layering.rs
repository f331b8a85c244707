//! The module layering of src/lib.rs, checked on the source: every `crate::` path each
//! top-level module names (in `use` lines and inline), test code included. The arrows
//! point down only; `cargo test --test layering -- --nocapture` prints the listing.
//! Inside the engine, the modules' `super::` imports form no cycle either.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// What each module may name, besides itself and the test-only `testutil`.
const ALLOWED: &[(&str, &[&str])] = &[
    ("crypto", &[]),
    ("isakmp", &["crypto"]),
    ("ipsec", &["crypto"]),
    ("ike", &["ipsec", "crypto", "isakmp"]),
    ("dataplane", &["ipsec", "crypto"]),
    ("config", &["ike", "dataplane", "ipsec", "crypto", "isakmp"]),
    (
        "daemon",
        &["config", "ike", "dataplane", "ipsec", "crypto", "isakmp"],
    ),
    (
        "cli",
        &[
            "daemon",
            "config",
            "ike",
            "dataplane",
            "ipsec",
            "crypto",
            "isakmp",
        ],
    ),
];

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The code of a file without its comments (doc comments name modules in prose).
fn code(text: &str) -> String {
    text.lines()
        .map(|l| match l.find("//") {
            Some(i) => &l[..i],
            None => l,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The first path segment of every item `crate::` names in `code`, including each
/// member of a `crate::{a, b::c}` group.
fn crate_paths(code: &str) -> BTreeSet<String> {
    paths_after(code, "crate::")
}

/// The first path segment after every `prefix` (`crate::`, `super::`) in `code`.
fn paths_after(code: &str, prefix: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    for (at, _) in code.match_indices(prefix) {
        let before = code[..at].chars().next_back();
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':') {
            // `super::super::`, or a path that only ends in the prefix's word.
            continue;
        }
        let rest = &code[at + prefix.len()..];
        let Some(group) = rest.strip_prefix('{') else {
            names.extend(first_segment(rest));
            continue;
        };
        let mut depth = 0;
        let mut item = String::new();
        for c in group.chars() {
            match c {
                '{' => depth += 1,
                '}' if depth == 0 => break,
                '}' => depth -= 1,
                ',' if depth == 0 => {
                    names.extend(first_segment(&item));
                    item.clear();
                    continue;
                }
                _ => {}
            }
            item.push(c);
        }
        names.extend(first_segment(&item));
    }
    names
}

fn first_segment(path: &str) -> Option<String> {
    let name: String = path
        .trim_start()
        .chars()
        .take_while(|c| c.is_alphanumeric() || *c == '_')
        .collect();
    (!name.is_empty() && name != "self" && name != "super").then_some(name)
}

/// Top-level module -> the other top-level modules it names.
fn graph() -> BTreeMap<String, BTreeSet<String>> {
    let root = src();
    let mut files = Vec::new();
    rust_files(&root, &mut files);
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for file in files {
        let rel = file.strip_prefix(&root).unwrap();
        let module = rel
            .components()
            .next()
            .unwrap()
            .as_os_str()
            .to_string_lossy()
            .trim_end_matches(".rs")
            .to_string();
        if ["lib", "main", "testutil"].contains(&module.as_str()) {
            continue;
        }
        let named = crate_paths(&code(&std::fs::read_to_string(&file).unwrap()));
        graph.entry(module.clone()).or_default().extend(
            named
                .into_iter()
                .filter(|n| *n != module && n != "testutil"),
        );
    }
    graph
}

#[test]
fn modules_import_only_the_layers_below_them() {
    let graph = graph();
    let mut wrong = Vec::new();
    for (module, deps) in &graph {
        println!(
            "{module:<10} -> {}",
            Vec::from_iter(deps.iter().cloned()).join(", ")
        );
        let Some((_, allowed)) = ALLOWED.iter().find(|(m, _)| m == module) else {
            wrong.push(format!("{module} is not in the layering table"));
            continue;
        };
        for dep in deps.iter().filter(|d| !allowed.contains(&d.as_str())) {
            wrong.push(format!("{module} names crate::{dep}"));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    // The lower layers, as the design states them.
    let names = |m: &str| Vec::from_iter(graph[m].iter().map(String::as_str));
    assert_eq!(names("ike"), ["crypto", "ipsec", "isakmp"]);
    assert_eq!(names("dataplane"), ["crypto", "ipsec"]);
    assert_eq!(names("ipsec"), ["crypto"]);
}

/// The engine's modules (src/ike/*.rs and src/ike/*/, its scenario tests aside) and
/// the siblings each one names through `super::` (`super::super::` from a file of a
/// directory module). Items of `ike` itself (`super::Engine`, which every exchange
/// extends) are not modules and do not count.
fn engine_graph() -> BTreeMap<String, BTreeSet<String>> {
    let dir = src().join("ike");
    let mut files: BTreeMap<String, Vec<(PathBuf, String)>> = BTreeMap::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_stem().unwrap().to_string_lossy().into_owned();
        if path.is_dir() && name != "tests" {
            let mut inner = Vec::new();
            rust_files(&path, &mut inner);
            for file in inner {
                let depth = file.strip_prefix(&path).unwrap().components().count();
                let up = if file.ends_with("mod.rs") {
                    depth
                } else {
                    depth + 1
                };
                files
                    .entry(name.clone())
                    .or_default()
                    .push((file, "super::".repeat(up)));
            }
        } else if path.extension().is_some_and(|e| e == "rs") && name != "mod" {
            files
                .entry(name)
                .or_default()
                .push((path, "super::".into()));
        }
    }
    let modules: BTreeSet<String> = files.keys().cloned().collect();
    files
        .into_iter()
        .map(|(m, sources)| {
            let named = sources
                .iter()
                .flat_map(|(file, prefix)| {
                    paths_after(&code(&std::fs::read_to_string(file).unwrap()), prefix)
                })
                .filter(|n| *n != m && modules.contains(n))
                .collect();
            (m, named)
        })
        .collect()
}

/// A cycle in `graph`, if there is one (depth-first search).
fn cycle(graph: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        node: &str,
        graph: &BTreeMap<String, BTreeSet<String>>,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(at) = path.iter().position(|n| n == node) {
            let mut found = path[at..].to_vec();
            found.push(node.to_string());
            return Some(found);
        }
        if done.contains(node) {
            return None;
        }
        path.push(node.to_string());
        for next in graph.get(node).into_iter().flatten() {
            if let Some(found) = visit(next, graph, path, done) {
                return Some(found);
            }
        }
        path.pop();
        done.insert(node.to_string());
        None
    }
    let mut done = BTreeSet::new();
    graph
        .keys()
        .find_map(|n| visit(n, graph, &mut Vec::new(), &mut done))
}

#[test]
fn the_engine_modules_import_each_other_without_cycles() {
    let graph = engine_graph();
    for (module, deps) in &graph {
        println!(
            "ike::{module:<11} -> {}",
            Vec::from_iter(deps.iter().cloned()).join(", ")
        );
    }
    assert!(graph.contains_key("phase1") && graph.contains_key("quick_mode"));
    if let Some(found) = cycle(&graph) {
        panic!("import cycle in src/ike: {}", found.join(" -> "));
    }
    // The ISAKMP SA record sits below every exchange that works on it.
    for exchange in [
        "main_mode",
        "quick_mode",
        "info",
        "liveness",
        "child",
        "rekey",
    ] {
        assert!(graph[exchange].contains("phase1"), "{exchange}");
    }
}

#[test]
fn the_path_parser_sees_groups_and_inline_paths() {
    let named = crate_paths(
        "use crate::{ike::{Action, Engine}, dataplane};\nlet x = crate::ipsec::Direction::In;",
    );
    assert_eq!(
        Vec::from_iter(named),
        ["dataplane", "ike", "ipsec"].map(String::from)
    );
    assert!(crate_paths(&code("// crate::daemon is above\nfn f() {}")).is_empty());
    let named = paths_after(
        "use super::{child::Agreed, Engine};\nsuper::super::x",
        "super::",
    );
    assert_eq!(Vec::from_iter(named), ["Engine", "child"].map(String::from));
    let looped = BTreeMap::from([
        ("a".to_string(), BTreeSet::from(["b".to_string()])),
        ("b".to_string(), BTreeSet::from(["a".to_string()])),
    ]);
    assert_eq!(cycle(&looped).unwrap(), ["a", "b", "a"]);
}
