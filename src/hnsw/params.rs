//! The graph's parameters, their defaults and the limits every caller is
//! held to.

use crate::error::{Error, Result};

/// Largest accepted `k` and `efSearch`: beyond this a caller wants an
/// export, not a nearest-neighbour search.
pub const MAX_K: usize = 100_000;
/// Highest level a node can reach (levels are drawn with `mL = 1 / ln m`,
/// so level 31 is never reached in practice; the bound keeps a corrupt file
/// from asking for more).
pub const MAX_LEVEL: usize = 31;
/// Range of `m`.
pub const MIN_M: usize = 2;
pub const MAX_M: usize = 256;
/// Largest accepted `efConstruction`.
pub const MAX_EF_CONSTRUCTION: usize = 10_000;

/// Construction and search parameters.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct HnswParams {
    /// Links per node above level 0; level 0 allows `2 * m`.
    pub m: usize,
    /// Beam width while inserting.
    pub ef_construction: usize,
    /// Default beam width while searching (overridable per query).
    pub ef_search: usize,
    /// Seed of the level generator, for reproducible graphs.
    pub seed: u64,
}

impl Default for HnswParams {
    fn default() -> Self {
        HnswParams {
            m: 16,
            ef_construction: 200,
            ef_search: 64,
            seed: 0x5EED_1DEA,
        }
    }
}

impl HnswParams {
    pub fn validate(&self) -> Result<()> {
        if !(MIN_M..=MAX_M).contains(&self.m) {
            return Err(Error::invalid_argument(format!(
                "m must be between {MIN_M} and {MAX_M}, got {}",
                self.m
            )));
        }
        if !(1..=MAX_EF_CONSTRUCTION).contains(&self.ef_construction) {
            return Err(Error::invalid_argument(format!(
                "efConstruction must be between 1 and {MAX_EF_CONSTRUCTION}, got {}",
                self.ef_construction
            )));
        }
        validate_ef(self.ef_search)
    }
}

pub(crate) fn validate_ef(ef: usize) -> Result<()> {
    if !(1..=MAX_K).contains(&ef) {
        return Err(Error::invalid_argument(format!(
            "efSearch must be between 1 and {MAX_K}, got {ef}"
        )));
    }
    Ok(())
}

pub(crate) fn validate_k(k: usize) -> Result<()> {
    if !(1..=MAX_K).contains(&k) {
        return Err(Error::invalid_argument(format!(
            "k must be between 1 and {MAX_K}, got {k}"
        )));
    }
    Ok(())
}
