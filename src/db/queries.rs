//! Reads: `get`, `search` and `search_batch`, with their options and
//! results.

use super::items::{Catalog, Item, Metadata};
use super::vector_db::VectorDb;
use crate::error::Result;
use crate::filter::Filter;
use crate::options::{check_keys, count};
use rayon::prelude::*;
use serde_json::Value;
use std::sync::Arc;

/// How many hits a search returns unless told.
pub const DEFAULT_K: usize = 10;

/// The options of `search`, `searchSync` and `searchBatch`.
pub const SEARCH_OPTION_KEYS: [&str; 4] = ["k", "efSearch", "filter", "rerank"];

#[derive(Clone, Debug)]
pub struct SearchOptions {
    /// Hits to return (at most `hnsw::MAX_K`).
    pub k: usize,
    /// Beam width; `None` uses the database default.
    pub ef_search: Option<usize>,
    pub filter: Option<Filter>,
    /// Let the learned model rank the hits when one is serving; `false`
    /// gives base search.
    pub rerank: bool,
}

impl Default for SearchOptions {
    fn default() -> Self {
        SearchOptions {
            k: DEFAULT_K,
            ef_search: None,
            filter: None,
            rerank: true,
        }
    }
}

impl SearchOptions {
    /// Search options as JS gives them, field by field (reading named
    /// properties through Node-API costs more than a search's options are
    /// worth): `k`, `efSearch`, `filter`, `rerank`, and the names of any
    /// other keys the options object had, which are refused.
    pub fn from_parts(
        k: Option<f64>,
        ef_search: Option<f64>,
        filter: Option<&Value>,
        rerank: Option<bool>,
        other_keys: &[String],
    ) -> Result<SearchOptions> {
        const WHAT: &str = "search options";
        check_keys(
            WHAT,
            other_keys.iter().map(String::as_str),
            &SEARCH_OPTION_KEYS,
        )?;
        Ok(SearchOptions {
            k: k.map_or(Ok(DEFAULT_K), |k| count(WHAT, "k", k))?,
            ef_search: ef_search
                .map(|ef| count(WHAT, "efSearch", ef))
                .transpose()?,
            filter: filter
                .filter(|f| !f.is_null())
                .map(Filter::parse)
                .transpose()?,
            rerank: rerank.unwrap_or(true),
        })
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Hit {
    pub id: Arc<str>,
    /// What orders the list: the learned score when a model ranked it,
    /// else `base_score`. Comparable only within one result list.
    pub score: f32,
    /// Higher is closer (cosine similarity, dot product, or −squared L2).
    pub base_score: f32,
    /// Lower is closer (see `distance` module for each metric).
    pub distance: f32,
    pub metadata: Option<Arc<Metadata>>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct SearchResults {
    pub search_id: String,
    pub hits: Vec<Hit>,
}

impl VectorDb {
    pub fn get(&self, id: &str) -> Result<Option<Item>> {
        self.check_open()?;
        let catalog = self.read_catalog();
        Ok(catalog.slot_of.get(id).and_then(|slot| {
            Some(Item {
                id: catalog.ids[slot as usize].clone()?,
                vector: self.index.vector(slot)?,
                metadata: catalog.metadata[slot as usize].clone(),
            })
        }))
    }

    /// The `k` nearest items to `query`, recorded under a fresh search id;
    /// ranked by the learned model when one serves (see `rerank.rs`).
    pub fn search(&self, query: &[f32], options: &SearchOptions) -> Result<SearchResults> {
        self.check_open()?;
        if options.rerank {
            if let Some(model) = self.learner.serving() {
                return self.search_learned(query, options, &model);
            }
        }
        let hits = {
            let catalog = self.read_catalog();
            crate::fault::trip(crate::fault::Site::Search);
            let found = self.base_candidates(&catalog, query, options, options.k, None)?;
            let metric = self.index.metric();
            found
                .into_iter()
                .filter_map(|n| {
                    let id = catalog.ids[n.slot as usize].clone()?;
                    let metadata = catalog.metadata[n.slot as usize].clone();
                    let score = metric.score(n.distance);
                    Some(Hit {
                        id,
                        score,
                        base_score: score,
                        distance: n.distance,
                        metadata,
                    })
                })
                .collect::<Vec<_>>()
        };
        let shown = hits.iter().map(|h| h.id.clone()).collect();
        let search_id = self.lock_recent().record(query, shown);
        Ok(SearchResults { search_id, hits })
    }

    /// Base search's `depth` nearest slots passing the options' filter.
    pub(super) fn base_candidates(
        &self,
        catalog: &Catalog,
        query: &[f32],
        options: &SearchOptions,
        depth: usize,
        ef: Option<usize>,
    ) -> Result<Vec<crate::hnsw::Neighbor>> {
        let metadata = &catalog.metadata;
        let filter = options
            .filter
            .as_ref()
            .map(|filter| move |slot: u32| filter.matches(metadata[slot as usize].as_deref()));
        let slot_filter = filter.as_ref().map(|f| f as &(dyn Fn(u32) -> bool + Sync));
        self.index
            .search(query, depth, ef.or(options.ef_search), slot_filter)
    }

    /// The queries of a flat batch (`n × dimensions` values, row-major).
    pub fn query_rows<'a>(&self, flat: &'a [f32]) -> Result<Vec<&'a [f32]>> {
        let dimensions = self.dimensions();
        if !flat.len().is_multiple_of(dimensions) {
            return Err(crate::error::Error::BatchShape {
                dimensions,
                len: flat.len(),
            });
        }
        Ok(flat.chunks_exact(dimensions).collect())
    }

    /// Many searches in parallel on all cores; fails on the first bad query.
    pub fn search_batch(
        &self,
        queries: &[&[f32]],
        options: &SearchOptions,
    ) -> Result<Vec<SearchResults>> {
        queries
            .par_iter()
            .map(|q| self.search(q, options))
            .collect()
    }
}
