//! Panic injection for the panic-boundary tests: a test arms a site, and
//! the next call that passes it panics there, holding whatever locks the
//! site holds. It proves that a bug surfacing as a panic anywhere in the
//! core reaches JS as `ERR_INTERNAL` and leaves the database serving.
//!
//! Reachable from JS only through the raw native binding (`binding.js`,
//! which the package's `exports` do not expose), never from `hnsw-gnn` or
//! `hnsw-gnn/internal`. Unarmed, a site costs one relaxed atomic load.

use std::sync::atomic::{AtomicU32, Ordering};

/// Where a panic can be injected.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Site {
    /// Inside a search, holding the catalogue's read lock.
    Search = 1,
    /// Inside an insert, holding the catalogue's write lock, before any
    /// change (so the write fails whole).
    Insert = 2,
}

impl Site {
    pub fn parse(name: &str) -> Option<Site> {
        match name {
            "search" => Some(Site::Search),
            "insert" => Some(Site::Insert),
            _ => None,
        }
    }
}

static ARMED: AtomicU32 = AtomicU32::new(0);

/// Makes the next call through `site` panic (once).
pub fn arm(site: Site) {
    ARMED.fetch_or(site as u32, Ordering::SeqCst);
}

/// Panics if `site` is armed, disarming it.
#[inline]
pub(crate) fn trip(site: Site) {
    let bit = site as u32;
    if ARMED.load(Ordering::Relaxed) & bit != 0
        && ARMED.fetch_and(!bit, Ordering::SeqCst) & bit != 0
    {
        panic!("injected panic at {site:?} (a panic-boundary test)");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_armed_site_panics_once_and_other_sites_not_at_all() {
        arm(Site::Search);
        trip(Site::Insert);
        let caught = std::panic::catch_unwind(|| trip(Site::Search));
        assert!(caught.is_err(), "an armed site did not panic");
        trip(Site::Search); // disarmed by the first trip
    }
}
