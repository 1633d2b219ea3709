//! Items a database learns as another engine shows them: a reranker beside
//! Postgres/pgvector or LanceDB stores each candidate's vector the first
//! time it appears (and again when the engine's vector changed), so its
//! graph, feedback and model cover exactly what users were shown.

use super::items::{Metadata, NewItem};
use super::vector_db::VectorDb;
use crate::error::Result;

impl VectorDb {
    /// Positions in `ids` of those this database does not hold.
    pub fn unheld<'a>(&self, ids: impl Iterator<Item = &'a str>) -> Result<Vec<u32>> {
        self.check_open()?;
        let catalog = self.read_catalog();
        Ok(ids
            .enumerate()
            .filter(|(_, id)| !catalog.slot_of.contains(id))
            .map(|(i, _)| i as u32)
            .collect())
    }

    /// Stores the candidates not held yet and updates those whose vector
    /// changed (metadata follows the candidate when it has any); returns how
    /// many were inserted and how many updated. Vectors are checked like
    /// any insert's before anything is written.
    pub fn remember_candidates(&self, candidates: Vec<NewItem>) -> Result<(usize, usize)> {
        self.check_open()?;
        let dimensions = self.dimensions();
        for c in &candidates {
            crate::distance::validate(&c.vector, dimensions, "a candidate's vector")?;
        }
        let mut fresh: Vec<NewItem> = Vec::new();
        let mut changed: Vec<(String, Vec<f32>, Option<Metadata>)> = Vec::new();
        let mut seen = std::collections::HashSet::new();
        for c in candidates {
            let Some(id) = c.id.clone() else {
                return Err(crate::error::Error::invalid_argument(
                    "a candidate needs an id".to_string(),
                ));
            };
            if !seen.insert(id.clone()) {
                continue;
            }
            match self.get(&id)? {
                None => fresh.push(c),
                Some(stored) => {
                    let prepared = self.index.prepare(&c.vector, "a candidate's vector")?;
                    if stored.vector[..] != prepared[..] {
                        changed.push((id, c.vector, c.metadata));
                    }
                }
            }
        }
        let (inserted, updated) = (fresh.len(), changed.len());
        if !fresh.is_empty() {
            self.insert_batch(fresh, &|_, _| {})?;
        }
        for (id, vector, metadata) in changed {
            self.update(&id, Some(vector), metadata.map(Some))?;
        }
        Ok((inserted, updated))
    }
}
