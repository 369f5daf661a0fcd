//! Runs the demo origin on its own, without the gateway, for working on the page or the API by hand:
//! `cargo run -p doorman-demo --example serve -- 127.0.0.1:8080`.

#![forbid(unsafe_code)]

use std::net::SocketAddr;

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let addr: SocketAddr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:8080".to_owned())
        .parse()
        .map_err(std::io::Error::other)?;
    let listener = tokio::net::TcpListener::bind(addr).await?;
    println!("demo origin on http://{}", listener.local_addr()?);
    doorman_demo::serve(listener, doorman_demo::DemoOptions::default()).await
}
