//! `--cache-from`/`--cache-to` with a local cache directory: a second store reuses the steps the first
//! exported, and a cache that fails is a warning, not a failed build.

use std::sync::Arc;

use kiln_build::{BuildEvent, CacheMode, CacheSource, LocalCacheDir};
use kiln_store::transport::ExportOptions;

use crate::harness::{Fixture, read};
use crate::need_root;

const DOCKERFILE: &str = "FROM busybox AS build\nRUN echo built > /out\nCOPY hello.txt /hello\n\
                          FROM busybox\nCOPY --from=build /out /out\nRUN cat /out /out > /twice\n";

fn export(f: &Fixture, built: &crate::harness::Built, mode: CacheMode, dir: &std::path::Path) {
    let lease = f.store.lease().unwrap();
    kiln_store::build_cache::write_dir(
        &lease,
        &built.output.cache_entries(mode),
        dir,
        &ExportOptions::default(),
    )
    .unwrap();
}

#[test]
fn another_store_reuses_the_exported_steps() {
    need_root!();
    let a = Fixture::new();
    a.write("hello.txt", "hello\n");
    let first = a.build(DOCKERFILE);
    assert_eq!(first.output.cache.len(), 4, "every filesystem step is reported for export");
    assert_eq!(first.output.cache_entries(CacheMode::Min).len(), 2, "min: only the result's stage");
    let cache = a.dir.path().join("cache");
    export(&a, &first, CacheMode::Max, &cache);

    let b = Fixture::new();
    b.write("hello.txt", "hello\n");
    let mut req = b.request(DOCKERFILE, |_| {});
    req.cache_from = vec![Arc::new(LocalCacheDir::new(&cache)) as Arc<dyn CacheSource>];
    let second = b.run(&req).unwrap_or_else(|e| panic!("{}", e.0));
    assert_eq!(second.executed(), 0, "nothing runs on the second store");
    assert!(
        second.output.steps.iter().all(|s| s.cached && s.cache_source.is_some()),
        "{:?}",
        second.output.steps
    );
    assert_eq!(second.output.image.id, first.output.image.id, "the same image");
    assert_eq!(read(&b.rootfs(&second), "twice"), "built\nbuilt\n");

    // The imported steps are now in b's own cache: the next build needs no source.
    let third = b.build(DOCKERFILE);
    assert!(third.output.steps.iter().all(|s| s.cached && s.cache_source.is_none()));

    // A changed file misses from its step on (the final stage copies from that stage, so it runs too);
    // the steps before it are still reused.
    let c = Fixture::new();
    c.write("hello.txt", "changed\n");
    let mut req = c.request(DOCKERFILE, |_| {});
    req.cache_from = vec![Arc::new(LocalCacheDir::new(&cache)) as Arc<dyn CacheSource>];
    let changed = c.run(&req).unwrap_or_else(|e| panic!("{}", e.0));
    let ran: Vec<&str> = changed.output.steps.iter().filter(|s| !s.cached).map(|s| s.name.as_str()).collect();
    assert_eq!(
        ran,
        [
            "[build 3/3] COPY hello.txt /hello",
            "[2/3] COPY --from=build /out /out",
            "[3/3] RUN cat /out /out > /twice"
        ]
    );
}

#[test]
fn a_broken_cache_is_a_warning_and_the_steps_run() {
    need_root!();
    let a = Fixture::new();
    a.write("hello.txt", "hello\n");
    let first = a.build(DOCKERFILE);
    let cache = a.dir.path().join("cache");
    export(&a, &first, CacheMode::Max, &cache);
    // Damage every layer blob (the config and manifest are small; layers are the gzip blobs).
    let bundle = kiln_store::build_cache::read_dir(&cache).unwrap();
    for layer in &bundle.layers {
        std::fs::write(cache.join("blobs/sha256").join(layer.digest.hex()), b"not gzip").unwrap();
    }
    let b = Fixture::new();
    b.write("hello.txt", "hello\n");
    let mut req = b.request(DOCKERFILE, |_| {});
    req.cache_from = vec![
        Arc::new(LocalCacheDir::new(&cache)) as Arc<dyn CacheSource>,
        Arc::new(LocalCacheDir::new(a.dir.path().join("absent"))),
    ];
    let built = b.run(&req).unwrap_or_else(|e| panic!("{}", e.0));
    assert_eq!(built.output.runs, 2, "both RUN steps ran");
    let warnings: Vec<&str> = built
        .events
        .iter()
        .filter_map(|e| match e {
            BuildEvent::Warning { message } => Some(message.as_str()),
            _ => None,
        })
        .collect();
    assert!(warnings.iter().any(|w| w.contains("absent") && w.contains("not used")), "{warnings:?}");
    assert!(warnings.iter().any(|w| w.contains("running the step instead")), "{warnings:?}");
    assert_eq!(read(&b.rootfs(&built), "twice"), "built\nbuilt\n");
}
