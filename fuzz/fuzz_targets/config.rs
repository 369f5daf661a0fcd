//! Fuzz target: arbitrary text loaded as a config file through `doorman_config::load_str`, the
//! function `doorman check`, startup and every reload go through.
//!
//! Oracles: loading never panics or hangs; a refused file carries at least one error (the server
//! keeps its old config on a refusal, so a refusal with nothing to show would be a silent one);
//! every diagnostic and the whole report render; every span lies inside the text with its start
//! before its end (tools underline with it).
//!
//! The text is named `<temp dir>/doorman.toml`, so the relative paths it gives (list files, TLS
//! and secret files, `data_dir`) resolve inside a directory this process makes for itself and
//! removes at exit. Loading only reads (the server, not the loader, creates `data_dir` and the
//! files in it), so the only writes are the fixtures placed in that directory: the example's list
//! file, a JWT secret and empty TLS files, which let inputs get past "file not found".

#![no_main]

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use doorman_config::{Diagnostic, load_str};
use libfuzzer_sys::fuzz_target;

/// Inputs naming these are skipped: `/dev/zero` or `/dev/stdin` as a list file never ends, and
/// `/proc/kcore` is huge, so reading one is a hang or an out-of-memory report about this machine,
/// not about the loader (which, like any program, reads the files its operator names).
const SPECIAL_PATHS: [&str; 3] = ["/dev", "/proc", "/sys"];

static DIR: OnceLock<PathBuf> = OnceLock::new();

unsafe extern "C" {
    /// libc's `atexit`: libFuzzer ends a run with `exit()`, which skips Rust destructors, so the
    /// directory is removed from a C exit handler instead. A crash (which exits without running
    /// them) leaves the directory behind, next to the crash input that explains it.
    fn atexit(handler: extern "C" fn()) -> std::ffi::c_int;
}

extern "C" fn remove_dir() {
    if let Some(dir) = DIR.get() {
        let _ = std::fs::remove_dir_all(dir);
    }
}

/// This process's directory, with the fixtures in it.
fn dir() -> &'static Path {
    DIR.get_or_init(|| {
        let dir = tempfile::Builder::new()
            .prefix("doorman-fuzz-config-")
            .tempdir()
            .expect("a temporary directory")
            .keep();
        // SAFETY: registers a plain function with no arguments, as atexit expects.
        unsafe { atexit(remove_dir) };
        let fixtures: [(&str, &[u8]); 4] = [
            (
                "lists/abuse.netset",
                include_bytes!("../../examples/lists/abuse.netset"),
            ),
            // Long enough for HS512, the strictest HMAC algorithm.
            ("jwt.secret", &[b'k'; 64]),
            // Only checked for being readable at load time.
            ("cert.pem", b""),
            ("key.pem", b""),
        ];
        for (name, bytes) in fixtures {
            let path = dir.join(name);
            std::fs::create_dir_all(path.parent().expect("inside the directory"))
                .expect("fixture directory");
            std::fs::write(&path, bytes).expect("fixture file");
        }
        dir
    })
}

fn check(text: &str, d: &Diagnostic) {
    let shown = d.to_string();
    if let Some(span) = &d.span {
        assert!(
            span.start <= span.end && span.end <= text.len(),
            "span {span:?} is not inside the {}-byte text: {shown}",
            text.len()
        );
    }
}

fuzz_target!(|data: &[u8]| {
    // A config file that is not UTF-8 is refused before parsing (`load` reads it as a String).
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if SPECIAL_PATHS.iter().any(|p| text.contains(p)) {
        return;
    }
    match load_str(text, dir().join("doorman.toml")) {
        Ok(loaded) => {
            for w in &loaded.warnings {
                check(text, w);
            }
        }
        Err(diagnostics) => {
            assert!(
                diagnostics.errors().next().is_some(),
                "refused without an error:\n{diagnostics}"
            );
            for d in &diagnostics.items {
                check(text, d);
            }
            let _ = diagnostics.to_string();
        }
    }
});
