//! The code's layout rules that a reader relies on: no two files of the helper or of the app
//! import each other, however indirectly (docs/architecture.md, "No import cycles").

use ssobar_testkit::workspace_root;
use std::collections::{BTreeMap, BTreeSet};

/// Each file of a flat source folder (by module name) and the sibling modules it uses through
/// `crate::NAME`, comments and `#[cfg(test)]` modules left out.
fn imports(folder: &str) -> BTreeMap<String, BTreeSet<String>> {
    let dir = workspace_root().join(folder);
    let sources: BTreeMap<String, String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|e| e == "rs"))
        .map(|path| {
            let name = path.file_stem().unwrap().to_string_lossy().into_owned();
            (name, std::fs::read_to_string(&path).unwrap())
        })
        .collect();
    let mut graph = BTreeMap::new();
    for (name, text) in &sources {
        let code: String = text
            .split("#[cfg(test)]")
            .next()
            .unwrap_or_default()
            .lines()
            .filter(|line| !line.trim_start().starts_with("//"))
            .collect::<Vec<_>>()
            .join("\n");
        let mut used = BTreeSet::new();
        for (at, _) in code.match_indices("crate::") {
            let rest = &code[at + "crate::".len()..];
            // `crate::{a, b::c}` names several.
            let names: Vec<&str> = match rest.strip_prefix('{') {
                Some(group) => group
                    .split('}')
                    .next()
                    .unwrap_or_default()
                    .split(',')
                    .collect(),
                None => vec![rest],
            };
            for path in names {
                let module: String = path
                    .trim()
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect();
                if module != *name && sources.contains_key(&module) {
                    used.insert(module);
                }
            }
        }
        graph.insert(name.clone(), used);
    }
    graph
}

/// A circle of imports, if there is one: the files on it, in order.
fn a_circle(graph: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        node: &str,
        graph: &BTreeMap<String, BTreeSet<String>>,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(at) = path.iter().position(|n| n == node) {
            let mut circle = path[at..].to_vec();
            circle.push(node.to_owned());
            return Some(circle);
        }
        if done.contains(node) {
            return None;
        }
        path.push(node.to_owned());
        for next in &graph[node] {
            if let Some(circle) = visit(next, graph, path, done) {
                return Some(circle);
            }
        }
        path.pop();
        done.insert(node.to_owned());
        None
    }
    let mut done = BTreeSet::new();
    graph
        .keys()
        .find_map(|node| visit(node, graph, &mut Vec::new(), &mut done))
}

#[test]
fn the_circle_finder_finds_one() {
    let graph: BTreeMap<String, BTreeSet<String>> = [
        ("a", vec!["b"]),
        ("b", vec!["c"]),
        ("c", vec!["a"]),
        ("d", vec![]),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.into_iter().map(str::to_owned).collect()))
    .collect();
    assert_eq!(a_circle(&graph).unwrap(), ["a", "b", "c", "a"]);
}

#[test]
fn no_two_files_of_the_helper_or_the_app_import_each_other() {
    for folder in ["crates/cli/src", "src-tauri/src"] {
        let graph = imports(folder);
        assert!(graph.len() > 5, "{folder}: {graph:?}");
        assert_eq!(a_circle(&graph), None, "{folder} has an import circle");
    }
}
