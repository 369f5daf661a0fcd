//! A minimal client of a running gateway's admin API, for the commands that ask the server
//! rather than a file (`doorman bans`, `doorman health`).
//!
//! It reads the config file the server runs with to find the admin address (and the token,
//! where the endpoint needs one), and talks plain HTTP/1.1 over loopback: the admin listener is
//! local by default, so no client library or TLS is needed.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use serde_json::Value;

/// Where a running gateway's admin API listens, and how to authorize to it.
pub struct Admin {
    pub addr: SocketAddr,
    /// `None` for unauthenticated endpoints (`/healthz`): a health probe needs no secret.
    token: Option<String>,
}

impl Admin {
    /// The admin API of the server that runs with `path`, with its token. `why_needed` ends the
    /// error when the admin API is disabled ("bans can only be listed through it").
    pub fn from_config(path: &Path, why_needed: &str) -> Result<Admin> {
        Self::read(path, why_needed, true)
    }

    /// The admin API's address only, for endpoints that need no token.
    pub fn address_from_config(path: &Path, why_needed: &str) -> Result<Admin> {
        Self::read(path, why_needed, false)
    }

    fn read(path: &Path, why_needed: &str, with_token: bool) -> Result<Admin> {
        let loaded = doorman_config::load(path).map_err(|d| {
            anyhow!(
                "cannot read {}: {d}\nhint: pass the config the server runs with: --config PATH",
                path.display()
            )
        })?;
        let Some(admin) = &loaded.config.server.admin else {
            bail!(
                "the admin API is disabled in {} ([admin] enabled = false); {why_needed}",
                path.display()
            );
        };
        let token = if with_token {
            Some(
                doorman_server::admin::load_token(&admin.token)
                    .context("reading the admin token")?,
            )
        } else {
            None
        };
        Ok(Admin {
            addr: admin.addr,
            token,
        })
    }

    /// One request; the status and the raw body.
    pub fn call_raw(&self, method: &str, path: &str) -> Result<(u16, String)> {
        let mut stream = TcpStream::connect_timeout(&self.addr, Duration::from_secs(3))
            .with_context(|| {
                format!(
                    "cannot reach the admin API at {}: is the gateway running with this config?",
                    self.addr
                )
            })?;
        stream.set_read_timeout(Some(Duration::from_secs(10)))?;
        let authorization = self
            .token
            .as_ref()
            .map(|t| format!("authorization: Bearer {t}\r\n"))
            .unwrap_or_default();
        write!(
            stream,
            "{method} {path} HTTP/1.1\r\nhost: {}\r\n{authorization}content-length: 0\r\nconnection: close\r\n\r\n",
            self.addr
        )?;
        let mut raw = Vec::new();
        stream.read_to_end(&mut raw)?;
        let text = String::from_utf8_lossy(&raw);
        let (head, body) = text
            .split_once("\r\n\r\n")
            .ok_or_else(|| anyhow!("the admin API sent a malformed answer"))?;
        let status: u16 = head
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| anyhow!("the admin API sent a malformed status line"))?;
        if status == 401 {
            bail!("the admin API refused the token: is the config's [admin] token the server's?");
        }
        Ok((status, body.to_string()))
    }

    /// One request expecting JSON; a status other than 200 or 404 is an error.
    pub fn call(&self, method: &str, path: &str) -> Result<(u16, Value)> {
        let (status, body) = self.call_raw(method, path)?;
        if status != 200 && status != 404 {
            bail!("the admin API answered {status}: {}", body.trim());
        }
        Ok((status, serde_json::from_str(&body).unwrap_or(Value::Null)))
    }
}
