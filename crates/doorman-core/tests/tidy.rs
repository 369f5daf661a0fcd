//! Repository hygiene that a reviewer would otherwise check by hand: every source file says what
//! it is for, and every error code is documented.

use std::path::{Path, PathBuf};

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
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

#[test]
fn every_library_and_binary_source_file_opens_with_a_module_doc() {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(workspace_root().join("crates"))
        .unwrap()
        .flatten()
    {
        rust_files(&entry.path().join("src"), &mut files);
    }
    assert!(files.len() > 20, "found only {} files", files.len());
    let missing: Vec<String> = files
        .iter()
        .filter(|f| {
            let text = std::fs::read_to_string(f).unwrap();
            !text.trim_start().starts_with("//!")
        })
        .map(|f| f.display().to_string())
        .collect();
    assert!(
        missing.is_empty(),
        "files without a //! paragraph on their role:\n{}",
        missing.join("\n")
    );
}

#[test]
fn every_code_is_in_docs_errors_md() {
    let doc = std::fs::read_to_string(workspace_root().join("docs/errors.md")).unwrap();
    for code in doorman_core::Code::ALL {
        let cell = format!("| `{}` |", code.as_str());
        assert!(doc.contains(&cell), "docs/errors.md has no row for {code}");
    }
}
