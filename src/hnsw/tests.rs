use super::storage::{MappedLinks, Storage, ROOT};
use super::*;
use crate::distance::Metric;
use crate::error::Error;
use crate::file::Mapping;
use crate::testdata::{brute_force_top_k, clustered, clustered_split, recall};
use std::sync::atomic::Ordering;
use std::sync::{Arc, RwLock};

fn build(base: &[Vec<f32>], metric: Metric) -> Index {
    build_with(base, metric, HnswParams::default())
}

fn build_with(base: &[Vec<f32>], metric: Metric, params: HnswParams) -> Index {
    let index = Index::new(base[0].len(), metric, params).unwrap();
    let refs: Vec<&[f32]> = base.iter().map(|v| v.as_slice()).collect();
    index.insert_batch(&refs, &|_, _| {}).unwrap();
    index
}

fn mean_recall(
    index: &Index,
    base: &[Vec<f32>],
    queries: &[Vec<f32>],
    k: usize,
    ef: usize,
    keep: impl Fn(usize) -> bool + Copy,
) -> f64 {
    let total: f64 = queries
        .iter()
        .map(|q| {
            let found: Vec<usize> = index
                .search(q, k, Some(ef), None)
                .unwrap()
                .iter()
                .map(|n| n.slot as usize)
                .collect();
            recall(&found, &brute_force_top_k(base, q, k, index.metric(), keep))
        })
        .sum();
    total / queries.len() as f64
}

#[test]
fn recall_at_10_reaches_095_at_ef_64_on_clustered_20k_x_96() {
    println!("SIMD path: {}", crate::Kernels::active().path.name());
    let (base, queries) = clustered_split(20_000, 200, 96, 10, 1);
    for metric in [Metric::Euclidean, Metric::Cosine] {
        let index = build(&base, metric);
        assert_eq!(index.len(), 20_000);
        let r = mean_recall(&index, &base, &queries, 10, 64, |_| true);
        use std::io::Write;
        let _ = writeln!(
            std::io::stderr(),
            "{metric:?}: recall@10 at ef 64 on clustered 20k x 96 = {r:.4}"
        );
        assert!(r >= 0.95, "{metric:?} recall {r}");
    }
}

#[test]
fn dot_metric_finds_largest_inner_products() {
    let (base, queries) = clustered_split(3_000, 50, 32, 30, 3);
    let index = build(&base, Metric::Dot);
    let r = mean_recall(&index, &base, &queries, 10, 128, |_| true);
    assert!(r >= 0.9, "dot recall {r}");
}

#[test]
fn search_after_delete_never_returns_deleted_and_recall_holds() {
    let (base, queries) = clustered_split(10_000, 200, 48, 60, 5);
    let index = build(&base, Metric::Euclidean);
    let mut rng = crate::rng::SplitMix64::new(7);
    let mut deleted = vec![false; base.len()];
    let mut count = 0;
    while count < base.len() / 5 {
        let slot = rng.below(base.len());
        if !deleted[slot] {
            assert!(index.delete(slot as u32));
            deleted[slot] = true;
            count += 1;
        }
    }
    let some_deleted = deleted.iter().position(|&d| d).unwrap() as u32;
    assert!(!index.delete(some_deleted), "deleting twice reports false");
    assert_eq!(index.len(), base.len() - count);
    for q in &queries {
        for hit in index.search(q, 10, Some(64), None).unwrap() {
            assert!(
                !deleted[hit.slot as usize],
                "deleted slot {} returned",
                hit.slot
            );
        }
    }
    let r = mean_recall(&index, &base, &queries, 10, 64, |i| !deleted[i]);
    println!("recall@10 after deleting 20%: {r:.4}");
    assert!(r >= 0.95, "recall after deletes {r}");
}

#[test]
fn reinserting_deleted_vectors_restores_them() {
    let base = clustered(2_000, 16, 20, 8);
    let index = build(&base, Metric::Euclidean);
    for slot in 0..500u32 {
        index.delete(slot);
    }
    let refs: Vec<&[f32]> = base[..500].iter().map(|v| v.as_slice()).collect();
    let again = index.insert_batch(&refs, &|_, _| {}).unwrap();
    assert_eq!(index.len(), 2_000);
    // Each re-inserted node is anchored in the list of its nearest live
    // neighbour, so the search that finds that neighbour (or the deleted
    // twin, which it passes through) finds the node too.
    check_anchors(&index);
    let misses: Vec<usize> = again
        .enumerate()
        .filter(|&(i, slot)| {
            let hit = index.search(&base[i], 1, Some(64), None).unwrap();
            hit[0].slot != slot || hit[0].distance != 0.0
        })
        .map(|(i, _)| i)
        .collect();
    assert!(
        misses.is_empty(),
        "re-inserted vectors not found as their own nearest: {misses:?}"
    );
}

#[test]
fn filter_is_applied_during_traversal_and_exact_when_selective() {
    let (base, queries) = clustered_split(8_000, 50, 24, 40, 9);
    let index = build(&base, Metric::Euclidean);
    // Broad (about half): graph search. Selective (1 in 200): exact scan.
    for modulus in [2usize, 200] {
        let keep = move |i: usize| i.is_multiple_of(modulus);
        let filter = move |slot: u32| keep(slot as usize);
        let mut total = 0.0;
        for q in &queries {
            let found = index.search(q, 10, Some(64), Some(&filter)).unwrap();
            assert_eq!(found.len(), 10);
            assert!(found.iter().all(|n| keep(n.slot as usize)));
            let found: Vec<usize> = found.iter().map(|n| n.slot as usize).collect();
            let truth = brute_force_top_k(&base, q, 10, Metric::Euclidean, keep);
            if modulus == 200 {
                assert_eq!(found, truth, "selective filter must be exact");
            }
            total += recall(&found, &truth);
        }
        let r = total / queries.len() as f64;
        println!("filtered recall (1 in {modulus} match) = {r:.4}");
        assert!(r >= 0.95);
    }
}

#[test]
fn k_larger_than_the_index_returns_everything_live() {
    let base = clustered(30, 8, 3, 11);
    let index = build(&base, Metric::Euclidean);
    index.delete(3);
    let found = index.search(&base[0], 1_000, None, None).unwrap();
    assert_eq!(found.len(), 29);
    assert!(found.windows(2).all(|w| w[0].distance <= w[1].distance));
}

#[test]
fn bad_arguments_are_errors() {
    let index = Index::new(4, Metric::Cosine, HnswParams::default()).unwrap();
    assert!(matches!(
        index.search(&[1.0; 4], 0, None, None),
        Err(Error::InvalidArgument(_))
    ));
    assert!(matches!(
        index.search(&[1.0; 4], 10, Some(0), None),
        Err(Error::InvalidArgument(_))
    ));
    assert!(matches!(
        index.search(&[1.0; 3], 10, None, None),
        Err(Error::DimensionMismatch { .. })
    ));
    assert!(matches!(
        index.insert(&[0.0; 4]),
        Err(Error::InvalidVector(_))
    ));
    assert!(matches!(
        index.insert(&[f32::INFINITY, 0.0, 0.0, 0.0]),
        Err(Error::InvalidVector(_))
    ));
    let bad = HnswParams {
        m: 1,
        ..HnswParams::default()
    };
    assert!(matches!(
        Index::new(4, Metric::Cosine, bad),
        Err(Error::InvalidArgument(_))
    ));
    assert!(matches!(
        Index::new(0, Metric::Cosine, HnswParams::default()),
        Err(Error::InvalidArgument(_))
    ));
    assert!(index.search(&[1.0; 4], 5, None, None).unwrap().is_empty());
}

#[test]
fn concurrent_inserts_and_searches_keep_exact_counts() {
    let base = clustered(4_000, 16, 20, 12);
    let index = Arc::new(Index::new(16, Metric::Euclidean, HnswParams::default()).unwrap());
    let base = Arc::new(base);
    let writers: Vec<_> = (0..4)
        .map(|t| {
            let (index, base) = (index.clone(), base.clone());
            std::thread::spawn(move || {
                for i in (t..base.len()).step_by(4) {
                    index.insert(&base[i]).unwrap();
                }
            })
        })
        .collect();
    let readers: Vec<_> = (0..2)
        .map(|t| {
            let (index, base) = (index.clone(), base.clone());
            std::thread::spawn(move || {
                for i in 0..500 {
                    let hits = index
                        .search(&base[(i * 7 + t) % base.len()], 5, None, None)
                        .unwrap();
                    assert!(hits.len() <= 5);
                }
            })
        })
        .collect();
    for h in writers.into_iter().chain(readers) {
        h.join().unwrap();
    }
    assert_eq!(index.len(), 4_000);
    check_anchors(&index);
    // Every vector is findable as its own nearest neighbour.
    let misses: Vec<usize> = (0..base.len())
        .filter(|&i| index.search(&base[i], 1, Some(64), None).unwrap()[0].distance != 0.0)
        .collect();
    assert!(
        misses.is_empty(),
        "{} of 4000 inserted vectors not found: {misses:?}",
        misses.len()
    );
}

#[test]
fn level0_csr_lists_every_node_with_bounded_degree() {
    let base = clustered(1_000, 8, 10, 13);
    let index = build(&base, Metric::Euclidean);
    let csr = index.level0_csr();
    assert_eq!(csr.offsets.len(), 1_001);
    assert_eq!(*csr.offsets.last().unwrap() as usize, csr.targets.len());
    for i in 0..1_000 {
        let degree = csr.offsets[i + 1] - csr.offsets[i];
        assert!((1..=32).contains(&degree), "node {i} degree {degree}");
    }
    assert!(csr.targets.iter().all(|&t| t < 1_000));
}

/// Nodes not reachable from the entry point by following links at levels
/// `0..=max_level` (at any level with `usize::MAX`).
fn unreachable_count_to(index: &Index, max_level: usize) -> usize {
    let storage = index.read();
    let Some((entry, _)) = index.entry_point() else {
        return 0;
    };
    let mut seen = vec![false; storage.len()];
    let mut stack = vec![entry];
    seen[entry as usize] = true;
    while let Some(node) = stack.pop() {
        for level in 0..=storage.level(node).min(max_level) {
            for n in storage.neighbors(node, level).iter() {
                if !seen[n as usize] {
                    seen[n as usize] = true;
                    stack.push(n);
                }
            }
        }
    }
    seen.iter().filter(|s| !**s).count()
}

/// Nodes not reachable from the entry point by following links at any level.
fn unreachable_count(index: &Index) -> usize {
    unreachable_count_to(index, usize::MAX)
}

/// The anchor invariant (see `repair.rs`): the entry point is the root,
/// every other node is held in its anchor's level-0 list, and following
/// anchors from any node reaches the root.
fn check_anchors(index: &Index) {
    let storage = index.read();
    let Some((entry, _)) = index.entry_point() else {
        return;
    };
    let n = storage.len() as u32;
    assert_eq!(storage.anchor(entry), ROOT, "the entry point is the root");
    for slot in 0..n {
        if slot == entry {
            continue;
        }
        let anchor = storage.anchor(slot);
        assert!(anchor < n, "slot {slot} has anchor {anchor:#x}");
        assert!(
            storage.neighbors(anchor, 0).iter().any(|m| m == slot),
            "slot {slot} is missing from the list of its anchor {anchor}"
        );
    }
    // Chains end at the root: mark nodes whose chain is known to, walking
    // each chain at most once more than its unknown part.
    let mut rooted = vec![false; n as usize];
    rooted[entry as usize] = true;
    let mut chain = Vec::new();
    for slot in 0..n {
        let mut node = slot;
        while !rooted[node as usize] {
            chain.push(node);
            assert!(chain.len() <= n as usize, "anchor cycle through {slot}");
            node = storage.anchor(node);
        }
        for &c in &chain {
            rooted[c as usize] = true;
        }
        chain.clear();
    }
    drop(storage);
    assert_eq!(unreachable_count_to(index, 0), 0, "unreachable at level 0");
}

#[test]
fn parallel_batch_insert_leaves_every_node_reachable() {
    // Two causes orphaned nodes here, both gone: a newcomer could descend
    // onto a node still being linked whose level-0 list was empty, and end
    // up linked to that one node only (nodes now publish bottom-up); and
    // heuristic pruning can drop a node from every list that held it, in
    // any HNSW (every node is now anchored in one list that keeps it).
    let mut nodes = 0;
    for seed in 0..40 {
        let base = clustered(1_000 + 100 * seed as usize, 8, 5, 100 + seed);
        let index = build(&base, Metric::Euclidean);
        let unreachable = unreachable_count(&index);
        assert_eq!(
            unreachable, 0,
            "seed {seed}: {unreachable} unreachable nodes"
        );
        check_anchors(&index);
        nodes += base.len();
    }
    assert_eq!(nodes, 40 * 1_000 + 100 * (0..40).sum::<usize>());
}

#[test]
fn small_m_builds_keep_every_node_reachable_sequential_and_parallel() {
    // With m = 4 lists fill fast and pruning alone orphaned about one node
    // per 2,000 even in a sequential build.
    let params = HnswParams {
        m: 4,
        ..HnswParams::default()
    };
    let sequential = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .unwrap();
    for seed in 0..10 {
        let base = clustered(2_000 + 100 * seed as usize, 8, 5, 300 + seed);
        for index in [
            sequential.install(|| build_with(&base, Metric::Euclidean, params)),
            build_with(&base, Metric::Euclidean, params),
        ] {
            assert_eq!(unreachable_count(&index), 0, "seed {seed}");
            check_anchors(&index);
        }
    }
}

#[test]
fn tiny_ef_construction_and_duplicates_still_anchor_every_node() {
    // One candidate per level, and it is often one of 300 copies of one
    // vector whose lists have no room for another anchored entry: those
    // nodes are anchored by the walk from the entry point.
    for m in [2, 3] {
        let params = HnswParams {
            m,
            ef_construction: 1,
            ..HnswParams::default()
        };
        let mut base = clustered(2_000, 8, 5, 17);
        base.extend(std::iter::repeat_n(base[7].clone(), 300));
        let index = build_with(&base, Metric::Euclidean, params);
        assert_eq!(unreachable_count(&index), 0, "m {m}");
        check_anchors(&index);
    }
}

#[test]
fn deletes_and_reinserts_keep_every_node_reachable() {
    let base = clustered(3_000, 16, 20, 21);
    let index = build(&base, Metric::Euclidean);
    let mut rng = crate::rng::SplitMix64::new(5);
    for _ in 0..3 {
        let mut doomed: Vec<u32> = (0..600)
            .map(|_| rng.below(index.slot_count()) as u32)
            .collect();
        doomed.sort_unstable();
        doomed.dedup();
        let mut again = Vec::new();
        for &slot in &doomed {
            if let Some(vector) = index.vector(slot) {
                assert!(index.delete(slot));
                again.push(vector);
            }
        }
        let refs: Vec<&[f32]> = again.iter().map(|v| v.as_slice()).collect();
        index.insert_batch(&refs, &|_, _| {}).unwrap();
        assert_eq!(index.len(), base.len());
        assert_eq!(unreachable_count(&index), 0);
        check_anchors(&index);
    }
}

#[test]
fn compaction_drops_deleted_slots_and_keeps_recall_and_reachability() {
    // 500 queries: two parallel builds of the same set differ in recall by
    // about ±0.007 over 100 queries (threads interleave differently), which
    // made a 0.01 margin fail now and then; over 500 the spread is about
    // ±0.003 on a quiet machine (compacted 0.983-0.986 against fresh
    // 0.982-0.985 in four runs). Under a fully loaded CI run (2 cores, every
    // test binary at once) one compaction reached only 0.9666 against
    // 0.9858: interleavings under contention leave a worse graph now and
    // then (an open question about compaction's relinking, noted on issue
    // 18). The margin is 0.025 until that is understood.
    let (base, queries) = clustered_split(9_000, 500, 32, 12, 8);
    for metric in [Metric::Euclidean, Metric::Cosine] {
        let index = build(&base, metric);
        // Delete two thirds, including whatever the entry point is.
        let (entry, _) = index.entry_point().unwrap();
        let doomed = |slot: usize| !slot.is_multiple_of(3) || slot == entry as usize;
        for slot in (0..base.len()).filter(|&s| doomed(s)) {
            assert!(index.delete(slot as u32));
        }
        let live: Vec<usize> = (0..base.len()).filter(|&s| !doomed(s)).collect();
        let Compacted {
            index: compacted,
            new_slot,
        } = index.compacted().unwrap();
        assert_eq!(compacted.len(), live.len());
        assert_eq!(compacted.slot_count(), live.len());
        assert_eq!(compacted.deleted_count(), 0);
        for (new, &old) in live.iter().enumerate() {
            assert_eq!(new_slot[old], new as u32);
            assert_eq!(compacted.vector(new as u32), index.vector(old as u32));
        }
        assert!((0..base.len())
            .filter(|&s| doomed(s))
            .all(|s| new_slot[s] == DROPPED));
        assert_eq!(unreachable_count(&compacted), 0, "{metric:?}");
        check_anchors(&compacted);
        // Recall over the live set, against a fresh build of that set.
        let live_base: Vec<Vec<f32>> = live.iter().map(|&s| base[s].clone()).collect();
        let fresh = build(&live_base, metric);
        let all = |_| true;
        let compacted_recall = mean_recall(&compacted, &live_base, &queries, 10, 16, all);
        let fresh_recall = mean_recall(&fresh, &live_base, &queries, 10, 16, all);
        let before = mean_recall(&index, &base, &queries, 10, 16, |s| !doomed(s));
        eprintln!("before compaction {before:.4}");
        eprintln!("{metric:?}: recall@10 at ef 16 after compaction {compacted_recall:.4}, fresh build of the live set {fresh_recall:.4}");
        assert!(compacted_recall >= fresh_recall - 0.025, "{metric:?}");
        // The copy takes writes.
        let added = compacted.insert(&base[1]).unwrap();
        assert_eq!(added as usize, live.len());
        assert_eq!(
            compacted.search(&base[1], 1, Some(64), None).unwrap()[0].slot,
            added
        );
    }
}

/// Level-0 lists as a file's CSR section holds them, mapped (from a heap
/// image, which reads the same way).
fn mapped_links(lists: &[Vec<u32>]) -> MappedLinks {
    let mut offsets = vec![0u64];
    for list in lists {
        offsets.push(offsets.last().unwrap() + list.len() as u64);
    }
    let mut bytes: Vec<u8> = offsets.iter().flat_map(|o| o.to_le_bytes()).collect();
    bytes.extend(lists.iter().flatten().flat_map(|t| t.to_le_bytes()));
    let image = Mapping::from_bytes(&bytes);
    let edges = *offsets.last().unwrap() as usize;
    MappedLinks::new(
        image.values(0, offsets.len()).unwrap(),
        image.values(8 * offsets.len(), edges).unwrap(),
    )
}

#[test]
fn mapped_level0_lists_serve_until_a_write_replaces_or_extends_them() {
    let vectors = Mapping::from_bytes(&[0u8; 4 * 4 * 2]).f32s(0, 8).unwrap();
    let lists = vec![vec![1, 2], vec![], vec![0, 1, 3], vec![2]];
    // m = 2: level-0 rows hold four.
    let mut storage = Storage::from_parts(
        2,
        2,
        vectors,
        vec![0; 4],
        vec![false; 4],
        Some(mapped_links(&lists)),
    );
    let level0 = |storage: &Storage, slot: u32| storage.neighbors(slot, 0).to_vec();
    for (slot, list) in lists.iter().enumerate() {
        assert_eq!(&level0(&storage, slot as u32), list);
    }
    // Extending copies the mapped list first; a full row refuses.
    assert!(storage.try_push_neighbor(0, 0, 3));
    assert_eq!(level0(&storage, 0), [1, 2, 3]);
    assert!(storage.try_push_neighbor(2, 0, 2));
    assert!(!storage.try_push_neighbor(2, 0, 0));
    assert_eq!(level0(&storage, 2), [0, 1, 3, 2]);
    assert!(storage.try_push_neighbor(1, 0, 0));
    assert_eq!(level0(&storage, 1), [0]);
    // A written empty list is empty, not the mapped one.
    storage.set_neighbors(3, 0, &[]);
    assert!(level0(&storage, 3).is_empty());
    // Slots appended after the open have no mapped list.
    storage.push_rows(vec![0.0; 2], &[0]);
    assert!(level0(&storage, 4).is_empty());
    assert!(storage.try_push_neighbor(4, 0, 1));
    assert_eq!(level0(&storage, 4), [1]);
}

/// `index` as loading it from a file leaves it: the same vectors (mapped),
/// levels, deletion marks, lists (level 0 used in place from a CSR image)
/// and entry point, and no anchors. `cut` is first removed from every
/// list, as if a saved graph had lost its way to it.
fn reloaded(index: &Index, cut: u32) -> Index {
    let source = index.read();
    let slots = source.len() as u32;
    let bytes: Vec<u8> = (0..slots)
        .flat_map(|s| source.vector(s).to_vec())
        .flat_map(f32::to_le_bytes)
        .collect();
    let mapped = Mapping::from_bytes(&bytes)
        .f32s(0, bytes.len() / 4)
        .unwrap();
    let levels = (0..slots).map(|s| source.level(s) as u8).collect();
    let deleted = (0..slots).map(|s| source.is_deleted(s)).collect();
    let level0: Vec<Vec<u32>> = (0..slots)
        .map(|s| {
            source
                .neighbors(s, 0)
                .iter()
                .filter(|&n| n != cut)
                .collect()
        })
        .collect();
    let storage = Storage::from_parts(
        index.dimensions,
        index.params.m,
        mapped,
        levels,
        deleted,
        Some(mapped_links(&level0)),
    );
    for slot in 0..slots {
        for level in 1..=source.level(slot) {
            let list: Vec<u32> = source
                .neighbors(slot, level)
                .iter()
                .filter(|&n| n != cut)
                .collect();
            storage.set_neighbors(slot, level, &list);
        }
    }
    let mut copy = Index::new(index.dimensions, index.metric, index.params).unwrap();
    copy.storage = RwLock::new(storage);
    copy.live.store(index.len(), Ordering::Release);
    let (entry, level) = index.entry_point().unwrap();
    copy.set_entry_point(entry, level);
    copy
}

#[test]
fn anchors_are_rebuilt_after_a_load_before_the_first_write() {
    let base = clustered(4_000, 16, 20, 23);
    let refs: Vec<&[f32]> = base.iter().map(|v| v.as_slice()).collect();
    let index = build(&base[..3_000], Metric::Euclidean);
    let cut = (0..3_000u32)
        .find(|&s| Some(s) != index.entry_point().map(|e| e.0))
        .unwrap();
    let loaded = reloaded(&index, cut);
    assert!(!loaded.read().is_anchored(cut));
    assert_eq!(unreachable_count(&loaded), 1, "the cut node");
    loaded.insert_batch(&refs[3_000..], &|_, _| {}).unwrap();
    assert_eq!(unreachable_count(&loaded), 0);
    check_anchors(&loaded);
    let hit = loaded
        .search(&base[cut as usize], 1, Some(64), None)
        .unwrap();
    assert_eq!(hit[0].slot, cut);
}

#[test]
#[ignore]
fn time_insert_batch_100k_x_128() {
    let base = clustered(100_000, 128, 100, 42);
    let refs: Vec<&[f32]> = base.iter().map(|v| v.as_slice()).collect();
    let index = Index::new(128, Metric::Euclidean, HnswParams::default()).unwrap();
    let start = std::time::Instant::now();
    index.insert_batch(&refs, &|_, _| {}).unwrap();
    let elapsed = start.elapsed();
    println!(
        "insert_batch 100k x 128 on {} threads: {:.3} s",
        rayon::current_num_threads(),
        elapsed.as_secs_f64()
    );
    assert_eq!(index.len(), 100_000);
}
