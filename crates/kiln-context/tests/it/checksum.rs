//! Checksums: what changes them, per-entry digests, and the memo.

use std::sync::atomic::{AtomicUsize, Ordering};

use kiln_context::{
    ChecksumMemo, Context, EntryChange, MemoKey, MemoryMemo, NoMemo, SourceSpec, diff_entries,
};
use kiln_oci::Digest;

use crate::support::{Fixture, age};

fn sum(ctx: &Context, sources: &[&str]) -> kiln_context::Checksum {
    let selections: Vec<_> = sources.iter().map(|s| ctx.select(&SourceSpec::new(*s)).unwrap()).collect();
    ctx.checksum(&selections, &NoMemo).unwrap()
}

fn fixture() -> Fixture {
    let f = Fixture::with(&[("src/a.rs", "fn a() {}\n"), ("src/b.rs", "fn b() {}\n"), ("README", "hi\n")]);
    f.symlink("src/link", "a.rs");
    f
}

#[test]
fn same_content_same_digest_whatever_the_times_or_location() {
    let one = fixture();
    let two = fixture();
    let d1 = sum(&one.context(), &["src"]).digest;
    assert_eq!(d1, sum(&two.context(), &["src"]).digest);
    // Touching a file (mtime only) does not change the digest.
    filetime::set_file_mtime(one.join("src/a.rs"), filetime::FileTime::from_unix_time(1, 0)).unwrap();
    assert_eq!(sum(&one.context(), &["src"]).digest, d1);
}

#[test]
fn content_mode_link_targets_and_names_change_the_digest_and_are_named() {
    let f = fixture();
    let before = sum(&f.context(), &["src"]);
    assert_eq!(
        before.entries.iter().map(|e| e.path.as_str()).collect::<Vec<_>>(),
        ["src", "src/a.rs", "src/b.rs", "src/link"]
    );

    f.write("src/b.rs", "fn b() { changed() }\n");
    let after = sum(&f.context(), &["src"]);
    assert_ne!(after.digest, before.digest);
    assert_eq!(diff_entries(&before.entries, &after.entries), [EntryChange::Modified("src/b.rs".into())]);

    f.chmod("src/a.rs", 0o755);
    let moded = sum(&f.context(), &["src"]);
    assert_eq!(diff_entries(&after.entries, &moded.entries), [EntryChange::Modified("src/a.rs".into())]);

    fs_err::remove_file(f.join("src/link")).unwrap();
    f.symlink("src/link", "b.rs");
    let relinked = sum(&f.context(), &["src"]);
    assert_eq!(diff_entries(&moded.entries, &relinked.entries), [EntryChange::Modified("src/link".into())]);

    fs_err::rename(f.join("src/a.rs"), f.join("src/c.rs")).unwrap();
    let renamed = sum(&f.context(), &["src"]);
    assert_eq!(
        diff_entries(&relinked.entries, &renamed.entries),
        [EntryChange::Removed("src/a.rs".into()), EntryChange::Added("src/c.rs".into())]
    );
}

#[test]
fn files_outside_the_selection_do_not_matter() {
    let f = fixture();
    let before = sum(&f.context(), &["src/*.rs"]).digest;
    f.write("README", "changed\n");
    f.write("other/new", "x\n");
    assert_eq!(sum(&f.context(), &["src/*.rs"]).digest, before);
    // But the same files under another source path do.
    assert_ne!(sum(&f.context(), &["src"]).digest, before);
}

/// Counts what the memo is asked and stores.
#[derive(Default)]
struct CountingMemo {
    inner: MemoryMemo,
    gets: AtomicUsize,
    puts: AtomicUsize,
}

impl ChecksumMemo for CountingMemo {
    fn get(&self, keys: &[MemoKey]) -> Vec<Option<Digest>> {
        self.gets.fetch_add(keys.len(), Ordering::Relaxed);
        self.inner.get(keys)
    }
    fn put(&self, entries: &[(MemoKey, Digest)]) {
        self.puts.fetch_add(entries.len(), Ordering::Relaxed);
        self.inner.put(entries)
    }
}

#[test]
fn an_unchanged_context_rehashes_nothing_with_the_memo() {
    let f = Fixture::in_memory();
    for i in 0..5000 {
        f.write(&format!("src/d{:02}/f{i:04}.txt", i % 100), &format!("file {i}\n"));
    }
    let memo = CountingMemo::default();
    let spec = SourceSpec::new(".");

    // First build: everything is read and memoized.
    let ctx = f.context();
    let first = ctx.checksum(&[ctx.select(&spec).unwrap()], &memo).unwrap();
    assert_eq!((first.stats.files, first.stats.hashed, first.stats.memo_hits), (5000, 5000, 0));
    assert_eq!(memo.puts.load(Ordering::Relaxed), 5000);

    // Next build (a new process: a fresh Context): no file content is read.
    let ctx = f.context();
    let second = ctx.checksum(&[ctx.select(&spec).unwrap()], &memo).unwrap();
    assert_eq!(second.digest, first.digest);
    assert_eq!((second.stats.hashed, second.stats.bytes_hashed, second.stats.memo_hits), (0, 0, 5000));

    // One file changes: exactly that one is read again, and named.
    f.write("src/d07/f0007.txt", "changed\n");
    let ctx = f.context();
    let third = ctx.checksum(&[ctx.select(&spec).unwrap()], &memo).unwrap();
    assert_eq!((third.stats.hashed, third.stats.memo_hits), (1, 4999));
    assert_eq!(
        diff_entries(&second.entries, &third.entries),
        [EntryChange::Modified("src/d07/f0007.txt".into())]
    );

    // Within one context, a second checksum is answered without asking the memo again.
    let asked = memo.gets.load(Ordering::Relaxed);
    let again = ctx.checksum(&[ctx.select(&spec).unwrap()], &memo).unwrap();
    assert_eq!(again.stats.hashed, 0);
    assert_eq!(memo.gets.load(Ordering::Relaxed), asked);
}

#[test]
fn a_file_changed_just_now_is_not_memoized() {
    let f = fixture();
    fs_err::write(f.join("fresh"), "new\n").unwrap();
    let memo = MemoryMemo::default();
    let ctx = f.context();
    ctx.checksum(&[ctx.select(&SourceSpec::new("fresh")).unwrap()], &memo).unwrap();
    assert!(memo.is_empty(), "a racy file was memoized");
    age(&f.join("fresh"));
    let ctx = f.context();
    ctx.checksum(&[ctx.select(&SourceSpec::new("fresh")).unwrap()], &memo).unwrap();
    assert_eq!(memo.len(), 1);
}

#[test]
fn a_stale_memo_entry_is_never_hit_after_a_change() {
    let f = fixture();
    let memo = MemoryMemo::default();
    let ctx = f.context();
    let before = ctx.checksum(&[ctx.select(&SourceSpec::new("README")).unwrap()], &memo).unwrap();
    // Same size, and the mtime put back: the ctime still differs.
    fs_err::write(f.join("README"), "ho\n").unwrap();
    age(&f.join("README"));
    let ctx = f.context();
    let after = ctx.checksum(&[ctx.select(&SourceSpec::new("README")).unwrap()], &memo).unwrap();
    assert_eq!(after.stats.hashed, 1);
    assert_ne!(after.digest, before.digest);
}
