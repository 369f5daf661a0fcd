//! Doorman's shared small helpers, one way to do each common thing in the tree.
//!
//! Every crate above this one formats dates, escapes HTML, reads cookies or opens a SQLite
//! file through these modules instead of carrying its own copy, so a fix lands once and
//! every page and receipt words time the same way.

pub mod cookie;
pub mod html;
#[cfg(feature = "sqlite")]
pub mod sqlite;
pub mod when;
