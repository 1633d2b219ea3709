//! `IdMap`: item id → slot, as a hash table split into shards.
//!
//! An open of a million-item file spent most of its time inserting ids
//! into one big `HashMap`: every insert missed the cache and, on a virtual
//! machine, paid a nested page walk for the TLB miss, in a 50 MB table, one
//! at a time (about 500 ns per id). Here the ids are hashed in parallel,
//! sorted by shard with their hashes, and each of [`SHARDS`] small tables is
//! built on its own thread from its run of the sort, its table in cache and
//! no string read again ([`IdMap::build`]). A grow also rehashes one small
//! shard, never every id, so no single insert stalls for long.
//!
//! The tables are `hashbrown::HashTable`s, which take the hash from the
//! caller: that is what lets the build insert precomputed hashes (std's
//! `HashMap` would hash every key again, reading each string once more).
//!
//! Ids come from callers, so the hash is keyed with a per-map random seed
//! (a folded multiply, as foldhash and ahash's fallback do): fast on short
//! strings, and an attacker who cannot learn the seed cannot choose ids
//! that collide.

use hashbrown::hash_table::{Entry, HashTable};
use rayon::prelude::*;
use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::sync::Arc;

/// Shards per map: enough that a million ids make shards of ~4,000 whose
/// tables (~130 KB) fit in L2, few enough that an empty map is small.
const SHARDS: usize = 256;

/// The shard of a hash: bits the tables themselves barely use (they take
/// buckets from the low bits and tags from the top seven).
fn shard_of(hash: u64) -> usize {
    (hash >> 40) as usize % SHARDS
}

type Shard = HashTable<(Arc<str>, u32)>;

/// Ids to slots.
pub(super) struct IdMap {
    hashing: IdHashing,
    shards: Box<[Shard]>,
    len: usize,
}

impl Default for IdMap {
    fn default() -> Self {
        IdMap {
            hashing: IdHashing::random(),
            shards: (0..SHARDS).map(|_| HashTable::new()).collect(),
            len: 0,
        }
    }
}

impl IdMap {
    /// The map of `ids[slot] → slot` over the slots that have an id, built
    /// in parallel; `Err` names an id that appears twice.
    pub fn build(ids: &[Option<Arc<str>>]) -> Result<IdMap, Arc<str>> {
        let mut map = IdMap::default();
        let runs: Vec<ShardRun> = ids
            .par_chunks(SLOTS_PER_RUN)
            .enumerate()
            .map(|(run, ids)| map.sort_run(ids, run * SLOTS_PER_RUN))
            .collect();
        map.fill(runs)?;
        Ok(map)
    }

    /// One task's share of a parallel build: the ids of slots `first..`
    /// with their hashes, sorted by shard (a counting sort small enough to
    /// stay in cache, reading the ids in slot order, where they lie).
    pub fn sort_run(&self, ids: &[Option<Arc<str>>], first: usize) -> ShardRun {
        let hashes: Vec<u64> = ids
            .iter()
            .map(|id| id.as_ref().map_or(0, |id| self.hash(id)))
            .collect();
        let mut starts = vec![0u32; SHARDS + 1];
        for (id, &hash) in ids.iter().zip(&hashes) {
            if id.is_some() {
                starts[shard_of(hash) + 1] += 1;
            }
        }
        for shard in 0..SHARDS {
            starts[shard + 1] += starts[shard];
        }
        let mut next = starts.clone();
        let mut entries = vec![None; starts[SHARDS] as usize];
        for (i, (id, &hash)) in ids.iter().zip(&hashes).enumerate() {
            if let Some(id) = id {
                let at = &mut next[shard_of(hash)];
                entries[*at as usize] = Some((hash, id.clone(), (first + i) as u32));
                *at += 1;
            }
        }
        ShardRun { entries, starts }
    }

    /// Fills an empty map from the runs of [`IdMap::sort_run`], one task
    /// per shard; `Err` names an id that appears twice. The ids move from
    /// the runs into the tables: a clone would touch every id's reference
    /// count again, each a cache (and TLB) miss in shard order.
    pub fn fill(&mut self, mut runs: Vec<ShardRun>) -> Result<(), Arc<str>> {
        // Each run cut into its shards' parts, regrouped by shard.
        let mut by_shard: Vec<Vec<&mut [RunEntry]>> = (0..SHARDS)
            .map(|_| Vec::with_capacity(runs.len()))
            .collect();
        for run in &mut runs {
            let mut rest = &mut run.entries[..];
            for (shard, parts) in by_shard.iter_mut().enumerate() {
                let len = (run.starts[shard + 1] - run.starts[shard]) as usize;
                let (part, tail) = rest.split_at_mut(len);
                parts.push(part);
                rest = tail;
            }
        }
        let hashing = &self.hashing;
        self.shards
            .par_iter_mut()
            .zip(by_shard)
            .try_for_each(|(table, parts)| {
                *table = HashTable::with_capacity(parts.iter().map(|part| part.len()).sum());
                for entry in parts.into_iter().flatten() {
                    let (hash, id, slot) = entry.take().expect("each entry is filled once");
                    let rehash = |(known, _): &(Arc<str>, u32)| hashing.hash_one(&**known);
                    match table.entry(hash, |(known, _)| *known == id, rehash) {
                        Entry::Occupied(_) => return Err(id),
                        Entry::Vacant(vacant) => {
                            vacant.insert((id, slot));
                        }
                    }
                }
                Ok(())
            })?;
        self.len = self.shards.iter().map(HashTable::len).sum();
        Ok(())
    }

    fn hash(&self, id: &str) -> u64 {
        self.hashing.hash_one(id)
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn get(&self, id: &str) -> Option<u32> {
        let hash = self.hash(id);
        self.shards[shard_of(hash)]
            .find(hash, |(known, _)| **known == *id)
            .map(|&(_, slot)| slot)
    }

    pub fn contains(&self, id: &str) -> bool {
        self.get(id).is_some()
    }

    /// Maps `id` to `slot`; returns the slot it had.
    pub fn insert(&mut self, id: Arc<str>, slot: u32) -> Option<u32> {
        let hash = self.hash(&id);
        let hashing = &self.hashing;
        let table = &mut self.shards[shard_of(hash)];
        match table.entry(
            hash,
            |(known, _)| *known == id,
            |(known, _)| hashing.hash_one(&**known),
        ) {
            Entry::Occupied(mut occupied) => {
                Some(std::mem::replace(&mut occupied.get_mut().1, slot))
            }
            Entry::Vacant(vacant) => {
                vacant.insert((id, slot));
                self.len += 1;
                None
            }
        }
    }

    pub fn remove(&mut self, id: &str) -> Option<u32> {
        let hash = self.hash(id);
        let entry = self.shards[shard_of(hash)]
            .find_entry(hash, |(known, _)| **known == *id)
            .ok()?;
        let ((_, slot), _) = entry.remove();
        self.len -= 1;
        Some(slot)
    }

    /// Heap bytes of the shards' tables (not of the id strings, which the
    /// catalogue counts once).
    pub fn heap_bytes(&self) -> usize {
        self.shards.len() * std::mem::size_of::<Shard>()
            + self
                .shards
                .iter()
                .map(HashTable::allocation_size)
                .sum::<usize>()
    }
}

/// Slots per task of [`IdMap::build`].
pub(super) const SLOTS_PER_RUN: usize = 16_384;

/// Some slots' ids with their hashes, sorted by shard (see
/// [`IdMap::sort_run`]).
pub(super) struct ShardRun {
    entries: Vec<RunEntry>,
    /// Shard `s` holds `entries[starts[s]..starts[s + 1]]`.
    starts: Vec<u32>,
}

/// An id in a [`ShardRun`]: its hash, the id and its slot (taken by
/// [`IdMap::fill`]).
type RunEntry = Option<(u64, Arc<str>, u32)>;

/// Builds [`IdHasher`]s with the map's seed.
#[derive(Clone)]
pub(super) struct IdHashing {
    seed: u64,
}

impl IdHashing {
    fn random() -> IdHashing {
        // `RandomState` is the standard library's per-process random key.
        IdHashing {
            seed: RandomState::new().hash_one(0x0069_646d_6170_u64) | 1,
        }
    }
}

impl BuildHasher for IdHashing {
    type Hasher = IdHasher;

    fn build_hasher(&self) -> IdHasher {
        IdHasher { state: self.seed }
    }
}

const MIX: u64 = 0x9E37_79B9_7F4A_7C15;
const FINISH: u64 = 0xD6E8_FEB8_6659_FD93;

/// The high and low halves of a 128-bit product, folded together.
#[inline(always)]
fn folded_multiply(a: u64, b: u64) -> u64 {
    let product = a as u128 * b as u128;
    product as u64 ^ (product >> 64) as u64
}

/// A keyed hash of the bytes written, eight at a time.
pub(super) struct IdHasher {
    state: u64,
}

impl Hasher for IdHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        // The length first, so that zero padding of the last word cannot
        // make "a" and "a\0" collide.
        let mut state = folded_multiply(self.state ^ bytes.len() as u64, MIX);
        let mut words = bytes.chunks_exact(8);
        for word in &mut words {
            let word = u64::from_le_bytes(word.try_into().expect("8 bytes"));
            state = folded_multiply(state ^ word, MIX);
        }
        let tail = words.remainder();
        if !tail.is_empty() {
            let mut word = [0u8; 8];
            word[..tail.len()].copy_from_slice(tail);
            state = folded_multiply(state ^ u64::from_le_bytes(word), MIX);
        }
        self.state = state;
    }

    #[inline]
    fn write_u8(&mut self, byte: u8) {
        self.state = folded_multiply(self.state ^ byte as u64, MIX);
    }

    #[inline]
    fn finish(&self) -> u64 {
        folded_multiply(self.state ^ self.state >> 32, FINISH)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn ids(n: usize) -> Vec<Option<Arc<str>>> {
        (0..n)
            .map(|i| (i % 7 != 3).then(|| Arc::from(format!("item-{i}"))))
            .collect()
    }

    #[test]
    // 20,000 ids: too slow under Miri; build_names_a_duplicate takes the
    // same parallel build there with 5,000.
    #[cfg_attr(miri, ignore)]
    fn a_built_map_finds_every_id_and_only_those() {
        let ids = ids(20_000);
        let map = IdMap::build(&ids).expect("no duplicates");
        let live = ids.iter().filter(|id| id.is_some()).count();
        assert_eq!(map.len(), live);
        for (slot, id) in ids.iter().enumerate() {
            match id {
                Some(id) => assert_eq!(map.get(id), Some(slot as u32)),
                None => assert_eq!(map.get(&format!("item-{slot}")), None),
            }
        }
        assert!(!map.contains("item-20000"));
    }

    #[test]
    fn build_names_a_duplicate() {
        let mut ids = ids(5_000);
        ids[4_001] = Some(Arc::from("item-16"));
        assert_eq!(IdMap::build(&ids).err().as_deref(), Some("item-16"));
    }

    #[test]
    // 20,000 steps against a std map: too slow under Miri.
    #[cfg_attr(miri, ignore)]
    fn inserts_and_removes_keep_the_count_and_agree_with_a_std_map() {
        let mut map = IdMap::default();
        let mut reference = HashMap::new();
        let mut rng = crate::rng::SplitMix64::new(7);
        for step in 0..20_000u32 {
            let id: Arc<str> = Arc::from(format!("{}", rng.next_u64() % 3_000));
            if rng.next_u64().is_multiple_of(3) {
                assert_eq!(map.remove(&id), reference.remove(&id));
            } else {
                assert_eq!(map.insert(id.clone(), step), reference.insert(id, step));
            }
            assert_eq!(map.len(), reference.len());
        }
        for (id, &slot) in &reference {
            assert_eq!(map.get(id), Some(slot));
        }
    }

    #[test]
    // Hashes 110,000 keys for a statistic: too slow under Miri, and it
    // runs no unsafe code.
    #[cfg_attr(miri, ignore)]
    fn the_hash_separates_lengths_and_spreads_over_shards() {
        let hashing = IdHashing { seed: 12345 };
        assert_ne!(hashing.hash_one("a"), hashing.hash_one("a\0"));
        assert_ne!(hashing.hash_one(""), hashing.hash_one("\0"));
        // Sequential numeric ids (the common case) fill every shard evenly:
        // none holds more than twice its share.
        let mut counts = vec![0usize; SHARDS];
        for i in 0..100_000 {
            counts[shard_of(hashing.hash_one(i.to_string().as_str()))] += 1;
        }
        let share = 100_000 / SHARDS;
        assert!(
            counts.iter().all(|&c| c > share / 2 && c < share * 2),
            "{counts:?}"
        );
        // And the tag bits hashbrown uses (the top seven) take every value.
        let mut tags = [false; 128];
        for i in 0..10_000 {
            tags[(hashing.hash_one(format!("doc-{i}").as_str()) >> 57) as usize] = true;
        }
        assert!(tags.iter().all(|&t| t));
    }
}
