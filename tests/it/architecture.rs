//! The module tree's dependency rule (crate docs, "Where things are"): top-level modules depend
//! one way, `token` ← `store` ← `trust` ← `http` ← `auth` ← `session` (and `telemetry`
//! under all but `token`). Read from the sources: every `crate::<module>` path in code
//! (comments and `#[cfg(test)] mod tests` blocks aside, as unit tests may use the facade)
//! must name the module itself or one it may depend on, and code never names an item
//! through the crate root (which would hide the edge).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// What each top-level module may use.
const ALLOWED: &[(&str, &[&str])] = &[
    ("token", &[]),
    ("telemetry", &["token"]),
    ("store", &["token", "telemetry"]),
    ("trust", &["token", "store", "telemetry"]),
    ("http", &["token", "trust", "store", "telemetry"]),
    ("auth", &["token", "trust", "store", "http", "telemetry"]),
    (
        "session",
        // `password`: the password login route checks hashes (a leaf: it uses nothing).
        &[
            "token",
            "trust",
            "store",
            "http",
            "auth",
            "telemetry",
            "password",
        ],
    ),
    ("password", &[]),
    // Documentation only: the manual's pages hold no code.
    ("manual", &[]),
    (
        "testing",
        &["token", "trust", "store", "http", "auth", "session"],
    ),
];

fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// `(module used, line)` for every `crate::<name>` in `code`.
fn uses(code: &str) -> Vec<(String, usize)> {
    let mut found = Vec::new();
    for (n, line) in code.lines().enumerate() {
        if line.trim_start().starts_with("//") {
            continue;
        }
        let mut rest = line;
        while let Some(i) = rest.find("crate::") {
            rest = &rest[i + "crate::".len()..];
            let name: String = rest
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            found.push((name, n + 1));
        }
    }
    found
}

#[test]
fn top_level_modules_depend_one_way() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let allowed: BTreeMap<&str, &[&str]> = ALLOWED.iter().copied().collect();
    let mut files = Vec::new();
    sources(&root, &mut files);
    let mut violations = Vec::new();
    let mut seen = 0;
    for file in files {
        let rel = file
            .strip_prefix(&root)
            .unwrap()
            .to_string_lossy()
            .into_owned();
        if rel == "lib.rs" {
            continue;
        }
        let top = rel.split(['/', '.']).next().unwrap().to_owned();
        let may = allowed
            .get(top.as_str())
            .unwrap_or_else(|| panic!("{rel}: top-level module {top} is not in ALLOWED"));
        let text = std::fs::read_to_string(&file).unwrap();
        let code = text.split("#[cfg(test)]\nmod tests").next().unwrap();
        for (used, line) in uses(code) {
            seen += 1;
            if used == top || used == "__private" {
                continue;
            }
            if used.starts_with(|c: char| c.is_ascii_uppercase())
                || !allowed.contains_key(used.as_str())
            {
                violations.push(format!(
                    "{rel}:{line}: crate::{used} (name items by module)"
                ));
            } else if !may.contains(&used.as_str()) {
                violations.push(format!("{rel}:{line}: {top} -> {used}"));
            }
        }
    }
    assert!(
        seen > 100,
        "the scan found only {seen} paths: is it reading src/?"
    );
    assert!(
        violations.is_empty(),
        "dependency rule broken:\n{}",
        violations.join("\n")
    );
}

#[test]
fn the_scan_sees_a_forbidden_edge() {
    // The checker itself can fail: a `token` file naming `crate::http` is reported.
    let found = uses(
        "use crate::http::AuthError;\n    // crate::session, in a comment\nlet b = crate::auth::TokenAuth::builder();",
    );
    assert_eq!(found, vec![("http".to_owned(), 1), ("auth".to_owned(), 3)]);
}
