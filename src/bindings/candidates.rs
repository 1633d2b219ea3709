//! The `VectorDB` methods behind index.js's `Reranker`: ranking the
//! candidates another engine found, remembering their vectors, and the
//! feedback batches that carry a reader's feedback to the writer.

use super::convert::{self, PackedText, VectorArg};
use super::db::{JsVectorDb, NumbersOut};
use super::error::{call, ErrorCode};
use super::task::Job;
use crate::db::{GivenCandidate, ImportedFeedback, NewItem};
use crate::error::Error;
use napi::bindgen_prelude::*;
use napi_derive::napi;

/// `rememberCandidates`: how many were new, how many changed.
#[napi(object, object_from_js = false)]
pub struct RememberedCandidates {
    pub inserted: u32,
    pub updated: u32,
}

/// `importFeedback`: sessions logged, and items the batch brought.
#[napi(object, object_from_js = false)]
pub struct ImportedFeedbackReport {
    pub sessions: u32,
    pub items: u32,
}

/// `expansionCandidates`: an item past similar queries clicked.
#[napi(object, object_from_js = false)]
pub struct ExpansionCandidate {
    pub id: String,
    pub metadata: Option<serde_json::Value>,
}

/// The task of `rememberCandidates`: (inserted, updated) → its report.
type RememberJob = Job<(usize, usize), RememberedCandidates>;

#[napi]
impl JsVectorDb {
    /// Ranks candidates by id (`scores`: the other engine's, NaN for none);
    /// `vector_positions[j]` is the candidate `vectors[j]` belongs to, used
    /// when this database does not hold it. Packs like `searchSync`.
    // The candidates arrive as parallel arrays, hence the arity.
    #[allow(clippy::too_many_arguments)]
    #[napi]
    pub fn rank_candidates_sync(
        &self,
        query: VectorArg,
        ids: Vec<String>,
        scores: Option<Float64Array>,
        vector_positions: Option<Vec<u32>>,
        vectors: Option<Vec<VectorArg>>,
        k: u32,
        rerank: bool,
        numbers: NumbersOut,
    ) -> Result<PackedText, ErrorCode> {
        call(|| {
            let mut owned = Vec::new();
            let query = convert::vector_slice(&query, &mut owned);
            if scores.as_ref().is_some_and(|s| s.len() != ids.len()) {
                return Err(Error::invalid_argument(
                    "scores must give one number per candidate",
                ));
            }
            let vectors: Vec<Vec<f32>> = vectors
                .iter()
                .flatten()
                .map(convert::vector_owned)
                .collect();
            let mut given: Vec<GivenCandidate<'_>> = ids
                .iter()
                .enumerate()
                .map(|(i, id)| GivenCandidate {
                    id,
                    score: scores.as_ref().map(|s| s[i] as f32).filter(|s| !s.is_nan()),
                    vector: None,
                })
                .collect();
            let positions = vector_positions.unwrap_or_default();
            if positions.len() != vectors.len() {
                return Err(Error::invalid_argument("one position per candidate vector"));
            }
            for (&at, vector) in positions.iter().zip(&vectors) {
                let candidate = given.get_mut(at as usize).ok_or_else(|| {
                    Error::invalid_argument("a candidate vector's position is out of range")
                })?;
                candidate.vector = Some(vector);
            }
            let results = self
                .core()
                .rank_candidates(query, &given, k as usize, rerank)?;
            convert::pack(results, k as usize, numbers)
        })
    }

    /// Items past similar queries clicked that `given` lacks (see
    /// `VectorDb::expansion_candidates`).
    #[napi]
    pub fn expansion_candidates(
        &self,
        query: VectorArg,
        given: Vec<String>,
        limit: u32,
    ) -> Result<Vec<ExpansionCandidate>, ErrorCode> {
        call(|| {
            let mut owned = Vec::new();
            let query = convert::vector_slice(&query, &mut owned);
            let given: Vec<&str> = given.iter().map(String::as_str).collect();
            Ok(self
                .core()
                .expansion_candidates(query, &given, limit as usize)?
                .into_iter()
                .map(|(id, metadata)| ExpansionCandidate {
                    id: id.to_string(),
                    metadata: metadata.map(|m| serde_json::Value::Object((*m).clone())),
                })
                .collect())
        })
    }

    /// The `count` items least recently named in a candidate list, none of
    /// `keep`, oldest first.
    #[napi]
    pub fn least_recently_seen(
        &self,
        count: u32,
        keep: Vec<String>,
    ) -> Result<Vec<String>, ErrorCode> {
        let keep: Vec<&str> = keep.iter().map(String::as_str).collect();
        call(|| self.core().least_recently_seen(count as usize, &keep))
    }

    /// Positions in `ids` of the ids this database does not hold.
    #[napi]
    pub fn unheld(&self, ids: Vec<String>) -> Result<Vec<u32>, ErrorCode> {
        call(|| self.core().unheld(ids.iter().map(String::as_str)))
    }

    /// Stores candidates not held yet and updates changed vectors (see
    /// `VectorDb::remember_candidates`); vectors laid end to end.
    #[napi]
    pub fn remember_candidates(
        &self,
        ids: Vec<String>,
        vectors: Float32Array,
        metadata: Option<Vec<Option<String>>>,
    ) -> Result<AsyncTask<RememberJob>, ErrorCode> {
        let core = self.core();
        let items = call(|| {
            let batch =
                convert::flat_items_to_core(Some(ids), &vectors, metadata, core.dimensions())?;
            let dimensions = core.dimensions();
            Ok(batch
                .ids
                .into_iter()
                .enumerate()
                .map(|(i, id)| NewItem {
                    id,
                    vector: batch.vectors[i * dimensions..(i + 1) * dimensions].to_vec(),
                    metadata: batch.metadata.get(i).cloned().flatten(),
                })
                .collect::<Vec<_>>())
        })?;
        Ok(Job::spawn(
            move || core.remember_candidates(items),
            |(inserted, updated)| RememberedCandidates {
                inserted: inserted as u32,
                updated: updated as u32,
            },
        ))
    }

    /// The feedback a read-only open took since the last export.
    #[napi]
    pub fn export_feedback(&self) -> Result<Buffer, ErrorCode> {
        call(|| self.core().export_feedback()).map(Buffer::from)
    }

    #[napi]
    pub fn import_feedback(
        &self,
        batch: Buffer,
    ) -> AsyncTask<Job<ImportedFeedback, ImportedFeedbackReport>> {
        let core = self.core();
        let batch = batch.to_vec();
        Job::spawn(
            move || core.import_feedback(&batch),
            |report| ImportedFeedbackReport {
                sessions: report.sessions as u32,
                items: report.items as u32,
            },
        )
    }
}
