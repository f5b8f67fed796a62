//! Key and channel names of the two layouts.
//!
//! Single node (unchanged since the first release, so existing data stays readable):
//! `rev:<hex>`, `fam:<id>`, `user:<id>`, `gen:<user>`, `cut:<user>`,
//! `grants:<len>:<tenant>:<principal>`, `audit:<len>:<tenant>`, one channel `revoked`;
//! `dpop:<proof id>` (added for DPoP, the same on a cluster: one key per command);
//! `login:<kind>:<digest>` (failed-login counters, the same on a cluster).
//!
//! Cluster: every key a script or an atomic pipeline touches carries the same hash tag, so
//! it lands in one slot:
//!
//! - per family `fam:{<id>}`, per user `user:{<id>}`;
//! - per tenant `grants:{<len>:<tenant>}:<principal>` and `audit:{<len>:<tenant>}`;
//! - revocation state in [`BUCKETS`] buckets `{rNN}`: `rev:{rNN}:<hex>` (bucket of the
//!   digest), `gen:{rNN}:<user>` and `cut:{rNN}:<user>` (bucket of the user's SHA-256),
//!   each bucket with its sharded channel `revoked:{rNN}` in the same slot, so a script
//!   writes a revocation and `SPUBLISH`es it atomically on the shard that owns it.

use sha2::{Digest, Sha256};

use crate::store::TokenDigest;
use crate::store::attempts::AttemptKey;
use crate::store::replay::ProofId;

/// Revocation buckets (and sharded channels) of the cluster layout. Sixteen spread the
/// revocations over the masters of a small cluster while a subscriber holds few channels
/// and publishes few heartbeats (one per bucket and period).
pub(super) const BUCKETS: usize = 16;

/// Builds key and channel names for one prefix and layout.
#[derive(Debug, Clone)]
pub(super) struct Keys {
    prefix: std::sync::Arc<str>,
    cluster: bool,
}

impl Keys {
    pub(super) fn new(prefix: &str, cluster: bool) -> Self {
        Keys {
            prefix: std::sync::Arc::from(prefix),
            cluster,
        }
    }

    pub(super) fn is_cluster(&self) -> bool {
        self.cluster
    }

    /// The number of revocation channels a subscriber listens to.
    pub(super) fn channels(&self) -> usize {
        if self.cluster { BUCKETS } else { 1 }
    }

    /// The revocation channel of `bucket` (the one channel on a single node).
    pub(super) fn channel(&self, bucket: usize) -> String {
        if self.cluster {
            format!("{}revoked:{{r{bucket:02}}}", self.prefix)
        } else {
            format!("{}revoked", self.prefix)
        }
    }

    /// The bucket of a channel name, as delivered by the server.
    pub(super) fn bucket_of_channel(&self, channel: &str) -> Option<usize> {
        if !self.cluster {
            return Some(0);
        }
        let rest = channel.strip_prefix(&*self.prefix)?;
        let n = rest.strip_prefix("revoked:{r")?.strip_suffix('}')?;
        n.parse().ok().filter(|b| *b < BUCKETS)
    }

    /// The publish command of the layout (sharded pub/sub on a cluster).
    pub(super) fn publish_cmd(&self) -> &'static str {
        if self.cluster { "SPUBLISH" } else { "PUBLISH" }
    }

    pub(super) fn digest_bucket(d: &TokenDigest) -> usize {
        d.0[0] as usize % BUCKETS
    }

    pub(super) fn user_bucket(user: &str) -> usize {
        Sha256::digest(user.as_bytes())[0] as usize % BUCKETS
    }

    /// `rev:` key of a digest and the channel its revocation is published on.
    pub(super) fn rev(&self, d: &TokenDigest) -> (String, String) {
        let hex = d.to_hex();
        if self.cluster {
            let b = Self::digest_bucket(d);
            (
                format!("{}rev:{{r{b:02}}}:{hex}", self.prefix),
                self.channel(b),
            )
        } else {
            (format!("{}rev:{hex}", self.prefix), self.channel(0))
        }
    }

    /// `gen:` and `cut:` keys of a user and the channel their changes are published on.
    pub(super) fn cutoff(&self, user: &str) -> (String, String, String) {
        if self.cluster {
            let b = Self::user_bucket(user);
            (
                format!("{}gen:{{r{b:02}}}:{user}", self.prefix),
                format!("{}cut:{{r{b:02}}}:{user}", self.prefix),
                self.channel(b),
            )
        } else {
            (
                format!("{}gen:{user}", self.prefix),
                format!("{}cut:{user}", self.prefix),
                self.channel(0),
            )
        }
    }

    pub(super) fn fam(&self, id: &str) -> String {
        self.tagged("fam", id)
    }

    pub(super) fn user(&self, id: &str) -> String {
        self.tagged("user", id)
    }

    fn tagged(&self, kind: &str, id: &str) -> String {
        if self.cluster {
            format!("{}{kind}:{{{id}}}", self.prefix)
        } else {
            format!("{}{kind}:{id}", self.prefix)
        }
    }

    /// `dpop:` key of a DPoP proof id ([`ProofId::short_key`], 22 base64url
    /// characters). No hash tag on a cluster: each is used alone, so they spread over
    /// every slot.
    pub(super) fn dpop(&self, id: &ProofId) -> String {
        format!("{}dpop:{}", self.prefix, id.short_key())
    }

    /// `login:` key of a failed-login counter. No hash tag: each is used alone.
    pub(super) fn attempts(&self, key: &AttemptKey) -> String {
        format!("{}login:{}", self.prefix, key.as_str())
    }

    /// The length prefix keeps `a:b`/`c` and `a`/`b:c` apart.
    pub(super) fn grants(&self, tenant: &str, principal: &str) -> String {
        let len = tenant.len();
        if self.cluster {
            format!("{}grants:{{{len}:{tenant}}}:{principal}", self.prefix)
        } else {
            format!("{}grants:{len}:{tenant}:{principal}", self.prefix)
        }
    }

    pub(super) fn audit(&self, tenant: &str) -> String {
        let len = tenant.len();
        if self.cluster {
            format!("{}audit:{{{len}:{tenant}}}", self.prefix)
        } else {
            format!("{}audit:{len}:{tenant}", self.prefix)
        }
    }

    /// `SCAN` pattern of every revoked digest.
    pub(super) fn rev_pattern(&self) -> String {
        format!("{}rev:*", self.prefix)
    }

    /// `SCAN` pattern of every user generation.
    pub(super) fn gen_pattern(&self) -> String {
        format!("{}gen:*", self.prefix)
    }

    /// `SCAN` pattern of every user index.
    pub(super) fn user_pattern(&self) -> String {
        format!("{}user:*", self.prefix)
    }

    /// The hex digest at the end of a `rev:` key.
    pub(super) fn digest_of_rev_key(key: &str) -> Option<&str> {
        key.get(key.len().checked_sub(64)?..)
    }

    /// The user of a `gen:` key.
    pub(super) fn user_of_gen_key<'k>(&self, key: &'k str) -> Option<&'k str> {
        let rest = key.strip_prefix(&*self.prefix)?.strip_prefix("gen:")?;
        if self.cluster {
            // `{rNN}:` is six bytes.
            rest.get(6..)
        } else {
            Some(rest)
        }
    }

    /// The user of a `user:` key.
    pub(super) fn user_of_index_key<'k>(&self, key: &'k str) -> Option<&'k str> {
        let rest = key.strip_prefix(&*self.prefix)?.strip_prefix("user:")?;
        if self.cluster {
            rest.strip_prefix('{')?.strip_suffix('}')
        } else {
            Some(rest)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The part of a key Redis Cluster hashes: the first `{…}` with something inside.
    fn hash_tag(key: &str) -> &str {
        if let Some(open) = key.find('{')
            && let Some(len) = key[open + 1..].find('}')
            && len > 0
        {
            return &key[open + 1..open + 1 + len];
        }
        key
    }

    #[test]
    fn single_node_names_are_the_first_release_names() {
        let k = Keys::new("p:", false);
        let d = TokenDigest::of_jti("x");
        assert_eq!(
            k.rev(&d),
            (format!("p:rev:{}", d.to_hex()), "p:revoked".into())
        );
        assert_eq!(
            k.cutoff("u"),
            ("p:gen:u".into(), "p:cut:u".into(), "p:revoked".into())
        );
        assert_eq!(k.fam("f"), "p:fam:f");
        assert_eq!(k.user("u"), "p:user:u");
        assert_eq!(k.grants("t", "p"), "p:grants:1:t:p");
        assert_eq!(k.audit("t"), "p:audit:1:t");
        let id = ProofId([0; 32]);
        assert_eq!(k.dpop(&id), "p:dpop:AAAAAAAAAAAAAAAAAAAAAA");
        assert_eq!(Keys::new("p:", true).dpop(&id), k.dpop(&id));
    }

    #[test]
    fn cluster_keys_of_one_script_share_a_slot() {
        let k = Keys::new("p:", true);
        for jti in ["a", "b", "c", "d"] {
            let d = TokenDigest::of_jti(jti);
            let (rev, channel) = k.rev(&d);
            assert_eq!(hash_tag(&rev), hash_tag(&channel));
            assert_eq!(Keys::digest_of_rev_key(&rev), Some(d.to_hex().as_str()));
            assert_eq!(k.bucket_of_channel(&channel), Some(Keys::digest_bucket(&d)));
        }
        for user in ["alice", "bob", "x}y", "{z}"] {
            let (g, c, ch) = k.cutoff(user);
            assert_eq!(hash_tag(&g), hash_tag(&c));
            assert_eq!(hash_tag(&g), hash_tag(&ch));
            assert_eq!(k.user_of_gen_key(&g), Some(user));
            assert_eq!(k.user_of_index_key(&k.user(user)), Some(user));
        }
        assert_eq!(hash_tag(&k.grants("t}x", "p")), hash_tag(&k.audit("t}x")));
        assert_eq!(hash_tag(&k.fam("f1")), "f1");
        assert_eq!(k.bucket_of_channel("p:revoked:{r16}"), None);
    }
}
