use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use super::*;

/// A tiny real table (two symbols), reported as `bytes` large.
fn loaded(bytes: usize) -> Loaded {
    let table = ksym::parse_bytes(
        "test",
        b"ffffffff81000000 T _text\nffffffff81000100 T other\n",
        &ksym::LoadOptions::default(),
    )
    .unwrap();
    Loaded { table, bytes }
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

#[test]
fn least_recently_used_out_when_over_the_bound() {
    rt().block_on(async {
        let cache = TableCache::new(250);
        let loads = AtomicUsize::new(0);
        let get = |boot: &'static str| {
            let loads = &loads;
            let cache = &cache;
            async move {
                cache
                    .get(boot, || async {
                        loads.fetch_add(1, Ordering::SeqCst);
                        Ok(loaded(100))
                    })
                    .await
                    .unwrap()
                    .1
            }
        };
        assert_eq!(get("a").await, Had::Loaded);
        assert_eq!(get("b").await, Had::Loaded);
        assert_eq!(get("a").await, Had::Hit);
        assert_eq!(cache.usage(), (2, 200));
        // c pushes out b, the least recently used.
        assert_eq!(get("c").await, Had::Loaded);
        assert_eq!(cache.usage(), (2, 200));
        assert_eq!(get("a").await, Had::Hit);
        assert_eq!(get("b").await, Had::Loaded);
        assert_eq!(loads.load(Ordering::SeqCst), 4);
        cache.invalidate("b");
        assert_eq!(cache.usage(), (1, 100));
    });
}

#[test]
fn concurrent_first_requests_load_once() {
    rt().block_on(async {
        let cache = Arc::new(TableCache::new(1 << 20));
        let loads = Arc::new(AtomicUsize::new(0));
        let mut tasks = Vec::new();
        for _ in 0..16 {
            let (cache, loads) = (cache.clone(), loads.clone());
            tasks.push(tokio::spawn(async move {
                cache
                    .get("boot", || async move {
                        loads.fetch_add(1, Ordering::SeqCst);
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        Ok(loaded(10))
                    })
                    .await
                    .map(|(_, had)| had)
            }));
        }
        let mut loaded_count = 0;
        for t in tasks {
            if t.await.unwrap().unwrap() == Had::Loaded {
                loaded_count += 1;
            }
        }
        assert_eq!(loads.load(Ordering::SeqCst), 1);
        assert_eq!(loaded_count, 1);
    });
}

#[test]
fn a_failed_load_is_not_kept() {
    rt().block_on(async {
        let cache = TableCache::new(1 << 20);
        for _ in 0..3 {
            let r = cache
                .get("nope", || async {
                    Err(StoreError::NotFound("nope".into()))
                })
                .await;
            assert!(matches!(r, Err(StoreError::NotFound(_))));
        }
        assert_eq!(cache.slots.lock().unwrap().by_boot.len(), 0);
        let r = cache.get("nope", || async { Ok(loaded(5)) }).await;
        assert_eq!(r.unwrap().1, Had::Loaded);
    });
}
