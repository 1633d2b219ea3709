//! The feedback log: the last `capacity` sessions (a query, the ranked list
//! shown for it, which positions were clicked and which converted), each
//! weighted by its age so that the learner follows what users want now.
//!
//! Items are kept by id, not by slot, so the log survives compaction and
//! renumbering; a deleted item is forgotten (its entries become holes, so
//! the positions, which carry the position bias, stay as they were shown).

use crate::error::Result;
use crate::file::{ByteReader, ByteWriter};
use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

/// How much the log keeps and how fast old sessions fade.
#[derive(Clone, Debug, PartialEq)]
pub struct FeedbackSettings {
    /// Sessions kept; the oldest is dropped when a new one comes in.
    pub capacity: usize,
    /// A session's weight halves every this many newer sessions.
    pub half_life_sessions: f64,
    /// And, if set, every this many milliseconds of age.
    pub half_life_ms: Option<f64>,
    /// A conversion counts this many clicks.
    pub conversion_weight: f32,
}

impl Default for FeedbackSettings {
    fn default() -> FeedbackSettings {
        FeedbackSettings {
            capacity: 10_000,
            half_life_sessions: 5_000.0,
            half_life_ms: None,
            conversion_weight: 3.0,
        }
    }
}

/// One search's feedback.
#[derive(Clone, Debug, PartialEq)]
pub struct Session {
    /// The search it answers, when this database served it: repeated
    /// feedback for the same search merges into one session.
    pub search_id: Option<String>,
    pub query: Vec<f32>,
    /// The ids shown, best first; `None` where the item was deleted since.
    pub shown: Vec<Option<Arc<str>>>,
    /// Positions in `shown` that were clicked, ascending.
    pub clicked: Vec<u32>,
    /// Positions that converted, ascending; each was clicked.
    pub converted: Vec<u32>,
    /// When the feedback arrived, milliseconds since the Unix epoch.
    pub at_ms: u64,
}

impl Session {
    /// Appends the session's bytes (the log section and the write-ahead
    /// log's feedback records use the same form).
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.put_u64(self.at_ms);
        out.put_optional_bytes(self.search_id.as_deref().map(str::as_bytes));
        out.put_u32(self.query.len() as u32);
        out.put_f32s(&self.query);
        out.put_u32(self.shown.len() as u32);
        for id in &self.shown {
            out.put_optional_bytes(id.as_deref().map(str::as_bytes));
        }
        for positions in [&self.clicked, &self.converted] {
            out.put_u32(positions.len() as u32);
            for &p in positions {
                out.put_u32(p);
            }
        }
    }

    /// Reads what [`Session::encode`] wrote, checking every position.
    pub fn decode(r: &mut ByteReader<'_>) -> Result<Session> {
        let at_ms = r.u64("time")?;
        let search_id = r.optional_str("search id")?.map(str::to_owned);
        let dim = r.u32("query length")? as usize;
        let dim = r.check_fits(dim as u64, 4, "query length")?;
        let query = r.f32s(dim, "query")?;
        if !query.iter().all(|x| x.is_finite()) {
            return Err(r.corrupt("a session's query holds NaN or infinity"));
        }
        let shown_len = r.u32("shown length")? as usize;
        let shown_len = r.check_fits(shown_len as u64, 4, "shown length")?;
        // An entry is 16 bytes to at least 4 read: reserve in bounded steps.
        let mut shown = Vec::with_capacity(shown_len.min(1024));
        for _ in 0..shown_len {
            shown.push(r.optional_str("shown id")?.map(Arc::from));
        }
        let mut lists = [Vec::new(), Vec::new()];
        for (list, what) in lists.iter_mut().zip(["clicked", "converted"]) {
            let len = r.u32(what)? as usize;
            let len = r.check_fits(len as u64, 4, what)?;
            for _ in 0..len {
                let p = r.u32(what)?;
                if p as usize >= shown_len || list.last().is_some_and(|&last: &u32| last >= p) {
                    return Err(r.corrupt(format!(
                        "{what} position {p} of {shown_len} shown, or out of order"
                    )));
                }
                list.push(p);
            }
        }
        let [clicked, converted] = lists;
        if converted.iter().any(|p| clicked.binary_search(p).is_err()) {
            return Err(r.corrupt("a converted position that was not clicked"));
        }
        Ok(Session {
            search_id,
            query,
            shown,
            clicked,
            converted,
            at_ms,
        })
    }

    /// Turns the shown items `gone` says are gone into holes, with their
    /// clicks and conversions; returns how many there were.
    pub fn forget(&mut self, gone: impl Fn(&str) -> bool) -> usize {
        let mut forgotten = 0;
        for (position, shown) in self.shown.iter_mut().enumerate() {
            if shown.as_deref().is_some_and(&gone) {
                *shown = None;
                forgotten += 1;
                let position = position as u32;
                self.clicked.retain(|&p| p != position);
                self.converted.retain(|&p| p != position);
            }
        }
        forgotten
    }

    /// The click weight of the item at `position`: 0 if not clicked, 1 per
    /// click, `conversion_weight` if it converted.
    pub fn click_weight(&self, position: u32, conversion_weight: f32) -> f32 {
        if self.converted.binary_search(&position).is_ok() {
            conversion_weight
        } else if self.clicked.binary_search(&position).is_ok() {
            1.0
        } else {
            0.0
        }
    }
}

/// The ring of recent sessions. Every session gets a sequence number; age in
/// sessions is the difference to the newest.
pub struct FeedbackLog {
    settings: FeedbackSettings,
    /// Ascending by sequence (purges leave gaps, never reorder). Shared,
    /// so a training snapshot is a copy of pointers (the log's lock is held
    /// for microseconds), and a session changed later is copied on write.
    sessions: VecDeque<(u64, Arc<Session>)>,
    next_sequence: u64,
    /// Search id -> sequence of the session it was logged as.
    by_search: HashMap<String, u64>,
    /// No session arrived before this (a lower bound: merging only moves a
    /// session's time later), so a retention check that purges nothing
    /// costs nothing.
    oldest_ms: u64,
}

impl FeedbackLog {
    pub fn new(settings: FeedbackSettings) -> FeedbackLog {
        FeedbackLog {
            settings,
            sessions: VecDeque::new(),
            next_sequence: 0,
            by_search: HashMap::new(),
            oldest_ms: u64::MAX,
        }
    }

    pub fn settings(&self) -> &FeedbackSettings {
        &self.settings
    }

    pub fn len(&self) -> usize {
        self.sessions.len()
    }

    /// Whether feedback for `search_id` is logged (a new call merges).
    pub fn has_search(&self, search_id: &str) -> bool {
        self.by_search.contains_key(search_id)
    }

    pub fn is_empty(&self) -> bool {
        self.sessions.is_empty()
    }

    /// Heap bytes held, approximately (queries, shown ids, positions).
    pub fn heap_bytes(&self) -> usize {
        self.sessions
            .iter()
            .map(|(_, s)| {
                160 + s.query.len() * 4
                    + s.shown.len() * 16
                    + (s.clicked.len() + s.converted.len()) * 4
                    + s.search_id.as_ref().map_or(0, |id| id.len() * 2 + 48)
            })
            .sum()
    }

    /// Logs a session, or merges it into the logged session of the same
    /// search (clicks and conversions are united; the later time is kept).
    /// Returns the session's sequence number.
    pub fn record(&mut self, mut session: Session) -> u64 {
        let logged = session
            .search_id
            .as_ref()
            .and_then(|id| self.by_search.get(id))
            .copied();
        if let Some(sequence) = logged {
            let index = self
                .sessions
                .binary_search_by_key(&sequence, |(s, _)| *s)
                .expect("by_search names only logged sessions");
            if self.sessions[index].1.shown == session.shown {
                let logged = Arc::make_mut(&mut self.sessions[index].1);
                unite(&mut logged.clicked, &session.clicked);
                unite(&mut logged.converted, &session.converted);
                logged.at_ms = logged.at_ms.max(session.at_ms);
                return sequence;
            }
            // Another search under the same id (a database opened before
            // search ids were unique across runs reused them): its click
            // positions index its own shown list, so it is logged on its
            // own, unnamed — the log names each search once.
            session.search_id = None;
        }
        let sequence = self.next_sequence;
        self.next_sequence += 1;
        self.oldest_ms = self.oldest_ms.min(session.at_ms);
        if let Some(id) = &session.search_id {
            self.by_search.insert(id.clone(), sequence);
        }
        self.sessions.push_back((sequence, Arc::new(session)));
        self.trim_to_capacity();
        sequence
    }

    fn trim_to_capacity(&mut self) {
        while self.sessions.len() > self.settings.capacity {
            if let Some((_, dropped)) = self.sessions.pop_front() {
                self.unindex(&dropped);
            }
        }
    }

    fn unindex(&mut self, dropped: &Session) {
        if let Some(id) = &dropped.search_id {
            self.by_search.remove(id);
        }
    }

    /// The decay weight of the session with `sequence` and time `at_ms`, as
    /// of `now_ms`: 1 for the newest, halving every half-life.
    pub fn age_weight(&self, sequence: u64, at_ms: u64, now_ms: u64) -> f64 {
        let newest = self.next_sequence.saturating_sub(1);
        let by_count =
            0.5f64.powf((newest - sequence.min(newest)) as f64 / self.settings.half_life_sessions);
        let by_time = match self.settings.half_life_ms {
            Some(half_life) => 0.5f64.powf(now_ms.saturating_sub(at_ms) as f64 / half_life),
            None => 1.0,
        };
        by_count * by_time
    }

    /// Every logged session, oldest first, with its age weight as of `now_ms`.
    pub fn weighted(&self, now_ms: u64) -> impl Iterator<Item = (f64, &Arc<Session>)> {
        self.sessions
            .iter()
            .map(move |(sequence, s)| (self.age_weight(*sequence, s.at_ms, now_ms), s))
    }

    /// Forgets a deleted item: it leaves holes where it was shown, so it
    /// never comes back through learning. Returns how many entries it had.
    pub fn forget_item(&mut self, id: &str) -> usize {
        let mut forgotten = 0;
        for (_, session) in self.sessions.iter_mut() {
            if !session
                .shown
                .iter()
                .any(|shown| shown.as_deref() == Some(id))
            {
                continue;
            }
            forgotten += Arc::make_mut(session).forget(|shown| shown == id);
        }
        forgotten
    }

    /// Drops every session whose feedback arrived before `before_ms` (the
    /// log holds query vectors, so it has a retention limit). Returns how
    /// many were dropped.
    pub fn purge_before(&mut self, before_ms: u64) -> usize {
        if before_ms <= self.oldest_ms {
            return 0;
        }
        let (kept, dropped): (VecDeque<_>, VecDeque<_>) = std::mem::take(&mut self.sessions)
            .into_iter()
            .partition(|(_, s)| s.at_ms >= before_ms);
        self.sessions = kept;
        self.oldest_ms = self
            .sessions
            .iter()
            .map(|(_, s)| s.at_ms)
            .min()
            .unwrap_or(u64::MAX);
        for (_, session) in &dropped {
            self.unindex(session);
        }
        dropped.len()
    }

    /// The log as bytes for the database file's feedback section.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        out.put_u64(self.next_sequence);
        out.put_u64(self.sessions.len() as u64);
        for (sequence, s) in &self.sessions {
            out.put_u64(*sequence);
            s.encode(&mut out);
        }
        out
    }

    /// Reads what [`FeedbackLog::encode`] wrote; a damaged section is an
    /// `ERR_CORRUPT_FILE` naming what is wrong, never a panic.
    pub fn decode(bytes: &[u8], settings: FeedbackSettings) -> Result<FeedbackLog> {
        let mut r = ByteReader::new(bytes, "feedback");
        let next_sequence = r.u64("next sequence")?;
        // Far beyond any real count (one session per nanosecond for a
        // century is 2^62): a larger one is corrupt and would wrap.
        if next_sequence > 1 << 62 {
            return Err(r.corrupt(format!("next sequence {next_sequence}")));
        }
        let count = r.count(8 + 8 + 4 + 4 + 4 + 4 + 4, "session count")?;
        let mut sessions = VecDeque::with_capacity(count);
        for _ in 0..count {
            let sequence = r.u64("sequence")?;
            if sequence >= next_sequence
                || sessions.back().is_some_and(|(last, _)| *last >= sequence)
            {
                return Err(r.corrupt(format!("session sequence {sequence} out of order")));
            }
            let session = Session::decode(&mut r)?;
            sessions.push_back((sequence, Arc::new(session)));
        }
        r.finish()?;
        let by_search = sessions
            .iter()
            .filter_map(|(sequence, s)| s.search_id.clone().map(|id| (id, *sequence)))
            .collect::<HashMap<_, _>>();
        if by_search.len()
            != sessions
                .iter()
                .filter(|(_, s)| s.search_id.is_some())
                .count()
        {
            return Err(r.corrupt("two sessions for one search id"));
        }
        let oldest_ms = sessions
            .iter()
            .map(|(_, s)| s.at_ms)
            .min()
            .unwrap_or(u64::MAX);
        let mut log = FeedbackLog {
            settings,
            sessions,
            next_sequence,
            by_search,
            oldest_ms,
        };
        log.trim_to_capacity();
        Ok(log)
    }
}

/// `into` ∪ `from`, both ascending and unique.
fn unite(into: &mut Vec<u32>, from: &[u32]) {
    into.extend_from_slice(from);
    into.sort_unstable();
    into.dedup();
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session(
        search_id: Option<&str>,
        shown: &[&str],
        clicked: &[u32],
        converted: &[u32],
        at_ms: u64,
    ) -> Session {
        Session {
            search_id: search_id.map(str::to_owned),
            query: vec![0.25, -1.5, 3.0],
            shown: shown.iter().map(|s| Some(Arc::from(*s))).collect(),
            clicked: clicked.to_vec(),
            converted: converted.to_vec(),
            at_ms,
        }
    }

    fn settings(capacity: usize) -> FeedbackSettings {
        FeedbackSettings {
            capacity,
            half_life_sessions: 2.0,
            half_life_ms: None,
            conversion_weight: 3.0,
        }
    }

    #[test]
    fn the_ring_keeps_the_newest_sessions() {
        let mut log = FeedbackLog::new(settings(3));
        for i in 0..5u64 {
            assert_eq!(log.record(session(None, &["a", "b"], &[0], &[], i)), i);
        }
        let times: Vec<u64> = log.weighted(10).map(|(_, s)| s.at_ms).collect();
        assert_eq!(times, vec![2, 3, 4]);
    }

    #[test]
    fn feedback_for_a_different_search_under_a_logged_id_is_kept_apart_and_the_log_stays_readable()
    {
        let mut log = FeedbackLog::new(settings(10));
        let first = log.record(session(Some("s-1"), &["a"], &[0], &[], 1));
        // The same id again with the same list merges...
        assert_eq!(
            log.record(session(Some("s-1"), &["a"], &[0], &[0], 2)),
            first
        );
        // ...with another list (a reused id), positions past the first
        // list's end must not merge into it.
        let second = log.record(session(Some("s-1"), &["b", "c", "d"], &[2], &[], 3));
        assert_ne!(second, first);
        assert_eq!(log.len(), 2);
        let decoded = FeedbackLog::decode(&log.encode(), settings(10)).expect("the log reads back");
        let sessions: Vec<(Option<String>, Vec<u32>)> = decoded
            .weighted(10)
            .map(|(_, s)| (s.search_id.clone(), s.clicked.clone()))
            .collect();
        assert_eq!(
            sessions,
            vec![(Some("s-1".into()), vec![0]), (None, vec![2])]
        );
    }

    #[test]
    fn weight_halves_every_half_life_in_sessions_and_time() {
        let mut log = FeedbackLog::new(FeedbackSettings {
            half_life_ms: Some(1000.0),
            ..settings(10)
        });
        for i in 0..5 {
            log.record(session(None, &["a"], &[0], &[], 1000 * i));
        }
        let weights: Vec<f64> = log.weighted(4000).map(|(w, _)| w).collect();
        // Session i is 4 - i sessions old (half-life 2) and 4000 - 1000 i ms old (half-life 1000).
        for (i, w) in weights.iter().enumerate() {
            let age = (4 - i) as f64;
            let expected = 0.5f64.powf(age / 2.0) * 0.5f64.powf(age);
            assert!(
                (w - expected).abs() < 1e-12,
                "session {i}: {w} vs {expected}"
            );
        }
    }

    #[test]
    fn feedback_for_the_same_search_merges() {
        let mut log = FeedbackLog::new(settings(10));
        let first = log.record(session(Some("s1"), &["a", "b", "c"], &[2], &[], 5));
        log.record(session(Some("s2"), &["x"], &[0], &[], 6));
        let again = log.record(session(Some("s1"), &["a", "b", "c"], &[0, 2], &[2], 9));
        assert_eq!(first, again);
        assert_eq!(log.len(), 2);
        let merged = log
            .weighted(9)
            .map(|(_, s)| s)
            .find(|s| s.search_id.as_deref() == Some("s1"))
            .unwrap();
        assert_eq!(
            (
                merged.clicked.as_slice(),
                merged.converted.as_slice(),
                merged.at_ms
            ),
            (&[0, 2][..], &[2][..], 9)
        );
        assert_eq!(merged.click_weight(2, 3.0), 3.0);
        assert_eq!(merged.click_weight(0, 3.0), 1.0);
        assert_eq!(merged.click_weight(1, 3.0), 0.0);
    }

    #[test]
    fn a_search_dropped_from_the_ring_or_purged_starts_a_new_session() {
        let mut log = FeedbackLog::new(settings(2));
        let first = log.record(session(Some("s1"), &["a"], &[0], &[], 1));
        log.record(session(Some("s2"), &["a"], &[0], &[], 2));
        log.record(session(Some("s3"), &["a"], &[0], &[], 3));
        assert_ne!(log.record(session(Some("s1"), &["a"], &[0], &[], 4)), first);
        assert_eq!(log.purge_before(4), 1);
        let s3 = log.record(session(Some("s3"), &["a"], &[0], &[], 5));
        assert_eq!(log.len(), 2);
        assert_eq!(log.record(session(Some("s3"), &["a"], &[], &[], 6)), s3);
        let decoded = FeedbackLog::decode(&log.encode(), settings(2)).unwrap();
        assert_eq!(decoded.by_search, log.by_search);
    }

    #[test]
    fn a_deleted_item_leaves_a_hole_and_its_clicks_go() {
        let mut log = FeedbackLog::new(settings(10));
        log.record(session(None, &["a", "b", "c"], &[1, 2], &[1], 1));
        log.record(session(None, &["b", "d"], &[0], &[], 2));
        assert_eq!(log.forget_item("b"), 2);
        let sessions: Vec<&Session> = log.weighted(2).map(|(_, s)| &**s).collect();
        assert_eq!(
            sessions[0].shown,
            vec![Some(Arc::from("a")), None, Some(Arc::from("c"))]
        );
        assert_eq!(
            (
                sessions[0].clicked.as_slice(),
                sessions[0].converted.as_slice()
            ),
            (&[2][..], &[][..])
        );
        assert!(sessions[1].clicked.is_empty());
        assert_eq!(log.forget_item("b"), 0);
    }

    #[test]
    fn purge_drops_sessions_before_a_time() {
        let mut log = FeedbackLog::new(settings(10));
        for t in [10, 20, 30] {
            log.record(session(None, &["a"], &[0], &[], t));
        }
        assert_eq!(log.purge_before(25), 2);
        assert_eq!(
            log.weighted(30).map(|(_, s)| s.at_ms).collect::<Vec<_>>(),
            vec![30]
        );
    }

    #[test]
    fn the_codec_round_trips_and_refuses_damage() {
        let mut log = FeedbackLog::new(settings(10));
        log.record(session(Some("s1"), &["a", "b", "c"], &[0, 2], &[2], 7));
        log.record(session(None, &["é", "b"], &[], &[], 8));
        log.forget_item("b");
        let bytes = log.encode();
        let back = FeedbackLog::decode(&bytes, settings(10)).unwrap();
        assert_eq!(back.encode(), bytes);
        assert_eq!(
            back.weighted(8)
                .map(|(w, s)| (w, s.clone()))
                .collect::<Vec<_>>(),
            log.weighted(8)
                .map(|(w, s)| (w, s.clone()))
                .collect::<Vec<_>>()
        );
        // Every truncation is refused, never a panic.
        for cut in 0..bytes.len() {
            assert_eq!(
                FeedbackLog::decode(&bytes[..cut], settings(10))
                    .err()
                    .map(|e| e.code()),
                Some("ERR_CORRUPT_FILE"),
                "cut at {cut}"
            );
        }
        // A converted position that was not clicked is refused.
        let mut bad = FeedbackLog::new(settings(10));
        bad.record(session(None, &["a", "b"], &[0], &[1], 1));
        assert!(FeedbackLog::decode(&bad.encode(), settings(10)).is_err());
        // A smaller capacity keeps the newest.
        assert_eq!(FeedbackLog::decode(&bytes, settings(1)).unwrap().len(), 1);
    }
}
