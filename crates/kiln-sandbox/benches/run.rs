//! The fixed cost of one sandboxed run: `true` from busybox, through overlay mount, namespaces, `/dev`,
//! `pivot_root`, capabilities, seccomp, `execve` and wait, with the upper directory cleaned of placeholders.
//! Needs root (skips otherwise). `cargo bench -p kiln-sandbox --bench run`.

#![allow(clippy::print_stderr, clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use kiln_sandbox::{LinuxSys, Network, Rootfs, RunSpec, Sandbox};

fn bench(c: &mut Criterion) {
    if !kiln_test::is_root() || !std::path::Path::new("/bin/busybox").exists() {
        eprintln!("skipping the sandbox benchmark: needs root and busybox-static");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let rootfs = dir.path().join("rootfs");
    kiln_test::busybox_rootfs(&rootfs).unwrap();
    let sandbox = Sandbox::new(Arc::new(LinuxSys), dir.path().join("scratch"));
    let cancel = AtomicBool::new(false);
    let mut n = 0u64;
    let mut fresh = |network: Network| {
        n += 1;
        let (upper, work) = (dir.path().join(format!("upper-{n}")), dir.path().join(format!("work-{n}")));
        std::fs::create_dir(&upper).unwrap();
        std::fs::create_dir(&work).unwrap();
        let rootfs = Rootfs::Overlay { lower: vec![rootfs.clone()], upper, work };
        let mut spec = RunSpec::new(rootfs, vec!["/bin/true".into()]);
        spec.network = network;
        spec
    };
    let mut group = c.benchmark_group("sandbox");
    group.bench_function("run true", |b| {
        b.iter_batched(
            || fresh(Network::Host),
            |spec| assert!(sandbox.run(&spec, &cancel, &mut |_| {}).unwrap().status.success()),
            BatchSize::SmallInput,
        )
    });
    group.bench_function("run true --network=none", |b| {
        b.iter_batched(
            || fresh(Network::None),
            |spec| assert!(sandbox.run(&spec, &cancel, &mut |_| {}).unwrap().status.success()),
            BatchSize::SmallInput,
        )
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
