//! Helpers for tests that run the `doorman` binary: child processes killed on drop, their
//! output read line by line, and a raw HTTP/1.1 client (no client library between the test and
//! the bytes on the wire).
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_doorman");

/// Kills the child if a test fails half-way.
pub struct Reaper(pub Child);

impl Drop for Reaper {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Reads a child's output on a thread and hands lines over a channel.
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

/// Waits for a line containing `marker` and returns the text after it.
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

/// Starts `doorman serve --config F` and waits until it listens; returns the process (killed on
/// drop), its stderr lines and the address.
pub fn serve(
    config: &std::path::Path,
    extra: &[&str],
) -> (Reaper, mpsc::Receiver<String>, SocketAddr) {
    serve_from(None, config, extra)
}

/// `serve`, started in `cwd` (so that a relative `config` is read from there).
pub fn serve_from(
    cwd: Option<&std::path::Path>,
    config: &std::path::Path,
    extra: &[&str],
) -> (Reaper, mpsc::Receiver<String>, SocketAddr) {
    let mut command = Command::new(BIN);
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

/// A raw HTTP/1.1 GET; returns the whole answer (status line, headers, body).
pub fn http_get(addr: SocketAddr, path: &str, headers: &[(&str, &str)]) -> String {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut req = format!("GET {path} HTTP/1.1\r\nhost: {addr}\r\nconnection: close\r\n");
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes()).unwrap();
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    out
}

pub fn header_value(answer: &str, name: &str) -> String {
    answer
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case(name).then(|| v.trim().to_string())
        })
        .unwrap_or_else(|| panic!("no {name} in {answer}"))
}

/// A loopback port nothing listens on right now (bound and released).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Starts `doorman demo` on ephemeral ports with `data` as its data directory; returns the
/// child (killed on drop), its stdout lines (the guide) and its process id.
pub fn demo(data: &std::path::Path) -> (Reaper, mpsc::Receiver<String>, u32) {
    let mut child = Command::new(BIN)
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
