//! The neighbour-selection heuristic (Malkov & Yashunin, algorithm 4).
//!
//! Walking candidates from closest to farthest, a candidate is kept only if
//! it is closer to the base node than to every neighbour kept so far. Lists
//! then point in diverse directions instead of into one dense cluster, which
//! keeps clustered data navigable.

use super::scratch::Candidate;
use super::storage::Storage;
use crate::distance::DistanceFn;

/// Selects at most `max` of `candidates` (sorted closest first by distance to
/// the base node) into `selected`.
pub(crate) fn select_neighbors(
    storage: &Storage,
    distance: &DistanceFn,
    candidates: &[Candidate],
    max: usize,
    selected: &mut Vec<Candidate>,
) {
    selected.clear();
    for &candidate in candidates {
        if selected.len() >= max {
            break;
        }
        let vector = storage.vector(candidate.slot);
        let diverse = selected
            .iter()
            .all(|kept| distance.distance(vector, storage.vector(kept.slot)) >= candidate.distance);
        if diverse {
            selected.push(candidate);
        }
    }
}
