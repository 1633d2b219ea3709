//! A fast keyed hash for the maps a search reads per candidate (item id →
//! model row, model row → evidence). std's SipHash costs about as much as
//! the rest of scoring a candidate; this one mixes a word per 8 bytes with a
//! multiply and finishes with SplitMix64's avalanche, so the table's high
//! bits are as good as its low ones. Keyed per map from the process's hash
//! randomness, so which ids collide differs from map to map; it is not a
//! cryptographic defence, and the keys are ids the application inserted.

use std::hash::{BuildHasher, Hasher};

/// Builds [`FastHasher`]s with a key of its own.
#[derive(Clone, Copy, Debug)]
pub struct FastState {
    key: u64,
}

impl Default for FastState {
    fn default() -> FastState {
        FastState {
            key: std::collections::hash_map::RandomState::new().hash_one(0x6c8e_9cf5_70f1_3a2bu64),
        }
    }
}

impl BuildHasher for FastState {
    type Hasher = FastHasher;

    fn build_hasher(&self) -> FastHasher {
        FastHasher(self.key)
    }
}

/// The hasher of a [`FastState`].
pub struct FastHasher(u64);

/// An odd constant with well-spread bits (2^64 / φ).
const MULTIPLIER: u64 = 0x9E37_79B9_7F4A_7C15;

impl FastHasher {
    fn add(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(23) ^ word).wrapping_mul(MULTIPLIER);
    }
}

impl Hasher for FastHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            self.add(u64::from_le_bytes(chunk.try_into().expect("8 bytes")));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut last = [0u8; 8];
            last[..rest.len()].copy_from_slice(rest);
            // The length keeps "a" and "a\0" apart.
            self.add(u64::from_le_bytes(last) ^ ((rest.len() as u64) << 59));
        }
    }

    fn write_u32(&mut self, value: u32) {
        self.add(u64::from(value));
    }

    fn write_u64(&mut self, value: u64) {
        self.add(value);
    }

    fn write_usize(&mut self, value: usize) {
        self.add(value as u64);
    }

    fn finish(&self) -> u64 {
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

/// A `HashMap` with [`FastState`].
pub type FastMap<K, V> = std::collections::HashMap<K, V, FastState>;

/// A `HashSet` with [`FastState`].
pub type FastSet<K> = std::collections::HashSet<K, FastState>;

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    // Hashes 8,192 keys into sets for a statistical spread: minutes under
    // Miri, and it runs no unsafe code.
    #[cfg_attr(miri, ignore)]
    fn equal_keys_hash_equal_and_nearby_keys_spread_over_the_high_bits() {
        let state = FastState::default();
        assert_eq!(
            state.hash_one("item-17"),
            state.hash_one(String::from("item-17"))
        );
        assert_ne!(state.hash_one("a"), state.hash_one("a\0"));
        // Sequential ids and rows: the top 7 bits (hashbrown's control
        // byte) and the low 12 bits (its bucket at 4k entries) both spread.
        for keys in [
            (0..4096u32).map(|i| state.hash_one(i)).collect::<Vec<_>>(),
            (0..4096u32)
                .map(|i| state.hash_one(format!("id-{i}")))
                .collect(),
        ] {
            let top: HashSet<u64> = keys.iter().map(|h| h >> 57).collect();
            let low: HashSet<u64> = keys.iter().map(|h| h & 4095).collect();
            assert_eq!(top.len(), 128, "every top-7-bit value occurs");
            // A uniform hash fills about 1 − 1/e of 4096 buckets with 4096 keys.
            assert!(low.len() > 2400, "{} of 4096 low-bit buckets", low.len());
        }
        // Two states key differently.
        assert_ne!(FastState::default().hash_one(1u32), state.hash_one(1u32));
    }
}
