//! A throw-away `redis-server` for tests and benches: started on 127.0.0.1 and a free port with no
//! persistence, killed on drop, and restartable on the same port so reconnection can be tested.
//!
//! Tests run a real server rather than a mock because what we need to know is whether the Lua
//! script, the connection manager and the fail mode behave against the real thing. When
//! `redis-server` is not on PATH the tests fail (not skip) with a message saying how to get it:
//! a silently skipped suite would report green while checking nothing.

use std::io::{BufRead, BufReader, Write};
use std::net::{Ipv4Addr, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::thread::sleep;
use std::time::{Duration, Instant};

use crate::client::free_port;

/// How long a freshly started server gets to answer PING. Generous: the machine is shared with
/// other builders, and this is a failure deadline, not a speed expectation.
const START_DEADLINE: Duration = Duration::from_secs(30);

/// A running `redis-server` child process on 127.0.0.1.
pub struct RedisServer {
    port: u16,
    dir: PathBuf,
    child: Option<Child>,
}

impl RedisServer {
    /// Starts a server on a free loopback port. Panics with instructions when `redis-server` is
    /// missing or does not come up.
    pub fn start() -> RedisServer {
        let binary = find_redis_server();
        // A free port can be taken between our probe and redis-server's bind; try a few.
        let mut last_error = String::new();
        for _ in 0..5 {
            let port = free_port();
            let dir =
                std::env::temp_dir().join(format!("doorman-redis-{}-{port}", std::process::id()));
            std::fs::create_dir_all(&dir).expect("create a working directory for redis-server");
            let mut server = RedisServer {
                port,
                dir,
                child: None,
            };
            match server.spawn(&binary) {
                Ok(()) => return server,
                Err(error) => last_error = error,
            }
        }
        panic!("could not start redis-server on a free loopback port: {last_error}");
    }

    /// The port the server listens on (127.0.0.1).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// A `redis://` URL for this server.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    /// Kills the server (SIGKILL: no goodbye to clients, as in a crash) and waits for it to exit.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the server again on the same port, empty (no persistence): as after a crash.
    pub fn restart(&mut self) {
        self.kill();
        let binary = find_redis_server();
        // The old listening socket is gone once the process has been reaped; redis-server sets
        // SO_REUSEADDR, so connections in TIME_WAIT do not block the bind. Still, retry briefly in
        // case the kernel is slow to release the port on a loaded machine.
        let deadline = Instant::now() + START_DEADLINE;
        loop {
            match self.spawn(&binary) {
                Ok(()) => return,
                Err(error) if Instant::now() >= deadline => {
                    panic!(
                        "could not restart redis-server on port {}: {error}",
                        self.port
                    )
                }
                Err(_) => sleep(Duration::from_millis(100)),
            }
        }
    }

    /// Pauses (SIGSTOP) the server: it keeps its connections but answers nothing, like a Redis
    /// stuck in a slow command or a stalled host.
    pub fn pause(&self) {
        self.signal("STOP");
    }

    /// Resumes a paused server (SIGCONT).
    pub fn resume(&self) {
        self.signal("CONT");
    }

    /// Runs one command through a plain TCP connection (RESP, inline form) and returns the first
    /// reply line, so tests can inspect keys (PTTL, EXISTS) independently of the code under test.
    pub fn command(&self, args: &[&str]) -> String {
        let mut stream =
            TcpStream::connect((Ipv4Addr::LOCALHOST, self.port)).expect("connect to redis-server");
        stream
            .set_read_timeout(Some(START_DEADLINE))
            .expect("set read timeout");
        let mut request = format!("*{}\r\n", args.len());
        for arg in args {
            request.push_str(&format!("${}\r\n{arg}\r\n", arg.len()));
        }
        stream
            .write_all(request.as_bytes())
            .expect("send to redis-server");
        let mut reader = BufReader::new(stream);
        let mut line = String::new();
        reader.read_line(&mut line).expect("read from redis-server");
        line.trim_end().to_string()
    }

    fn signal(&self, signal: &str) {
        let child = self.child.as_ref().expect("redis-server is running");
        let status = Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(child.id().to_string())
            .status()
            .expect("run kill");
        assert!(
            status.success(),
            "kill -{signal} {} failed: {status}",
            child.id()
        );
    }

    fn spawn(&mut self, binary: &str) -> Result<(), String> {
        let mut child = Command::new(binary)
            .args([
                "--bind",
                "127.0.0.1",
                "--port",
                &self.port.to_string(),
                // No persistence: a restart is an empty server, like a crashed cache node.
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                self.dir.to_str().expect("temp dir is UTF-8"),
                "--daemonize",
                "no",
                "--loglevel",
                "warning",
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|error| format!("cannot run {binary}: {error}"))?;
        let deadline = Instant::now() + START_DEADLINE;
        loop {
            if let Ok(Some(status)) = child.try_wait() {
                return Err(format!(
                    "redis-server exited with {status} (port {} taken?)",
                    self.port
                ));
            }
            if ping(self.port) {
                self.child = Some(child);
                return Ok(());
            }
            if Instant::now() >= deadline {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!(
                    "redis-server did not answer PING on port {} within {START_DEADLINE:?}",
                    self.port
                ));
            }
            sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.kill();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The `redis-server` binary on PATH, or a panic that says how to install it.
fn find_redis_server() -> String {
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join("redis-server"))
            .find(|candidate| candidate.is_file())
    });
    match found {
        Some(path) => path.to_string_lossy().into_owned(),
        None => panic!(
            "redis-server is not on PATH: these tests need a real Redis. \
             install redis-server (apt-get install redis-server) or run scripts/test.sh"
        ),
    }
}

fn ping(port: u16) -> bool {
    let Ok(mut stream) = TcpStream::connect((Ipv4Addr::LOCALHOST, port)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(1)));
    if stream.write_all(b"PING\r\n").is_err() {
        return false;
    }
    let mut line = String::new();
    BufReader::new(stream).read_line(&mut line).is_ok() && line.starts_with("+PONG")
}
