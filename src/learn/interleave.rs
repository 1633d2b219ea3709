//! Team-draft interleaving (Radlinski, Kurup & Joachims 2008): a slice of
//! searches shows a merge of the base and the learned ranking, each item
//! credited to the ranking ("team") that contributed it; the clicks of the
//! session then say which ranking users preferred. It is how a model proves
//! itself online and how it is rolled back when it starts losing.
//!
//! Which searches are interleaved, and the coin flips of the draft, follow
//! from a hash of the search id, so a run is reproducible.

use crate::rng::SplitMix64;

/// Which ranking an interleaved item came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Team {
    Base = 0,
    Learned = 1,
}

impl Team {
    pub fn from_code(code: u8) -> Option<Team> {
        match code {
            0 => Some(Team::Base),
            1 => Some(Team::Learned),
            _ => None,
        }
    }
}

/// What one interleaved session's clicks decided.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    Win,
    Loss,
    Tie,
}

/// A stable 64-bit hash of a search id (FNV-1a, then mixed), the seed of
/// its assignment and draft.
pub fn search_hash(search_id: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in search_id.bytes() {
        h ^= byte as u64;
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    SplitMix64::new(h).next_u64()
}

/// Whether the search with `hash` is served interleaved, for a share
/// `explore` of searches.
pub fn explores(hash: u64, explore: f64) -> bool {
    explore > 0.0 && ((hash >> 11) as f64 / (1u64 << 53) as f64) < explore
}

/// Merges `base` and `learned` (rankings of the same candidates, best
/// first) into `k` items: in each round the team with fewer picks (a coin
/// flip when even) adds its best item not yet shown. Returns the items and
/// the team of each.
pub fn team_draft(base: &[u32], learned: &[u32], k: usize, hash: u64) -> (Vec<u32>, Vec<Team>) {
    let mut rng = SplitMix64::new(hash ^ 0x7EA4_D4AF_7000_0000);
    let mut shown = Vec::with_capacity(k);
    let mut teams = Vec::with_capacity(k);
    let (mut next_base, mut next_learned) = (0, 0);
    let (mut picks_base, mut picks_learned) = (0usize, 0usize);
    let limit = k.min(base.len().max(learned.len()));
    while shown.len() < limit {
        let learned_turn = match picks_learned.cmp(&picks_base) {
            std::cmp::Ordering::Less => true,
            std::cmp::Ordering::Greater => false,
            std::cmp::Ordering::Equal => rng.next_u64() & 1 == 1,
        };
        let (ranking, cursor, team) = if learned_turn {
            (learned, &mut next_learned, Team::Learned)
        } else {
            (base, &mut next_base, Team::Base)
        };
        while *cursor < ranking.len() && shown.contains(&ranking[*cursor]) {
            *cursor += 1;
        }
        match ranking.get(*cursor) {
            Some(&item) => {
                shown.push(item);
                teams.push(team);
                *cursor += 1;
            }
            None => {
                // This team ran out; let the other one pick from now on.
                if learned_turn {
                    picks_learned = usize::MAX / 2;
                } else {
                    picks_base = usize::MAX / 2;
                }
                if picks_base == picks_learned {
                    break;
                }
                continue;
            }
        }
        if learned_turn {
            picks_learned += 1;
        } else {
            picks_base += 1;
        }
    }
    (shown, teams)
}

/// The verdict of clicks at `clicked` positions on a list with `teams`;
/// `None` when nothing credited was clicked.
pub fn credit(teams: &[Team], clicked: &[u32]) -> Option<Outcome> {
    let (mut learned, mut base) = (0, 0);
    for &position in clicked {
        match teams.get(position as usize) {
            Some(Team::Learned) => learned += 1,
            Some(Team::Base) => base += 1,
            None => {}
        }
    }
    if learned + base == 0 {
        return None;
    }
    Some(match learned.cmp(&base) {
        std::cmp::Ordering::Greater => Outcome::Win,
        std::cmp::Ordering::Less => Outcome::Loss,
        std::cmp::Ordering::Equal => Outcome::Tie,
    })
}

/// Interleaving tallies for one model.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Tally {
    pub wins: u64,
    pub losses: u64,
    pub ties: u64,
}

impl Tally {
    pub fn add(&mut self, outcome: Outcome) {
        match outcome {
            Outcome::Win => self.wins += 1,
            Outcome::Loss => self.losses += 1,
            Outcome::Tie => self.ties += 1,
        }
    }

    /// Whether the learned ranking is losing beyond chance: with at least
    /// 20 decided sessions, a one-sided sign test at about 1% (z > 2.33).
    pub fn losing(&self) -> bool {
        let decided = (self.wins + self.losses) as f64;
        decided >= 20.0 && (self.losses as f64 - self.wins as f64) / decided.sqrt() > 2.33
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_draft_takes_each_rankings_best_unshown_item_in_balanced_turns() {
        let base = [1, 2, 3, 4, 5, 6];
        let learned = [6, 1, 5, 2, 4, 3];
        for hash in 0..50u64 {
            let (shown, teams) = team_draft(&base, &learned, 6, hash);
            let mut sorted = shown.clone();
            sorted.sort_unstable();
            assert_eq!(sorted, vec![1, 2, 3, 4, 5, 6], "every candidate once");
            let learned_picks = teams.iter().filter(|t| **t == Team::Learned).count();
            assert_eq!(learned_picks, 3, "turns balance");
            // The first pick of each team is its top item (unless the other
            // team took it first).
            let first_learned = teams.iter().position(|t| *t == Team::Learned).unwrap();
            assert_eq!(shown[first_learned], 6);
        }
        // Identical rankings interleave to that ranking.
        let (shown, _) = team_draft(&base, &base, 4, 9);
        assert_eq!(shown, vec![1, 2, 3, 4]);
    }

    #[test]
    fn clicks_credit_the_team_that_contributed_the_item() {
        use Team::*;
        let teams = [Learned, Base, Base, Learned];
        assert_eq!(credit(&teams, &[0, 3]), Some(Outcome::Win));
        assert_eq!(credit(&teams, &[1]), Some(Outcome::Loss));
        assert_eq!(credit(&teams, &[0, 1]), Some(Outcome::Tie));
        assert_eq!(credit(&teams, &[]), None);
    }

    #[test]
    // Hashes 20,000 ids for a statistical share: past 15 minutes under
    // Miri, and it runs no unsafe code.
    #[cfg_attr(miri, ignore)]
    fn assignment_is_a_stable_share_of_search_ids() {
        let ids: Vec<String> = (0..20_000).map(|i| format!("abcd1234-{i:x}")).collect();
        let share = ids
            .iter()
            .filter(|id| explores(search_hash(id), 0.1))
            .count() as f64
            / ids.len() as f64;
        assert!((share - 0.1).abs() < 0.01, "share {share}");
        assert!(!ids.iter().any(|id| explores(search_hash(id), 0.0)));
        assert_eq!(search_hash("x-1"), search_hash("x-1"));
    }

    #[test]
    fn a_model_is_losing_only_beyond_chance() {
        let t = |wins, losses| Tally {
            wins,
            losses,
            ties: 0,
        };
        assert!(!t(5, 12).losing(), "too few sessions");
        assert!(!t(45, 55).losing(), "within chance");
        assert!(t(30, 70).losing());
    }
}
