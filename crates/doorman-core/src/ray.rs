//! Ray IDs: the one handle a blocked person, a log line and `doorman explain` share.
//!
//! Format: 16 lower-case hex characters, `-`, the node name (e.g. `4a807f60ca5727a4-edge1`), like
//! Cloudflare's. The random part is an input: the server draws it, so the core stays deterministic.

use std::fmt;
use std::sync::Arc;

/// One request's identifier. Cheap to clone (the node name is shared).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RayId {
    id: u64,
    node: Arc<str>,
}

impl RayId {
    /// Builds a Ray ID from a random 64-bit number and the node's name.
    pub fn new(id: u64, node: Arc<str>) -> Self {
        RayId { id, node }
    }

    /// The random part.
    pub fn id(&self) -> u64 {
        self.id
    }

    /// The node name part.
    pub fn node(&self) -> &str {
        &self.node
    }

    /// Parses `<16 hex>-<node>`; the node part may itself contain `-`.
    pub fn parse(text: &str) -> Option<RayId> {
        let (hex, node) = text.split_once('-')?;
        if hex.len() != 16 || node.is_empty() {
            return None;
        }
        let id = u64::from_str_radix(hex, 16).ok()?;
        Some(RayId {
            id,
            node: Arc::from(node),
        })
    }
}

impl fmt::Display for RayId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:016x}-{}", self.id, self.node)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_as_sixteen_hex_and_node() {
        let ray = RayId::new(0x4a807f60ca5727a4, Arc::from("edge-1"));
        assert_eq!(ray.to_string(), "4a807f60ca5727a4-edge-1");
        let small = RayId::new(7, Arc::from("n"));
        assert_eq!(small.to_string(), "0000000000000007-n");
    }

    #[test]
    fn parses_its_own_output_and_rejects_others() {
        let ray = RayId::new(0xdeadbeef, Arc::from("edge-1"));
        assert_eq!(RayId::parse(&ray.to_string()), Some(ray));
        assert_eq!(RayId::parse("xyz-edge"), None);
        assert_eq!(RayId::parse("0000000000000007-"), None);
        assert_eq!(RayId::parse("000000000000000g-n"), None);
    }
}
