//! The layout rules of DESIGN.md §8, checked on the source tree: each API document is a bounded
//! context (a folder per layer) that never names another document's module, and the neutral
//! modules (the engine, `shared`, `identity`, the HTTP plumbing) name no document at all.
//!
//! It reads the sources as text: a path such as `crate::openticket::` or
//! `tessera_projections::meeting::` inside another context's folder is a violation, whether in a
//! `use` line or inline.

#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::fs;
use std::path::{Path, PathBuf};

/// The API documents' contexts. `identity` and `shared` serve all of them and are neutral.
const DOCUMENTS: [&str; 5] = ["openticket", "meeting", "shop", "courtesy", "plans"];

/// The crates, by folder.
const LAYERS: [&str; 5] = [
    "domain",
    "application",
    "infrastructure",
    "projections",
    "api",
];

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the tests crate lives in the workspace")
        .to_path_buf()
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// Lines of `file` that name the module of a document in `forbidden` (`crate::x::`, `super::x::`
/// cannot reach across contexts, so only absolute paths are looked for), comments skipped.
fn offending_lines(file: &Path, forbidden: &[&str]) -> Vec<String> {
    let text = fs::read_to_string(file).unwrap_or_default();
    let mut hits = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let code = line.trim_start();
        if code.starts_with("//") {
            continue;
        }
        for doc in forbidden {
            let patterns = [
                format!("crate::{doc}::"),
                format!("crate::{doc};"),
                format!("tessera_domain::{doc}::"),
                format!("tessera_application::{doc}::"),
                format!("tessera_infrastructure::{doc}::"),
                format!("tessera_projections::{doc}::"),
                format!("tessera_api::{doc}::"),
            ];
            if patterns.iter().any(|p| line.contains(p.as_str())) {
                hits.push(format!("{}:{}: {}", file.display(), n + 1, line.trim()));
            }
        }
    }
    hits
}

/// Every violation in the tree: (document folder, other document it names) pairs, and neutral
/// modules naming any document.
fn violations(root: &Path) -> Vec<String> {
    let mut found = Vec::new();
    for layer in LAYERS {
        let src = root.join(layer).join("src");
        for doc in DOCUMENTS {
            let others: Vec<&str> = DOCUMENTS.iter().copied().filter(|o| *o != doc).collect();
            let mut files = Vec::new();
            rust_files(&src.join(doc), &mut files);
            for file in files {
                found.extend(offending_lines(&file, &others));
            }
        }
        for neutral in ["shared", "identity", "http"] {
            let mut files = Vec::new();
            rust_files(&src.join(neutral), &mut files);
            for file in files {
                found.extend(offending_lines(&file, &DOCUMENTS));
            }
        }
    }
    // The engine's own modules (everything at the top of application/src and projections/src
    // that is not a context folder) know no document either.
    for layer in ["application", "projections"] {
        let src = root.join(layer).join("src");
        for entry in fs::read_dir(&src).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.extension().is_some_and(|e| e == "rs")
                && path.file_name().is_some_and(|n| n != "lib.rs")
            {
                found.extend(offending_lines(&path, &DOCUMENTS));
            }
        }
    }
    found
}

#[test]
fn no_document_names_another_documents_module() {
    let found = violations(&root());
    assert!(
        found.is_empty(),
        "a document's module (or a neutral one) names another document's module; shared things \
         belong in `shared`, `identity` or `api/src/http` (DESIGN.md §8):\n{}",
        found.join("\n")
    );
}

#[test]
fn the_check_finds_a_crossing() {
    let dir = tempfile::tempdir().expect("temporary folder");
    let meeting = dir.path().join("api/src/meeting");
    fs::create_dir_all(&meeting).expect("folders");
    fs::write(
        meeting.join("orders.rs"),
        "// crate::openticket::common is only mentioned here\nuse crate::openticket::common::caught_up;\n",
    )
    .expect("write");
    let http = dir.path().join("api/src/http");
    fs::create_dir_all(&http).expect("folders");
    fs::write(
        http.join("auth.rs"),
        "fn f() { tessera_projections::meeting::x(); }\n",
    )
    .expect("write");
    let found = violations(dir.path());
    assert_eq!(found.len(), 2, "{found:#?}");
    assert!(found[0].contains("orders.rs:2"), "{found:#?}");
    assert!(found[1].contains("auth.rs:1"), "{found:#?}");
}

#[test]
fn the_event_store_port_does_not_import_the_deadline_scheduler() {
    let text = fs::read_to_string(root().join("application/src/event_store.rs"))
        .expect("application/src/event_store.rs");
    assert!(
        !text.contains("crate::deadlines"),
        "event_store.rs and deadlines.rs must not import each other: `NewDeadline` lives with the \
         append request in event_store.rs"
    );
}
