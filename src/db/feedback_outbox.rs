//! Feedback given to a read-only open, and its way to the process that
//! trains.
//!
//! Readers (processes that open a database `readOnly` and `refresh()` to
//! follow a writer) serve searches and are told about clicks, but cannot
//! write the file. Their feedback waits here, resolved against their own
//! recent searches, until `exportFeedback()` hands it out as one byte batch
//! for the caller to send (an IPC message, a queue, a file); the writer's
//! `importFeedback(batch)` logs it as its own. A batch carries, per session,
//! the interleaving outcome the reader saw (so wins are pooled across
//! processes), and the vectors of shown items the reader ranked without
//! holding them (a reranker's new candidates), so the writer can learn
//! them. Batches rather than a shared append-only file: no second writer
//! of any file, no file locks or tailing across processes, and the caller
//! picks the transport; a batch of 1,000 sessions at 384 dimensions is
//! about 1.6 MB.

use super::items::NewItem;
use super::queries::Hit;
use crate::error::{Error, Result};
use crate::file::{ByteReader, ByteWriter};
use crate::learn::{Outcome, Session};
use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex};

/// Sessions a reader keeps before the oldest are dropped (counted).
const MAX_SESSIONS: usize = 100_000;
/// Vectors of items not held that a reader keeps for export.
const MAX_ITEMS: usize = 50_000;
/// Credited search ids remembered, oldest forgotten first: feedback on a
/// search after 200,000 later credited ones could be credited again (if its
/// id is still in a large `recentSearches` table).
const MAX_CREDITED: usize = 2 * MAX_SESSIONS;
const MAGIC: &[u8; 4] = b"HGFB";
const FORMAT: u32 = 1;
/// Most entries reserved up front while decoding a batch (it grows past).
const RESERVE_MAX: usize = 4096;

/// A session for export, with the interleaving outcome of its search (the
/// model version it served, and who won) when it was interleaved.
#[derive(Debug, PartialEq)]
pub struct ExportedSession {
    pub session: Session,
    pub credit: Option<(u64, Outcome)>,
}

/// What a batch decodes to.
#[derive(Debug, PartialEq)]
pub struct FeedbackBatch {
    pub items: Vec<NewItem>,
    pub sessions: Vec<ExportedSession>,
}

#[derive(Default)]
struct OutboxState {
    sessions: VecDeque<ExportedSession>,
    /// Searches whose interleaving was credited already (once per search),
    /// and the order they were credited in: the oldest are forgotten first,
    /// long after their search ids left the recent-search table.
    credited: HashSet<String>,
    credited_order: VecDeque<String>,
    /// Vectors of shown items not held here, oldest first.
    items: HashMap<Arc<str>, Vec<f32>>,
    item_order: VecDeque<Arc<str>>,
    dropped: u64,
}

/// The pending feedback of a read-only open.
#[derive(Default)]
pub(super) struct FeedbackOutbox {
    state: Mutex<OutboxState>,
}

impl FeedbackOutbox {
    fn lock(&self) -> std::sync::MutexGuard<'_, OutboxState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Keeps the vectors of the `items` (not held here) that `hits` shows.
    pub fn note_items(&self, items: &[(Arc<str>, &[f32])], hits: &[Hit]) {
        let shown: HashSet<&str> = hits.iter().map(|h| &*h.id).collect();
        let mut state = self.lock();
        for (id, vector) in items.iter().filter(|(id, _)| shown.contains(&**id)) {
            if state.items.insert(id.clone(), vector.to_vec()).is_none() {
                state.item_order.push_back(id.clone());
            }
        }
        while state.item_order.len() > MAX_ITEMS {
            if let Some(old) = state.item_order.pop_front() {
                state.items.remove(&old);
            }
        }
    }

    /// Queues a session; `interleaved` is the search's outcome, credited
    /// only on the search's first feedback.
    pub fn push(&self, session: Session, interleaved: Option<(u64, Option<Outcome>)>) {
        let mut state = self.lock();
        let credit = match (interleaved, &session.search_id) {
            (Some((version, Some(outcome))), Some(id)) if state.credited.insert(id.clone()) => {
                state.credited_order.push_back(id.clone());
                Some((version, outcome))
            }
            _ => None,
        };
        state
            .sessions
            .push_back(ExportedSession { session, credit });
        while state.sessions.len() > MAX_SESSIONS {
            state.sessions.pop_front();
            state.dropped += 1;
        }
        while state.credited_order.len() > MAX_CREDITED {
            if let Some(oldest) = state.credited_order.pop_front() {
                state.credited.remove(&oldest);
            }
        }
    }

    /// Sessions waiting for export, and how many were dropped because
    /// nobody exported them in time.
    pub fn pending(&self) -> (usize, u64) {
        let state = self.lock();
        (state.sessions.len(), state.dropped)
    }

    /// Takes every pending session as one batch, with the vectors of its
    /// shown items not held here. Encoded after the lock is released
    /// (100,000 sessions are ~160 MB): feedback arriving meanwhile waits only
    /// for the drain.
    pub fn export(&self, dimensions: usize) -> Vec<u8> {
        let (sessions, items) = {
            let state = &mut *self.lock();
            let sessions: Vec<ExportedSession> = state.sessions.drain(..).collect();
            let mut items: Vec<(Arc<str>, Vec<f32>)> = Vec::new();
            let mut listed = HashSet::new();
            for s in &sessions {
                for id in s.session.shown.iter().flatten() {
                    if let Some((key, vector)) = state.items.get_key_value(id) {
                        if listed.insert(key.clone()) {
                            items.push((key.clone(), vector.clone()));
                        }
                    }
                }
            }
            (sessions, items)
        };
        encode_batch(dimensions, &items, &sessions)
    }
}

/// A batch's bytes (what [`decode_batch`] reads): the header, the items'
/// ids and vectors, then each session with its interleaving credit.
pub(super) fn encode_batch(
    dimensions: usize,
    items: &[(Arc<str>, Vec<f32>)],
    sessions: &[ExportedSession],
) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(MAGIC);
    out.put_u32(FORMAT);
    out.put_u32(dimensions as u32);
    out.put_u32(items.len() as u32);
    for (id, vector) in items {
        out.put_str(id);
        out.put_f32s(vector);
    }
    out.put_u32(sessions.len() as u32);
    for s in sessions {
        let (tag, version) = match s.credit {
            None => (0, 0),
            Some((version, Outcome::Win)) => (1, version),
            Some((version, Outcome::Loss)) => (2, version),
            Some((version, Outcome::Tie)) => (3, version),
        };
        out.put_u8(tag);
        out.put_u64(version);
        s.session.encode(&mut out);
    }
    out
}

/// Decodes a batch from [`FeedbackOutbox::export`] for a database of
/// `dimensions`; anything else is an `ERR_INVALID_ARGUMENT`.
pub fn decode_batch(bytes: &[u8], dimensions: usize) -> Result<FeedbackBatch> {
    let not_a_batch = |why: String| {
        Error::invalid_argument(format!("not a feedback batch from exportFeedback(): {why}"))
    };
    if bytes.len() < 16 || &bytes[..4] != MAGIC {
        return Err(not_a_batch("it does not start like one".into()));
    }
    let decode = || -> Result<FeedbackBatch> {
        let mut r = ByteReader::new(&bytes[4..], "feedback batch");
        let format = r.u32("format")?;
        if format != FORMAT {
            return Err(Error::invalid_argument(format!(
                "feedback batch format {format} is not one this version reads ({FORMAT})"
            )));
        }
        let batch_dimensions = r.u32("dimensions")? as usize;
        if batch_dimensions != dimensions {
            return Err(Error::DimensionMismatch {
                expected: dimensions,
                actual: batch_dimensions,
            });
        }
        let count = r.u32("item count")?;
        let count = r.check_fits(count as u64, 4 + dimensions * 4, "item count")?;
        let mut items = Vec::with_capacity(count.min(RESERVE_MAX));
        for _ in 0..count {
            let id = r.str("id")?.to_string();
            let vector = r.f32s(dimensions, "vector")?;
            items.push(NewItem {
                id: Some(id),
                vector,
                metadata: None,
            });
        }
        let count = r.u32("session count")?;
        // At least the credit, the time and the query per session; reserved
        // in bounded steps, so that a hostile count costs no more memory
        // than the bytes that back it.
        let count = r.check_fits(count as u64, 9 + 8 + 4 + 4 * dimensions, "session count")?;
        let mut sessions = Vec::with_capacity(count.min(RESERVE_MAX));
        for _ in 0..count {
            let tag = r.u8("credit")?;
            let version = r.u64("model version")?;
            let credit = match tag {
                0 => None,
                1 => Some((version, Outcome::Win)),
                2 => Some((version, Outcome::Loss)),
                3 => Some((version, Outcome::Tie)),
                other => return Err(r.corrupt(format!("credit tag {other}"))),
            };
            let session = Session::decode(&mut r)?;
            if session.query.len() != dimensions {
                return Err(r.corrupt(format!("a query has {} dimensions", session.query.len())));
            }
            sessions.push(ExportedSession { session, credit });
        }
        r.finish()?;
        Ok(FeedbackBatch { items, sessions })
    };
    decode().map_err(|e| match e {
        Error::CorruptFile { .. } => not_a_batch(e.to_string()),
        other => other,
    })
}
