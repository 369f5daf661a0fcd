//! Gateways for tests, configured from TOML text exactly as an operator would: in this process
//! (feature `in-process`: a real demo origin and a real gateway on ephemeral loopback ports), or
//! the `doorman` binary as a child process ([`process`]).

pub mod process;

#[cfg(feature = "in-process")]
mod in_process;
#[cfg(feature = "in-process")]
pub use in_process::*;
