//! API keys for Doorman: the key format, the key database, and verification on the request
//! path. The gateway asks one question of this crate per request, "is this key good, and if not,
//! why exactly?", and `doorman keys` manages the keys that question is asked about. There is no
//! HTTP and no async here: the gateway decides where a key is read from and how a refusal is
//! rendered; this crate says what the key is and what is wrong with it.
//!
//! A key looks like `dmn_live_` + 36 letters and digits: 30 random characters (178 bits from the
//! OS generator) and a 6-character CRC32 checksum, so a mistyped or truncated key is recognised
//! without a lookup. Only its SHA-256 is stored; `docs/keys.md` explains why a plain hash is safe
//! for keys this random.
//!
//! Map:
//! - [`format`]: minting, parsing ([`parse`], [`Malformed`]), display form, [`Secret`].
//! - [`record`]: [`KeyRecord`] (everything stored but the hash), [`NewKey`], [`KeyStatus`].
//! - [`store`]: [`KeyStore`], the SQLite file (`<data_dir>/keys.sqlite`): create, list, find,
//!   revoke, rotate, last-used times, change detection.
//! - [`snapshot`]: [`KeySnapshot`], the immutable in-memory view, and
//!   [`KeySnapshot::verify`] with its [`KeyRejection`]s (`KEY_MALFORMED`, `KEY_UNKNOWN`,
//!   `KEY_REVOKED`, `KEY_EXPIRED`).
//! - [`time`]: Unix milliseconds to RFC 3339 and "3 minutes ago".
//!
//! The gateway's loop: open a [`KeyStore`], take a [`KeySnapshot`] into an `ArcSwap`, poll
//! [`KeyStore::snapshot_if_changed`] every 250–500 ms (a pragma read when nothing changed), call
//! [`KeySnapshot::verify`] per request, and hand accepted key ids and times to
//! [`KeyStore::record_last_used`] every few seconds.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod format;
pub mod record;
pub mod snapshot;
pub mod store;

pub use format::{DEFAULT_PREFIX, Malformed, ParsedKey, Secret, parse};
pub use record::{KeyRecord, KeyStatus, NewKey, parse_rate_limit};
pub use snapshot::{KeyRejection, KeySnapshot};
pub use store::{DataVersion, KEYS_FILE, KeyStore, KeyStoreError, Rotation, keys_path};
