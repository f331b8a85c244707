//! The module layering of src/lib.rs, checked on the source: every `crate::` path each
//! top-level module names (in `use` lines and inline), test code included. The arrows
//! point down only; `cargo test --test layering -- --nocapture` prints the listing.

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
    let mut names = BTreeSet::new();
    let mut rest = code;
    while let Some(at) = rest.find("crate::") {
        rest = &rest[at + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
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
        } else {
            names.extend(first_segment(rest));
        }
    }
    names
}

fn first_segment(path: &str) -> Option<String> {
    let name: String = path
        .trim_start()
        .chars()
        .take_while(|c| c.is_alphanumeric() || *c == '_')
        .collect();
    (!name.is_empty() && name != "self").then_some(name)
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
}
