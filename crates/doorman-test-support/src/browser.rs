//! Headless Chromium for tests that need a real browser: one set of flags, a fresh profile per
//! launch (no state leaks between tests, no first-run or background traffic), and the three ways
//! tests use it: the rendered DOM, a screenshot, or a browser left running (killed on drop).
//!
//! A missing `chromium` fails the test with how to install it: a skipped browser test would
//! report green while checking nothing.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

use tempfile::TempDir;

/// The flags every launch uses: headless, no sandbox (tests run as root in CI containers), and
/// nothing that talks to the network on its own or waits for a person.
pub const FLAGS: &[&str] = &[
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-extensions",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
];

/// A Chromium about to be launched, with its own fresh profile directory.
pub struct Chromium {
    command: Command,
    profile: TempDir,
}

/// A launched Chromium: killed on drop, its profile removed after it.
pub struct Browser {
    pub child: Child,
    _profile: TempDir,
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A headless Chromium with [`FLAGS`] and a fresh `--user-data-dir`.
pub fn chromium() -> Chromium {
    let profile = tempfile::tempdir().unwrap();
    let mut command = Command::new("chromium");
    command
        .args(FLAGS)
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .stdin(Stdio::null());
    Chromium { command, profile }
}

fn missing(e: std::io::Error) -> ! {
    panic!(
        "cannot start chromium ({e}); install it (apt-get install chromium) or run scripts/test.sh"
    )
}

impl Chromium {
    /// One more flag, such as `--window-size=900,700`.
    pub fn arg(mut self, arg: impl AsRef<std::ffi::OsStr>) -> Self {
        self.command.arg(arg);
        self
    }

    /// Loads `url` and returns the DOM after the page's scripts ran (`--dump-dom`).
    pub fn dump_dom(mut self, url: &str) -> String {
        let out = self.output(&["--dump-dom"], url);
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Saves a screenshot of `url` at `shot` (replacing an older one), checks the browser
    /// succeeded and the file holds more than `min_bytes` (an empty page is a few hundred), and
    /// names it on stderr for review.
    pub fn screenshot(mut self, url: &str, shot: &Path, min_bytes: u64) {
        let _ = std::fs::remove_file(shot);
        let out = self.output(&[&format!("--screenshot={}", shot.display())], url);
        assert!(out.status.success(), "chromium failed on {url}");
        assert!(
            std::fs::metadata(shot).is_ok_and(|m| m.len() > min_bytes),
            "no screenshot at {}",
            shot.display()
        );
        eprintln!("screenshot: {}", shot.display());
    }

    fn output(&mut self, args: &[&str], url: &str) -> Output {
        self.command
            .args(args)
            .arg(url)
            .stderr(Stdio::null())
            .output()
            .unwrap_or_else(|e| missing(e))
    }

    /// Opens `url` and leaves the browser running.
    pub fn spawn(mut self, url: &str) -> Browser {
        let child = self
            .command
            .arg(url)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| missing(e));
        Browser {
            child,
            _profile: self.profile,
        }
    }

    /// Starts the browser on `about:blank` with the DevTools protocol on a port of the system's
    /// choosing; returns it and the DevTools WebSocket URL it names on stderr.
    pub fn devtools(mut self) -> (Browser, String) {
        let mut child = self
            .command
            .args(["--remote-debugging-port=0", "about:blank"])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| missing(e));
        // The rest of stderr is drained so that a full pipe never stalls the browser.
        let stderr = child.stderr.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(url) = line.strip_prefix("DevTools listening on ") {
                    let _ = tx.send(url.trim().to_owned());
                }
            }
        });
        let browser = Browser {
            child,
            _profile: self.profile,
        };
        let url = rx
            .recv_timeout(Duration::from_secs(30))
            .expect("chromium did not say where its DevTools listen");
        (browser, url)
    }
}
