//! Snapshots: fill, publish by rename, pinning and collection.

use std::sync::{Arc, Barrier};

use kiln_oci::ImageLocation;
use kiln_store::{PruneOptions, StoreError, chain_ids};

use crate::support::{digest, image, store};

#[test]
fn ensure_snapshot_fills_once_and_is_idempotent() {
    let (_dir, store) = store();
    let lease = store.lease().unwrap();
    let chain = digest(b"chain");
    assert_eq!(store.snapshot_path(&chain), None);
    let dir = lease
        .ensure_snapshot(&chain, |d| {
            std::fs::write(d.join("file"), b"content")?;
            Ok(())
        })
        .unwrap();
    assert_eq!(std::fs::read(dir.join("file")).unwrap(), b"content");
    let again = lease.ensure_snapshot(&chain, |_| panic!("an existing snapshot is not refilled")).unwrap();
    assert_eq!(again, dir);
    assert_eq!(store.snapshot_path(&chain), Some(dir));
}

#[test]
fn a_failed_fill_leaves_nothing() {
    let (_dir, store) = store();
    let lease = store.lease().unwrap();
    let chain = digest(b"bad");
    let err = lease
        .ensure_snapshot(&chain, |d| {
            std::fs::create_dir(d.join("partial"))?;
            Err("layer is corrupt".into())
        })
        .unwrap_err();
    assert!(matches!(err, StoreError::Snapshot { .. }));
    assert!(err.to_string().contains("layer is corrupt"), "{err}");
    assert_eq!(store.snapshot_path(&chain), None);
    assert_eq!(std::fs::read_dir(lease.tmp_dir()).unwrap().count(), 0);
}

#[test]
fn racing_fills_end_with_one_snapshot() {
    let (_dir, store) = store();
    let chain = digest(b"raced");
    let barrier = Arc::new(Barrier::new(4));
    let handles: Vec<_> = (0..4)
        .map(|i| {
            let store = store.clone();
            let barrier = barrier.clone();
            let chain = chain.clone();
            std::thread::spawn(move || {
                let lease = store.lease().unwrap();
                let dir = lease
                    .ensure_snapshot(&chain, |d| {
                        barrier.wait();
                        std::fs::write(d.join("who"), i.to_string())?;
                        Ok(())
                    })
                    .unwrap();
                std::fs::read_to_string(dir.join("who")).unwrap()
            })
        })
        .collect();
    let winners: Vec<String> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    assert!(winners.windows(2).all(|w| w[0] == w[1]), "everyone sees the one published copy: {winners:?}");
    assert_eq!(std::fs::read_dir(store.root().join("v1/snapshots")).unwrap().count(), 1);
}

#[test]
fn snapshots_of_stored_images_survive_prune() {
    let (_dir, store) = store();
    let lease = store.lease().unwrap();
    let rec = image(&lease, &[b"base", b"top"], &["snap:1"]);
    let img = store.load(&rec).unwrap();
    let chains = chain_ids(img.diff_ids());
    for chain in &chains {
        lease.ensure_snapshot(chain, |_| Ok(())).unwrap();
    }
    let stray = digest(b"stray");
    lease.ensure_snapshot(&stray, |_| Ok(())).unwrap();
    drop(lease);
    let report = store.prune(&PruneOptions::default()).unwrap();
    assert_eq!(report.snapshots, 1, "{report:?}");
    assert!(chains.iter().all(|c| store.snapshot_path(c).is_some()));
    assert!(store.snapshot_path(&stray).is_none());
    store.remove(&ImageLocation::parse("snap:1").unwrap(), false).unwrap();
    assert_eq!(store.prune(&PruneOptions::default()).unwrap().snapshots, 2);
}

#[test]
fn unsynced_snapshots_are_used_in_this_boot_only() {
    let (_dir, store) = store();
    let lease = store.lease().unwrap();
    let rec = image(&lease, &[b"unsynced layer"], &["unsynced:1"]);
    let chain = chain_ids(store.load(&rec).unwrap().diff_ids())[0].clone();
    let dir = lease
        .ensure_snapshot_unsynced(&chain, |d| {
            std::fs::write(d.join("file"), b"content")?;
            Ok(())
        })
        .unwrap();
    let Some(boot) = std::fs::read_to_string("/proc/sys/kernel/random/boot_id").ok() else {
        eprintln!("SKIPPED: no boot id, unsynced snapshots are synced ones");
        return;
    };
    let name = dir.file_name().unwrap().to_string_lossy().into_owned();
    assert_eq!(name, format!("{}.boot-{}", chain.hex(), boot.trim().replace('-', "")));
    assert_eq!(store.snapshot_path(&chain), Some(dir.clone()));
    assert_eq!(lease.ensure_snapshot(&chain, |_| panic!("not refilled")).unwrap(), dir);

    // The same snapshot left by an earlier boot (a machine crash may have cut its data) is not used, and
    // prune removes it even though an image references its chain.
    let snapshots = store.root().join("v1/snapshots");
    let stale = snapshots.join(format!("{}.boot-{}", chain.hex(), "0".repeat(32)));
    std::fs::rename(&dir, &stale).unwrap();
    assert_eq!(store.snapshot_path(&chain), None);
    drop(lease);
    let report = store.prune(&PruneOptions::default()).unwrap();
    assert_eq!(report.snapshots, 1, "{report:?}");
    assert!(!stale.exists());

    // One of this boot survives prune while its image exists.
    let lease = store.lease().unwrap();
    let dir = lease.ensure_snapshot_unsynced(&chain, |_| Ok(())).unwrap();
    drop(lease);
    assert_eq!(store.prune(&PruneOptions::default()).unwrap().snapshots, 0);
    assert!(dir.is_dir());
}

#[test]
fn lower_dirs_unpack_each_layer_once_top_first() {
    kiln_test::skip_unless!(kiln_test::is_root(), "overlay-form whiteouts need root");
    let (_dir, store) = store();
    let base = kiln_test::TempDir::new().unwrap();
    std::fs::create_dir_all(base.path().join("etc")).unwrap();
    std::fs::write(base.path().join("etc/os-release"), "ID=test\n").unwrap();
    let rec = kiln_store::transport::import_rootfs(
        &store,
        base.path(),
        &[crate::support::reference("base:1")],
        &kiln_store::transport::RootfsImport::default(),
    )
    .unwrap();
    let image = store.load(&rec).unwrap();
    let lease = store.lease().unwrap();
    let dirs = lease.lower_dirs(image.diff_ids()).unwrap();
    assert_eq!(dirs.len(), 1);
    assert_eq!(std::fs::read_to_string(dirs[0].join("etc/os-release")).unwrap(), "ID=test\n");
    assert_eq!(Some(dirs[0].clone()), store.snapshot_path(&chain_ids(image.diff_ids())[0]));
    // A second call reuses the snapshot; prune keeps it while the image exists.
    assert_eq!(lease.lower_dirs(image.diff_ids()).unwrap(), dirs);
    drop(lease);
    assert_eq!(store.prune(&PruneOptions::default()).unwrap().snapshots, 0);
}
