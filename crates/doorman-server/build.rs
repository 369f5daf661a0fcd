//! Build script: the git commit (and its date) the gateway is built from, for
//! `doorman_build_info` and `doorman --version` (`doorman_server::build`).
//!
//! `DOORMAN_COMMIT` and `DOORMAN_COMMIT_DATE` in the build's environment win, for builds from a
//! source archive; otherwise git is asked; without either, both are "unknown".

use std::path::Path;
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-env-changed=DOORMAN_COMMIT");
    println!("cargo:rerun-if-env-changed=DOORMAN_COMMIT_DATE");
    let commit = from_env("DOORMAN_COMMIT").or_else(|| git(&["rev-parse", "--short", "HEAD"]));
    let date =
        from_env("DOORMAN_COMMIT_DATE").or_else(|| git(&["log", "-1", "--format=%cs", "HEAD"]));
    if commit.is_some() {
        watch_head();
    }
    println!(
        "cargo:rustc-env=DOORMAN_COMMIT={}",
        commit.as_deref().unwrap_or("unknown")
    );
    println!(
        "cargo:rustc-env=DOORMAN_COMMIT_DATE={}",
        date.as_deref().unwrap_or("unknown")
    );
}

fn from_env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git").args(args).output().ok()?;
    let text = String::from_utf8(out.stdout).ok()?.trim().to_owned();
    (out.status.success() && !text.is_empty()).then_some(text)
}

/// Reruns this script when HEAD moves: a commit, a checkout, a branch update. Only files that
/// exist are named, since Cargo reruns on every build for a missing one.
fn watch_head() {
    let mut files = vec!["HEAD".to_owned(), "packed-refs".to_owned()];
    // In a worktree, the branch's ref lives in the common directory; `--git-path` knows where.
    if let Some(branch) = git(&["symbolic-ref", "-q", "HEAD"]) {
        files.push(branch);
    }
    for file in files {
        if let Some(path) = git(&["rev-parse", "--git-path", &file])
            && Path::new(&path).exists()
        {
            println!("cargo:rerun-if-changed={path}");
        }
    }
}
