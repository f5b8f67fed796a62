//! A `BuildHasher` for keys that are already uniformly random (token digests, keyed
//! cache slots), shared by the memory store and the verified-token cache.

use std::hash::BuildHasher;

/// A hasher for keys that are already uniformly random (a mixed slot, a SHA-256 digest):
/// it keeps 8 of their bytes instead of hashing them again.
#[derive(Clone, Copy, Default)]
pub(crate) struct Prehashed;

impl BuildHasher for Prehashed {
    type Hasher = PrehashedHasher;
    fn build_hasher(&self) -> PrehashedHasher {
        PrehashedHasher(0)
    }
}

pub(crate) struct PrehashedHasher(u64);

impl std::hash::Hasher for PrehashedHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        let mut b = [0u8; 8];
        let n = bytes.len().min(8);
        b[..n].copy_from_slice(&bytes[..n]);
        self.0 ^= u64::from_le_bytes(b);
    }
    fn write_u64(&mut self, v: u64) {
        self.0 ^= v;
    }
    fn write_u128(&mut self, v: u128) {
        self.0 ^= v as u64;
    }
    fn write_usize(&mut self, _: usize) {
        // Length prefixes of fixed-size keys carry nothing.
    }
}
