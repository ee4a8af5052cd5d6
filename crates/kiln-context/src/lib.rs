//! Build contexts: the files a build may read, as BuildKit sees them. The central type is [`Context`], a
//! directory (or an extracted tarball) filtered by its `.dockerignore`.
//!
//! - Making one: [`Context::from_dir`] (with `<Dockerfile>.dockerignore` taking precedence over
//!   `.dockerignore`, [`ignore_file_for`]), [`Context::named`] for `--build-context NAME=DIR`,
//!   [`Context::from_tar`] for plain, gzip or zstd tarballs extracted safely, [`Context::from_rootfs`] for a
//!   stage's or image's filesystem read by `COPY --from` (same selection rules, owners kept).
//! - Reading it: a parallel walker ([`Context::entries`]) that skips excluded directories entirely when no
//!   exception pattern can re-include something inside them, and lists symlinks without following them.
//! - COPY/ADD sources: [`Context::select`] with BuildKit's rules (Go `filepath.Match` wildcards, directory
//!   contents, `--exclude`, `--parents`, symlinks followed when named, "not found" errors).
//! - Cache-key ingredients: [`Context::checksum`], one [`Digest`](kiln_oci::Digest) for a selection plus
//!   a digest per entry, with a stat-keyed memo ([`ChecksumMemo`]) that the build engine implements over
//!   the store, so an unchanged context re-hashes almost nothing.
//! - The explainer behind `kiln context ls` / `explain`: [`Context::ls`], [`Context::explain`],
//!   [`Context::ignore_warnings`].
//!
//! The `.dockerignore` syntax itself is kiln-dockerfile's ([`kiln_dockerfile::ignore`]).

mod checksum;
mod context;
mod error;
mod explain;
mod glob;
mod select;
mod tar;
mod walk;

pub use checksum::{
    Checksum, ChecksumMemo, ChecksumStats, EntryChange, EntryDigest, MemoKey, MemoryMemo, NoMemo,
    RACY_WINDOW, diff_entries,
};
pub use context::{Context, DOCKERIGNORE, default_dockerfile, ignore_file_for};
pub use error::{ContextError, Result};
pub use explain::{Decision, DirUsage, IgnoreWarning, Listing, PathExplanation};
pub use kiln_dockerfile::ignore::DockerIgnore;
pub use select::{Match, SelectedEntry, Selection, SourceSpec};
pub use walk::{Entry, EntryKind};
