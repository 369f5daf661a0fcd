//! The `doorman` binary as a child process: killed on drop, its output read line by line.
//!
//! Only the test crate that builds the binary knows where it is (`CARGO_BIN_EXE_doorman` is set
//! at compile time for that crate's tests), so it names it once:
//! `const DOORMAN: Doorman = Doorman(env!("CARGO_BIN_EXE_doorman"));`.

use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// The `doorman` binary at this path.
#[derive(Clone, Copy)]
pub struct Doorman(pub &'static str);

/// Kills the child if a test fails half-way.
pub struct Reaper(pub Child);

impl Drop for Reaper {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Doorman {
    pub fn command(self) -> Command {
        Command::new(self.0)
    }

    /// Starts `doorman serve --config F` and waits until it listens; returns the process
    /// (killed on drop), its stderr lines and the address.
    pub fn serve(
        self,
        config: &Path,
        extra: &[&str],
    ) -> (Reaper, mpsc::Receiver<String>, SocketAddr) {
        self.serve_from(None, config, extra)
    }

    /// [`Doorman::serve`], started in `cwd` (so that a relative `config` is read from there).
    pub fn serve_from(
        self,
        cwd: Option<&Path>,
        config: &Path,
        extra: &[&str],
    ) -> (Reaper, mpsc::Receiver<String>, SocketAddr) {
        let mut command = self.command();
        if let Some(dir) = cwd {
            command.current_dir(dir);
        }
        let mut child = command
            .args(["serve", "--config"])
            .arg(config)
            .args(extra)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = lines(child.stderr.take().unwrap());
        let child = Reaper(child);
        let mut seen = Vec::new();
        let addr = wait_for(&stderr, "listening on ", &mut seen)
            .parse()
            .unwrap();
        (child, stderr, addr)
    }

    /// Starts `doorman demo` on ephemeral ports with `data` as its data directory; returns the
    /// child (killed on drop), its stdout lines (the guide) and its process id.
    pub fn demo(self, data: &Path) -> (Reaper, mpsc::Receiver<String>, u32) {
        let mut child = self
            .command()
            .args([
                "demo",
                "--listen",
                "127.0.0.1:0",
                "--admin",
                "127.0.0.1:0",
                "--data-dir",
            ])
            .arg(data)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let pid = child.id();
        let stdout = lines(child.stdout.take().unwrap());
        (Reaper(child), stdout, pid)
    }
}

/// Reads a child's output on a thread and hands lines over a channel, so that a full pipe never
/// stalls the child and a test can wait for a line with a deadline.
pub fn lines(stream: impl Read + Send + 'static) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stream).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

/// Waits (30 s at most) for a line containing `marker` and returns the text after it; every
/// line read is kept in `seen` for the failure message.
pub fn wait_for(rx: &mpsc::Receiver<String>, marker: &str, seen: &mut Vec<String>) -> String {
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if let Ok(line) = rx.recv_timeout(Duration::from_millis(200)) {
            seen.push(line.clone());
            if let Some(pos) = line.find(marker) {
                return line[pos + marker.len()..].trim().to_string();
            }
        }
    }
    panic!(
        "no line with {marker:?}; output so far:\n{}",
        seen.join("\n")
    );
}
