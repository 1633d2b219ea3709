//! `stats().heap_bytes` against the allocator: this test binary's global
//! allocator counts the bytes live on the heap, and a database built here
//! (vectors, graph, ids, metadata, recent searches, a feedback log) must
//! report what it holds within a tenth of what the allocator counted. One
//! test in its own binary, so no other test allocates meanwhile.
use hnsw_gnn::db::{DbOptions, Feedback, NewItem, SearchOptions, VectorDb};
use hnsw_gnn::rng::SplitMix64;
use hnsw_gnn::Metric;
use serde_json::json;
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, Ordering};

struct Counting;

static LIVE: AtomicIsize = AtomicIsize::new(0);

// SAFETY: every call is passed to the system allocator unchanged; the
// counter only observes sizes.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: forwarded with the caller's layout.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: `ptr` came from `alloc` above with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LIVE.fetch_add(
            new_size as isize - layout.size() as isize,
            Ordering::Relaxed,
        );
        // SAFETY: forwarded with the caller's pointer, layout and size.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

fn build(n: usize, dimensions: usize, searches: usize) -> VectorDb {
    let mut options = DbOptions::new(dimensions, Metric::Cosine);
    options.learning.background = false;
    let db = VectorDb::new(options).unwrap();
    let mut rng = SplitMix64::new(7);
    let vector = |rng: &mut SplitMix64| {
        (0..dimensions)
            .map(|_| rng.gaussian())
            .collect::<Vec<f32>>()
    };
    let items = (0..n)
        .map(|i| NewItem {
            id: Some(format!("product-{i:07}-{}", "x".repeat(i % 17))),
            vector: vector(&mut rng),
            metadata: json!({
                "category": format!("category-{}", i % 40),
                "price": i % 500,
                "tags": ["sale", format!("tag-{}", i % 7)],
                "stock": { "warehouse": i % 3, "count": i },
            })
            .as_object()
            .cloned(),
        })
        .collect();
    db.insert_batch(items, &|_, _| {}).unwrap();
    let options = SearchOptions::default();
    for s in 0..searches {
        let found = db.search(&vector(&mut rng), &options).unwrap();
        if s % 4 == 0 {
            let clicked = vec![found.hits[1].id.to_string()];
            db.feedback(Feedback::ForSearch {
                search_id: found.search_id,
                clicked,
                converted: Vec::new(),
            })
            .unwrap();
        }
    }
    db
}

#[test]
fn heap_bytes_is_what_the_allocator_holds_for_the_database() {
    // The thread pools, their scratch and other one-time state come first,
    // so that what is counted next is the database's own.
    drop(build(2_000, 32, 200));
    let before = LIVE.load(Ordering::SeqCst);
    let db = build(20_000, 32, 2_000);
    // Deletes, metadata changes and replacements: the catalogue's running
    // count must follow them.
    let mut rng = SplitMix64::new(9);
    for i in (0..20_000).step_by(7) {
        let id = format!("product-{i:07}-{}", "x".repeat(i % 17));
        match i % 3 {
            0 => assert!(db.delete(&id).unwrap()),
            1 => db
                .update(
                    &id,
                    None,
                    Some(json!({ "note": "y".repeat(i % 300) }).as_object().cloned()),
                )
                .unwrap(),
            _ => {
                let vector = (0..32).map(|_| rng.gaussian()).collect();
                db.update(&id, Some(vector), Some(None)).unwrap()
            }
        }
    }
    let counted = (LIVE.load(Ordering::SeqCst) - before) as f64;
    let stats = db.stats();
    let reported = stats.heap_bytes as f64;
    println!(
        "allocator: {counted} bytes live; stats: {reported} (index {}, catalogue {}, recent searches {}, learning {})",
        stats.index_heap_bytes,
        stats.catalog_heap_bytes,
        stats.recent_searches_heap_bytes,
        stats.learning_heap_bytes
    );
    assert!(
        (reported / counted - 1.0).abs() < 0.1,
        "stats reports {reported} heap bytes, the allocator counts {counted}"
    );
    drop(db);
}
