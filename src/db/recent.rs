//! The ring of recent searches: what each search showed (and, for an
//! interleaved search, which ranking each hit came from), kept so that
//! feedback can refer to it by its search id. Saved with the file, so
//! feedback after a clean restart still finds its search.

use super::vector_db::VectorDb;
use crate::error::Result;
use crate::file::{ByteReader, ByteWriter};
use crate::learn::Team;
use std::sync::Arc;

/// What a search showed, kept so later feedback can refer to it.
#[derive(Clone, Debug, PartialEq)]
pub struct RecentSearch {
    pub search_id: String,
    pub query: Vec<f32>,
    pub shown: Vec<Arc<str>>,
    /// For an interleaved search: the team of each shown item, and the
    /// version of the model that ranked the learned team.
    pub teams: Option<(u64, Vec<Team>)>,
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

    /// Moves the numbering past every id this database may have given out
    /// before it was opened. Searches are not logged, so an open knows only
    /// the count saved by the last save or checkpoint; searches made after
    /// it — their feedback in the log (see `note_given_out`), their ids in
    /// callers' hands — would get the same ids again, and feedback for a
    /// new search would merge into an old session. So each run numbers
    /// from `now_ms · 2^20` on: past every earlier run unless one made
    /// 2^20 searches a millisecond (or the clock went back).
    pub(super) fn start_new_run(&mut self, now_ms: u64) {
        self.next = self.next.max(now_ms.saturating_mul(1 << 20));
    }

    /// Notes that `search_id` was given out (its feedback is being replayed).
    pub(super) fn note_given_out(&mut self, search_id: &str) {
        if let Some(sequence) = self.sequence_of(search_id) {
            self.next = self.next.max(sequence.saturating_add(1));
        }
    }

    /// The sequence number of one of this database's search ids.
    fn sequence_of(&self, search_id: &str) -> Option<u64> {
        let (nonce, sequence) = search_id.split_once('-')?;
        if u32::from_str_radix(nonce, 16).ok()? != self.nonce {
            return None;
        }
        u64::from_str_radix(sequence, 16).ok()
    }

    /// The next search's sequence number and id (taken now, so a ranking
    /// that depends on the id can be made before the search is stored).
    pub(super) fn reserve(&mut self) -> (u64, String) {
        let sequence = self.next;
        self.next += 1;
        // The nonce differs per database, so ids from two databases do not
        // collide; a reopened database keeps its nonce (it is saved).
        (sequence, format!("{:08x}-{sequence:x}", self.nonce))
    }

    /// Heap bytes held: the ring and each remembered search's id, query
    /// and shown list (whose id strings belong to the catalogue).
    pub(super) fn heap_bytes(&self) -> usize {
        let entries: usize = self
            .ring
            .iter()
            .flatten()
            .map(|(_, search)| {
                search.search_id.capacity()
                    + search.query.capacity() * 4
                    + search.shown.capacity() * std::mem::size_of::<Arc<str>>()
                    + search
                        .teams
                        .as_ref()
                        .map_or(0, |(_, teams)| teams.capacity())
            })
            .sum();
        self.ring.capacity() * std::mem::size_of::<Option<(u64, RecentSearch)>>() + entries
    }

    /// Forgets every search (their queries with them); ids stay unique.
    pub(super) fn clear(&mut self) {
        self.ring.iter_mut().for_each(|entry| *entry = None);
    }

    pub(super) fn store(&mut self, sequence: u64, entry: RecentSearch) {
        let slot = (sequence % self.ring.len() as u64) as usize;
        self.ring[slot] = Some((sequence, entry));
    }

    pub(super) fn record(&mut self, query: &[f32], shown: Vec<Arc<str>>) -> String {
        let (sequence, search_id) = self.reserve();
        self.store(
            sequence,
            RecentSearch {
                search_id: search_id.clone(),
                query: query.to_vec(),
                shown,
                teams: None,
            },
        );
        search_id
    }

    pub(super) fn get(&self, search_id: &str) -> Option<RecentSearch> {
        let sequence = self.sequence_of(search_id)?;
        match &self.ring[(sequence % self.ring.len() as u64) as usize] {
            Some((stored, entry)) if *stored == sequence => Some(entry.clone()),
            _ => None,
        }
    }

    /// The ring as bytes (saved in the feedback section).
    pub(super) fn encode(&self, out: &mut Vec<u8>) {
        out.put_u32(self.nonce);
        out.put_u64(self.next);
        let live: Vec<&(u64, RecentSearch)> = self.ring.iter().flatten().collect();
        out.put_u64(live.len() as u64);
        for (sequence, s) in live {
            out.put_u64(*sequence);
            out.put_u32(s.query.len() as u32);
            out.put_f32s(&s.query);
            out.put_u32(s.shown.len() as u32);
            for id in &s.shown {
                out.put_str(id);
            }
            match &s.teams {
                None => out.put_u8(0),
                Some((version, teams)) => {
                    out.put_u8(1);
                    out.put_u64(*version);
                    for team in teams {
                        out.put_u8(*team as u8);
                    }
                }
            }
        }
    }

    /// Reads what [`RecentSearches::encode`] wrote into a ring of
    /// `capacity` (the newest entries win if it shrank).
    pub(super) fn decode(
        reader: &mut ByteReader<'_>,
        capacity: usize,
        dimensions: usize,
    ) -> Result<RecentSearches> {
        let nonce = reader.u32("search id nonce")?;
        let next = reader.u64("next search")?;
        let count = reader.u64("recent search count")?;
        let count = reader.check_fits(count, 8 + 4 + dimensions * 4 + 4 + 1, "recent searches")?;
        let mut recent = RecentSearches::new(capacity, nonce);
        recent.next = next;
        for _ in 0..count {
            let sequence = reader.u64("search sequence")?;
            if sequence >= next {
                return Err(reader.corrupt(format!("search {sequence} is after the next, {next}")));
            }
            let len = reader.u32("query length")? as usize;
            if len != dimensions {
                return Err(reader.corrupt(format!("a recent query has {len} dimensions")));
            }
            let query = reader.f32s(len, "recent query")?;
            if !query.iter().all(|x| x.is_finite()) {
                return Err(reader.corrupt("a recent query holds NaN or infinity"));
            }
            let shown_len = reader.u32("shown count")? as u64;
            let shown_len = reader.check_fits(shown_len, 4, "shown count")?;
            let mut shown = Vec::with_capacity(shown_len);
            for _ in 0..shown_len {
                shown.push(Arc::from(reader.str("shown id")?));
            }
            let teams = match reader.u8("interleaving flag")? {
                0 => None,
                1 => {
                    let version = reader.u64("model version")?;
                    let mut teams = Vec::with_capacity(shown_len);
                    for _ in 0..shown_len {
                        let code = reader.u8("team")?;
                        teams.push(
                            Team::from_code(code)
                                .ok_or_else(|| reader.corrupt(format!("team {code}")))?,
                        );
                    }
                    Some((version, teams))
                }
                other => return Err(reader.corrupt(format!("interleaving flag {other}"))),
            };
            let search_id = format!("{nonce:08x}-{sequence:x}");
            let entry = RecentSearch {
                search_id,
                query,
                shown,
                teams,
            };
            // Entries are written oldest slot first; keep the newest.
            let slot = (sequence % capacity as u64) as usize;
            if recent.ring[slot]
                .as_ref()
                .is_none_or(|(s, _)| *s < sequence)
            {
                recent.ring[slot] = Some((sequence, entry));
            }
        }
        Ok(recent)
    }
}

impl VectorDb {
    /// A search recorded by [`VectorDb::search`], while it is among the most
    /// recent `recent_searches`.
    pub fn recent_search(&self, search_id: &str) -> Option<RecentSearch> {
        self.lock_recent().get(search_id)
    }
}
