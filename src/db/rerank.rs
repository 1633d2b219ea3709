//! Search with a serving model: base search to `rerankDepth` candidates,
//! plus the items similar past queries clicked (each must pass the search's
//! filter and be live, like any other candidate), ordered by
//! `base + g(q, i)` and cut to `k`. A share `explore` of searches shows a
//! team-draft interleaving of the base and learned orders instead; which
//! ones follows from the search id.

use super::queries::{Hit, SearchOptions, SearchResults};
use super::recent::RecentSearch;
use super::vector_db::VectorDb;
use crate::error::Result;
use crate::hnsw::MAX_K;
use crate::learn::fast_hash::FastSet;
use crate::learn::interleave::{explores, search_hash, team_draft};
use crate::learn::Model;
use std::sync::Arc;

/// Extra candidates from the memory, at most this share of the depth.
const EXPANSION_SHARE: usize = 2;

struct Candidate {
    slot: u32,
    distance: f32,
    base_score: f32,
    score: f32,
}

impl VectorDb {
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
            })
            .collect();
        // Past-query candidates: live, passing the filter, not found already.
        // Found by the slot the model bound them to while that slot still
        // holds them (no hashing), else by id (moved by an update since).
        let live = |slot: u32| catalog.ids.get(slot as usize).is_some_and(Option::is_some);
        let extra: Vec<u32> =
            context
                .expansion(depth / EXPANSION_SHARE)
                .into_iter()
                .filter_map(|row| {
                    model
                        .bound_slot(row)
                        .filter(|&slot| live(slot))
                        .or_else(|| catalog.slot_of.get(&model.id(row)))
                })
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
            });
        }
        for c in &candidates {
            context.prefetch(c.slot);
            if let Some(entry) = catalog.ids.get(c.slot as usize) {
                crate::distance::prefetch_bytes((entry as *const Option<Arc<str>>).cast());
            }
        }
        for c in &mut candidates {
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
            let (shown, teams) = team_draft(
                &by(|c| c.base_score, all),
                &by(|c| c.score, all),
                options.k,
                hash,
            );
            (shown, Some((model.version, teams)))
        } else {
            (by(|c| c.score, options.k), None)
        };
        let hits: Vec<Hit> = shown
            .iter()
            .filter_map(|&i| {
                let c = &candidates[i as usize];
                Some(Hit {
                    id: catalog.ids[c.slot as usize].clone()?,
                    score: c.score,
                    base_score: c.base_score,
                    distance: c.distance,
                    metadata: catalog.metadata[c.slot as usize].clone(),
                })
            })
            .collect();
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
