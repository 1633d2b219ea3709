//! The ring of recent searches: what each search showed, kept so that
//! feedback can refer to it by its search id.

use super::vector_db::VectorDb;
use std::sync::Arc;

/// What a search showed, kept so later feedback can refer to it.
#[derive(Clone, Debug, PartialEq)]
pub struct RecentSearch {
    pub search_id: String,
    pub query: Vec<f32>,
    pub shown: Vec<Arc<str>>,
}

/// A ring of the last `capacity` searches. A search id encodes its sequence
/// number, so lookup is an index into the ring, not a hash of strings.
pub(super) struct RecentSearches {
    nonce: u32,
    next: u64,
    ring: Vec<Option<(u64, RecentSearch)>>,
}

impl RecentSearches {
    pub(super) fn new(capacity: usize, nonce: u32) -> RecentSearches {
        RecentSearches {
            nonce,
            next: 0,
            ring: (0..capacity).map(|_| None).collect(),
        }
    }

    pub(super) fn record(&mut self, query: &[f32], shown: Vec<Arc<str>>) -> String {
        let sequence = self.next;
        self.next += 1;
        // The nonce differs per database instance, so ids from two databases
        // (or two runs) do not collide.
        let search_id = format!("{:08x}-{sequence:x}", self.nonce);
        let slot = (sequence % self.ring.len() as u64) as usize;
        let entry = RecentSearch {
            search_id: search_id.clone(),
            query: query.to_vec(),
            shown,
        };
        self.ring[slot] = Some((sequence, entry));
        search_id
    }

    pub(super) fn get(&self, search_id: &str) -> Option<RecentSearch> {
        let (nonce, sequence) = search_id.split_once('-')?;
        if u32::from_str_radix(nonce, 16).ok()? != self.nonce {
            return None;
        }
        let sequence = u64::from_str_radix(sequence, 16).ok()?;
        match &self.ring[(sequence % self.ring.len() as u64) as usize] {
            Some((stored, entry)) if *stored == sequence => Some(entry.clone()),
            _ => None,
        }
    }
}

impl VectorDb {
    /// A search recorded by [`VectorDb::search`], while it is among the most
    /// recent `recent_searches`.
    pub fn recent_search(&self, search_id: &str) -> Option<RecentSearch> {
        self.lock_recent().get(search_id)
    }
}
