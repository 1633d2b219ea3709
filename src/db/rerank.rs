//! Search with a serving model: base search to `rerankDepth` candidates,
//! plus the items similar past queries clicked (each must pass the search's
//! filter and be live, like any other candidate), ordered by
//! `base + g(q, i)` and cut to `k`. A share `explore` of searches shows a
//! team-draft interleaving of the base and learned orders instead; which
//! ones follows from the search id.
//!
//! `rank_candidates` does the same for candidates another engine found
//! (items stored here by id, with that engine's scores): the learned
//! reranker beside Postgres/pgvector or LanceDB builds on it.

use super::items::{Catalog, Metadata};
use super::queries::{Hit, SearchOptions, SearchResults};
use super::recent::RecentSearch;
use super::vector_db::VectorDb;
use crate::error::Result;
use crate::hnsw::MAX_K;
use crate::learn::fast_hash::FastSet;
use crate::learn::interleave::{explores, search_hash, team_draft};
use crate::learn::{Model, QueryContext};
use std::sync::{Arc, RwLockReadGuard};

/// Extra candidates from the memory, at most this share of the depth.
const EXPANSION_SHARE: usize = 2;

struct Candidate {
    /// [`NOT_HELD`] for a candidate given with its vector that this
    /// database does not store (a read-only reranker's new items).
    slot: u32,
    distance: f32,
    base_score: f32,
    score: f32,
    /// The id of a candidate not held here.
    outside: Option<Arc<str>>,
}

/// The slot of a candidate not stored here: no learned score, no metadata.
const NOT_HELD: u32 = u32::MAX;

impl Candidate {
    /// The hit this candidate shows as, if its slot still holds an item.
    fn hit(&self, catalog: &Catalog) -> Option<Hit> {
        if let Some(id) = &self.outside {
            return Some(Hit {
                id: id.clone(),
                score: self.score,
                base_score: self.base_score,
                distance: self.distance,
                metadata: None,
            });
        }
        Some(Hit {
            id: catalog.ids[self.slot as usize].clone()?,
            score: self.score,
            base_score: self.base_score,
            distance: self.distance,
            metadata: catalog.metadata[self.slot as usize].clone(),
        })
    }
}

/// An item past similar queries clicked: its id and metadata.
pub type ExpansionItem = (Arc<str>, Option<Arc<Metadata>>);

/// The live slots of the items past queries similar to the context's
/// clicked, strongest first, at most `limit`. Found by the slot the model
/// bound them to while that slot still holds them (no hashing), else by id
/// (moved by an update since).
fn expansion_slots(
    catalog: &Catalog,
    model: &Model,
    context: &QueryContext<'_>,
    limit: usize,
) -> Vec<u32> {
    let live = |slot: u32| catalog.ids.get(slot as usize).is_some_and(Option::is_some);
    context
        .expansion(limit)
        .into_iter()
        .filter_map(|row| {
            model
                .bound_slot(row)
                .filter(|&slot| live(slot))
                .or_else(|| catalog.slot_of.get(&model.id(row)))
        })
        .collect()
}

impl VectorDb {
    /// The items past queries similar to `query` clicked (ids and
    /// metadata), strongest first, at most `limit`, none of `given`: what a
    /// reranker may add to another engine's candidates when its caller
    /// opts in and vets each (tenant, filter). Empty while no model serves.
    pub fn expansion_candidates(
        &self,
        query: &[f32],
        given: &[&str],
        limit: usize,
    ) -> Result<Vec<ExpansionItem>> {
        self.check_open()?;
        let prepared = self.index.prepare(query, "query")?;
        let Some(model) = self.learner.serving() else {
            return Ok(Vec::new());
        };
        let context = model.context(&prepared, &self.index);
        let catalog = self.read_catalog();
        let given: FastSet<u32> = given
            .iter()
            .filter_map(|id| catalog.slot_of.get(id))
            .collect();
        Ok(
            expansion_slots(&catalog, &model, &context, limit.min(MAX_K))
                .into_iter()
                .filter(|slot| !given.contains(slot))
                .filter_map(|slot| {
                    let id = catalog.ids[slot as usize].clone()?;
                    Some((id, catalog.metadata[slot as usize].clone()))
                })
                .collect(),
        )
    }

    pub(super) fn search_learned(
        &self,
        query: &[f32],
        options: &SearchOptions,
        model: &Arc<Model>,
    ) -> Result<SearchResults> {
        let settings = self.learner.settings();
        let depth = options.k.max(settings.rerank_depth).min(MAX_K);
        let ef = options
            .ef_search
            .unwrap_or(self.index.params().ef_search)
            .max(depth)
            .min(MAX_K);
        let metric = self.index.metric();
        let prepared = self.index.prepare(query, "query")?;
        let catalog = self.read_catalog();
        let found = self.base_candidates(&catalog, &prepared, options, depth, Some(ef))?;
        let context = model.context(&prepared, &self.index);
        let mut seen: FastSet<u32> = found.iter().map(|n| n.slot).collect();
        let mut candidates: Vec<Candidate> = found
            .into_iter()
            .map(|n| Candidate {
                slot: n.slot,
                distance: n.distance,
                base_score: metric.score(n.distance),
                score: 0.0,
                outside: None,
            })
            .collect();
        // Past-query candidates: live, passing the filter, not found already.
        let extra: Vec<u32> =
            expansion_slots(&catalog, model, &context, depth / EXPANSION_SHARE)
                .into_iter()
                .filter(|&slot| {
                    options.filter.as_ref().is_none_or(|filter| {
                        filter.matches(catalog.metadata[slot as usize].as_deref())
                    }) && seen.insert(slot)
                })
                .collect();
        let distances = self.index.distances_to(&prepared, &extra);
        for (&slot, distance) in extra.iter().zip(distances) {
            let Some(distance) = distance else { continue };
            candidates.push(Candidate {
                slot,
                distance,
                base_score: metric.score(distance),
                score: 0.0,
                outside: None,
            });
        }
        self.serve_ranked(query, catalog, &context, candidates, options.k, model)
    }

    /// Scores `candidates` (`base + g(q, i)` under the serving `model`),
    /// orders them — or, for a share `explore` of searches, interleaves the
    /// base and learned orders — cuts them to `k`, and remembers what was
    /// shown under a new search id for feedback. What a learned search does
    /// after it has gathered its candidates, wherever they came from.
    fn serve_ranked(
        &self,
        query: &[f32],
        catalog: RwLockReadGuard<'_, Catalog>,
        context: &QueryContext<'_>,
        mut candidates: Vec<Candidate>,
        k: usize,
        model: &Arc<Model>,
    ) -> Result<SearchResults> {
        let settings = self.learner.settings();
        for c in candidates.iter().filter(|c| c.outside.is_none()) {
            context.prefetch(c.slot);
            if let Some(entry) = catalog.ids.get(c.slot as usize) {
                crate::distance::prefetch_bytes((entry as *const Option<Arc<str>>).cast());
            }
        }
        for c in candidates.iter_mut().filter(|c| c.outside.is_none()) {
            let id = catalog.ids[c.slot as usize].as_deref().unwrap_or("");
            c.score = c.base_score + context.learned_score(id, c.slot);
        }
        // The first `keep` candidates by `key`, best first (ties by slot).
        let by = |key: fn(&Candidate) -> f32, keep: usize| {
            let order_of = |&a: &u32, &b: &u32| {
                let (a, b) = (&candidates[a as usize], &candidates[b as usize]);
                key(b).total_cmp(&key(a)).then(a.slot.cmp(&b.slot))
            };
            let mut order: Vec<u32> = (0..candidates.len() as u32).collect();
            if keep < order.len() {
                order.select_nth_unstable_by(keep, order_of);
                order.truncate(keep);
            }
            order.sort_unstable_by(order_of);
            order
        };
        let (sequence, search_id) = self.lock_recent().reserve();
        let hash = search_hash(&search_id);
        let (shown, teams) = if explores(hash, settings.explore) {
            // Team draft may walk past the other team's picks: whole orders.
            let all = candidates.len();
            let (shown, teams) =
                team_draft(&by(|c| c.base_score, all), &by(|c| c.score, all), k, hash);
            (shown, Some((model.version, teams)))
        } else {
            (by(|c| c.score, k), None)
        };
        let hits: Vec<Hit> = shown
            .iter()
            .filter_map(|&i| candidates[i as usize].hit(&catalog))
            .collect();
        // The catalog is released before the recent searches are locked.
        drop(catalog);
        self.lock_recent().store(
            sequence,
            RecentSearch {
                search_id: search_id.clone(),
                query: query.to_vec(),
                shown: hits.iter().map(|h| h.id.clone()).collect(),
                teams,
            },
        );
        Ok(SearchResults { search_id, hits })
    }
}

/// A candidate another engine found for a query: an item this database
/// stores (by id), or one given with its vector, with that engine's score
/// when it gave one.
#[derive(Clone, Copy, Debug)]
pub struct GivenCandidate<'a> {
    pub id: &'a str,
    /// The other engine's score on this database's scale (higher is
    /// better); `None` scores the item by this database's metric, as its
    /// own search would.
    pub score: Option<f32>,
    /// The item's vector, used only when this database does not store the
    /// id: such a candidate is ranked by its base score alone (no model
    /// knows it) instead of being an error.
    pub vector: Option<&'a [f32]>,
}

impl VectorDb {
    /// The best `k` of `candidates` for `query`, recorded under a fresh
    /// search id for feedback: ordered by the serving model (`base + g(q,
    /// i)`, interleaved for a share `explore` like any learned search) when
    /// `rerank` and a model serves, else by their base scores. Only the
    /// candidates are ranked: nothing the other engine did not return
    /// comes back. Repeated ids count once (the first).
    pub fn rank_candidates(
        &self,
        query: &[f32],
        candidates: &[GivenCandidate<'_>],
        k: usize,
        rerank: bool,
    ) -> Result<SearchResults> {
        self.check_open()?;
        crate::hnsw::validate_k(k)?;
        if candidates.len() > MAX_K {
            return Err(crate::error::Error::invalid_argument(format!(
                "at most {MAX_K} candidates can be ranked, got {}",
                candidates.len()
            )));
        }
        if let Some(bad) = candidates
            .iter()
            .find(|c| c.score.is_some_and(|s| !s.is_finite()))
        {
            return Err(crate::error::Error::invalid_argument(format!(
                "candidate {:?} has a score that is not a finite number",
                bad.id
            )));
        }
        let prepared = self.index.prepare(query, "query")?;
        let metric = self.index.metric();
        let catalog = self.read_catalog();
        let mut seen: FastSet<u32> = FastSet::default();
        let mut outside_seen = std::collections::HashSet::new();
        let mut slots = Vec::with_capacity(candidates.len());
        let mut given = Vec::with_capacity(candidates.len());
        let mut outside = Vec::new();
        // Shown items not held here travel with exported feedback, so the
        // process that trains can learn them.
        let mut outside_items: Vec<(Arc<str>, &[f32])> = Vec::new();
        for c in candidates {
            match (catalog.slot_of.get(c.id), c.vector) {
                (Some(slot), _) => {
                    if seen.insert(slot) {
                        slots.push(slot);
                        given.push(c.score);
                    }
                }
                (None, Some(given_vector)) => {
                    let vector = self.index.prepare(given_vector, "a candidate's vector")?;
                    if outside_seen.insert(c.id) {
                        super::items::validate_id(c.id)?;
                        let distance = self.index.distance_between(&prepared, &vector);
                        let base_score = c.score.unwrap_or_else(|| metric.score(distance));
                        outside.push(Candidate {
                            slot: NOT_HELD,
                            distance,
                            base_score,
                            score: base_score,
                            outside: Some(Arc::from(c.id)),
                        });
                        outside_items.push((Arc::from(c.id), given_vector));
                    }
                }
                (None, None) => return Err(crate::error::Error::NotFound(c.id.to_string())),
            }
        }
        self.seen.touch(&slots);
        let distances = self.index.distances_to(&prepared, &slots);
        let mut candidates: Vec<Candidate> = slots
            .iter()
            .zip(given)
            .zip(distances)
            .filter_map(|((&slot, score), distance)| {
                let distance = distance?;
                let base_score = score.unwrap_or_else(|| metric.score(distance));
                Some(Candidate {
                    slot,
                    distance,
                    base_score,
                    score: base_score,
                    outside: None,
                })
            })
            .collect();
        candidates.extend(outside);
        let results = self.rank_gathered(query, &prepared, catalog, candidates, k, rerank)?;
        if !outside_items.is_empty() && self.is_read_only() {
            self.outbox.note_items(&outside_items, &results.hits);
        }
        Ok(results)
    }

    fn rank_gathered(
        &self,
        query: &[f32],
        prepared: &[f32],
        catalog: RwLockReadGuard<'_, Catalog>,
        candidates: Vec<Candidate>,
        k: usize,
        rerank: bool,
    ) -> Result<SearchResults> {
        if rerank {
            if let Some(model) = self.learner.serving() {
                let context = model.context(prepared, &self.index);
                return self.serve_ranked(query, catalog, &context, candidates, k, &model);
            }
        }
        // Base order: by the given (or metric) score, ties by position.
        let mut order: Vec<usize> = (0..candidates.len()).collect();
        order.sort_by(|&a, &b| {
            candidates[b]
                .base_score
                .total_cmp(&candidates[a].base_score)
                .then(a.cmp(&b))
        });
        order.truncate(k);
        let hits: Vec<Hit> = order
            .into_iter()
            .filter_map(|i| candidates[i].hit(&catalog))
            .collect();
        drop(catalog);
        let shown = hits.iter().map(|h| h.id.clone()).collect();
        let search_id = self.lock_recent().record(query, shown);
        Ok(SearchResults { search_id, hits })
    }
}
