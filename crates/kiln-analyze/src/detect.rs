//! Detectors that explain where an image's bytes go to waste, and the suggestions that would save them.
//!
//! Each [`Finding`] names its bytes, its layer, the instruction that made the layer and, for images kiln
//! built, the Dockerfile line (history provenance). The path rules (package caches, toolchains, docs) are
//! declared as data in [`CACHES`], [`TOOLCHAINS`] and [`DOCS`]. Every finding maps to exactly one
//! [`SuggestionKind`]; a [`Suggestion`] sums the findings of its kind, so suggestions never count the same
//! finding twice.

use std::collections::{BTreeMap, HashMap};

use serde::Serialize;

use crate::scan::{FileKind, LayerEntry};
use crate::tree::{EntryRef, EntryStatus, FsTree, LayerDelta, ROOT};

/// How many paths a finding lists.
const LISTED_PATHS: usize = 10;
/// Below this, a base image is not worth replacing for its docs and caches.
const SMALLER_BASE_MIN: u64 = 1 << 20;

/// What a finding is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum FindingKind {
    /// Package-manager caches and lists left in the image.
    PackageCache,
    /// A compiler toolchain or headers in the image.
    BuildToolchain,
    /// Documentation and man pages.
    Docs,
    /// Files a later layer deletes: their bytes stay in the layer that added them.
    DeletedLater,
    /// Files a later layer overwrites: the old versions stay.
    Overwritten,
    /// The same content at several paths or layers.
    DuplicateContent,
    /// Files copied into a new layer only to change their mode or owner.
    MetadataRewrite,
}

/// What to change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum SuggestionKind {
    /// Build in one stage, copy only the artifacts into the final one.
    MultiStage,
    /// Delete in the same RUN that creates.
    CleanupSameRun,
    /// Keep caches out of the layers with `RUN --mount=type=cache`.
    CacheMount,
    /// `COPY --chown`/`--chmod` instead of a later `chown -R`/`chmod -R`.
    CopyChown,
    /// A slimmer base image.
    SmallerBase,
    /// Write a file once instead of overwriting it in a later layer.
    MergeLayers,
    /// Keep one copy of identical files.
    Dedupe,
}

/// A path and its size.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PathSize {
    /// Absolute path.
    pub path: String,
    /// Bytes.
    pub size: u64,
}

/// One explained piece of waste.
#[derive(Debug, Clone, Serialize)]
pub struct Finding {
    /// What it is.
    pub kind: FindingKind,
    /// One line.
    pub title: String,
    /// Bytes involved.
    pub bytes: u64,
    /// How many files.
    pub files: u64,
    /// The layer that holds the bytes.
    pub layer: usize,
    /// The instruction that made the layer.
    pub created_by: Option<String>,
    /// The Dockerfile line, for images kiln built.
    pub location: Option<String>,
    /// The largest paths involved.
    pub paths: Vec<PathSize>,
    /// What would save the bytes.
    pub suggestion: SuggestionKind,
    /// The concrete change for this finding (a command, a flag).
    pub fix: String,
}

/// A change and the bytes it would save.
#[derive(Debug, Clone, Serialize)]
pub struct Suggestion {
    /// Which change.
    pub kind: SuggestionKind,
    /// What to do.
    pub text: String,
    /// Σ bytes of the findings it addresses.
    pub bytes_saved: u64,
    /// The layers involved.
    pub layers: Vec<usize>,
    /// Their Dockerfile lines, when known.
    pub locations: Vec<String>,
}

/// Where a layer came from.
#[derive(Debug, Clone, Default, Serialize)]
pub struct LayerOrigin {
    /// The history entry's `created_by`.
    pub created_by: Option<String>,
    /// The Dockerfile location kiln recorded.
    pub location: Option<String>,
}

/// A package-manager cache rule: paths, how to avoid it.
#[derive(Debug)]
pub struct CacheRule {
    /// Its name in findings.
    pub name: &'static str,
    /// Path prefixes (no leading `/`) or `*/infix/` patterns that hold it.
    pub patterns: &'static [&'static str],
    /// Names under those prefixes that are not cache (lock files).
    pub except: &'static [&'static str],
    /// The cleanup to run in the same RUN.
    pub cleanup: &'static str,
    /// The `--mount=type=cache` target.
    pub mount: &'static str,
}

/// Package-manager caches and lists.
pub const CACHES: &[CacheRule] = &[
    CacheRule {
        name: "apt lists",
        patterns: &["var/lib/apt/lists/"],
        except: &["lock"],
        cleanup: "rm -rf /var/lib/apt/lists/*",
        mount: "/var/lib/apt/lists,sharing=locked",
    },
    CacheRule {
        name: "apt archives",
        patterns: &["var/cache/apt/"],
        except: &["lock"],
        cleanup: "apt-get clean",
        mount: "/var/cache/apt,sharing=locked",
    },
    CacheRule {
        name: "pip cache",
        patterns: &["*/.cache/pip/", "root/.cache/pip/"],
        except: &[],
        cleanup: "pip install --no-cache-dir",
        mount: "/root/.cache/pip",
    },
    CacheRule {
        name: "npm cache",
        patterns: &["*/.npm/_cacache/", "root/.npm/_cacache/"],
        except: &[],
        cleanup: "npm cache clean --force",
        mount: "/root/.npm",
    },
    CacheRule {
        name: "yarn cache",
        patterns: &["usr/local/share/.cache/yarn/", "*/.cache/yarn/", "root/.cache/yarn/"],
        except: &[],
        cleanup: "yarn cache clean",
        mount: "/usr/local/share/.cache/yarn",
    },
    CacheRule {
        name: "apk cache",
        patterns: &["var/cache/apk/", "etc/apk/cache/"],
        except: &[],
        cleanup: "apk add --no-cache",
        mount: "/var/cache/apk",
    },
    CacheRule {
        name: "dnf/yum cache",
        patterns: &["var/cache/dnf/", "var/cache/yum/"],
        except: &[],
        cleanup: "dnf clean all",
        mount: "/var/cache/dnf",
    },
    CacheRule {
        name: "Go build cache",
        patterns: &["root/.cache/go-build/", "*/.cache/go-build/"],
        except: &[],
        cleanup: "go clean -cache",
        mount: "/root/.cache/go-build",
    },
];

/// A toolchain rule.
#[derive(Debug)]
pub struct ToolchainRule {
    /// Its name in findings.
    pub name: &'static str,
    /// Path prefixes, `*/infix/` patterns, or `dir/name*` globs on the file name.
    pub patterns: &'static [&'static str],
}

/// Compilers, their support files and headers.
pub const TOOLCHAINS: &[ToolchainRule] = &[
    ToolchainRule {
        name: "gcc/binutils",
        patterns: &[
            "usr/lib/gcc/",
            "usr/libexec/gcc/",
            "usr/lib/gcc-cross/",
            "usr/bin/gcc*",
            "usr/bin/g++*",
            "usr/bin/cc1*",
            "usr/bin/cpp-*",
            "usr/bin/x86_64-linux-gnu-*",
            "usr/bin/aarch64-linux-gnu-*",
            "usr/bin/ld.*",
            "usr/bin/as",
            "usr/bin/ld",
            "usr/lib/x86_64-linux-gnu/libbfd*",
            "usr/lib/x86_64-linux-gnu/libopcodes*",
        ],
    },
    ToolchainRule { name: "C headers", patterns: &["usr/include/", "usr/local/include/"] },
    ToolchainRule { name: "Go toolchain", patterns: &["usr/local/go/", "usr/lib/go/", "usr/lib/go-*"] },
    ToolchainRule {
        name: "Rust toolchain",
        patterns: &[
            "usr/local/rustup/",
            "root/.rustup/",
            "usr/local/cargo/bin/rustc",
            "usr/lib/rustlib/",
            "usr/bin/rustc",
            "usr/lib/x86_64-linux-gnu/librustc_driver*",
        ],
    },
    ToolchainRule {
        name: "node-gyp",
        patterns: &["*/node_modules/node-gyp/", "root/.cache/node-gyp/", "root/.node-gyp/"],
    },
];

/// Documentation prefixes.
pub const DOCS: &[&str] = &[
    "usr/share/doc/",
    "usr/share/man/",
    "usr/share/info/",
    "usr/share/gtk-doc/",
    "usr/local/share/doc/",
    "usr/local/share/man/",
];

/// True when `path` (no leading `/`) matches `pattern`: a prefix ending in `/`, a `*/infix/` anywhere,
/// a trailing `*` glob on the last component, or an exact path.
fn matches(pattern: &str, path: &str) -> bool {
    if let Some(infix) = pattern.strip_prefix("*/") {
        return path.contains(&format!("/{infix}"));
    }
    if let Some(prefix) = pattern.strip_suffix('*') {
        return path.starts_with(prefix) && !path[prefix.len()..].contains('/');
    }
    if pattern.ends_with('/') {
        return path.starts_with(pattern);
    }
    path == pattern
}

/// The inputs the detectors share.
pub(crate) struct Context<'a> {
    pub(crate) layers: &'a [&'a [LayerEntry]],
    pub(crate) deltas: &'a [LayerDelta],
    pub(crate) tree: &'a FsTree,
    pub(crate) origins: &'a [LayerOrigin],
}

/// A non-directory in the final filesystem.
struct Alive<'a> {
    path: String,
    at: EntryRef,
    entry: &'a LayerEntry,
}

/// Runs every detector; findings come largest first.
pub(crate) fn detect(cx: &Context<'_>) -> (Vec<Finding>, Vec<Suggestion>) {
    let alive: Vec<Alive<'_>> = cx
        .tree
        .descendants(ROOT)
        .into_iter()
        .filter_map(|id| {
            let at = cx.tree.node(id).entry?;
            let entry = &cx.layers[at.layer][at.index];
            (entry.kind != FileKind::Dir).then(|| Alive { path: cx.tree.path(id), at, entry })
        })
        .collect();
    let mut findings = Vec::new();
    caches(cx, &alive, &mut findings);
    toolchains(cx, &alive, &mut findings);
    docs(cx, &alive, &mut findings);
    deleted_later(cx, &mut findings);
    overwritten(cx, &mut findings);
    metadata_rewrites(cx, &mut findings);
    duplicates(cx, &alive, &mut findings);
    findings.retain(|f| f.bytes > 0);
    findings.sort_by(|a, b| b.bytes.cmp(&a.bytes).then(a.layer.cmp(&b.layer)).then(a.kind.cmp(&b.kind)));
    let suggestions = suggestions(cx, &findings);
    (findings, suggestions)
}

/// Groups (layer → paths) into findings built by `make`.
fn per_layer(
    cx: &Context<'_>,
    groups: BTreeMap<usize, Vec<PathSize>>,
    mut make: impl FnMut(usize, u64, u64) -> (FindingKind, String, SuggestionKind, String),
    out: &mut Vec<Finding>,
) {
    for (layer, mut paths) in groups {
        let bytes: u64 = paths.iter().map(|p| p.size).sum();
        let files = paths.len() as u64;
        paths.sort_by(|a, b| b.size.cmp(&a.size).then_with(|| a.path.cmp(&b.path)));
        paths.truncate(LISTED_PATHS);
        let (kind, mut title, suggestion, fix) = make(layer, bytes, files);
        if files == 1 {
            // The titles count in plural ("{files} files"); one is "1 file".
            title = title.replacen("1 files", "1 file", 1);
        }
        let origin = cx.origins.get(layer).cloned().unwrap_or_default();
        out.push(Finding {
            kind,
            title,
            bytes,
            files,
            layer,
            created_by: origin.created_by,
            location: origin.location,
            paths,
            suggestion,
            fix,
        });
    }
}

fn abs(path: &str) -> String {
    format!("/{path}")
}

fn caches(cx: &Context<'_>, alive: &[Alive<'_>], out: &mut Vec<Finding>) {
    for rule in CACHES {
        let mut groups: BTreeMap<usize, Vec<PathSize>> = BTreeMap::new();
        for a in alive {
            let name = a.path.rsplit('/').next().unwrap_or(&a.path);
            if rule.patterns.iter().any(|p| matches(p, &a.path)) && !rule.except.contains(&name) {
                groups
                    .entry(a.at.layer)
                    .or_default()
                    .push(PathSize { path: abs(&a.path), size: a.entry.size });
            }
        }
        per_layer(
            cx,
            groups,
            |layer, _, files| {
                let (suggestion, fix) = if layer == 0 && cx.layers.len() > 1 {
                    (
                        SuggestionKind::SmallerBase,
                        "use a base image that ships without package caches".to_owned(),
                    )
                } else {
                    (
                        SuggestionKind::CacheMount,
                        format!(
                            "RUN --mount=type=cache,target={} …, or `{}` in the same RUN",
                            rule.mount, rule.cleanup
                        ),
                    )
                };
                (
                    FindingKind::PackageCache,
                    format!("{} left in the image ({files} files)", rule.name),
                    suggestion,
                    fix,
                )
            },
            out,
        );
    }
}

fn toolchains(cx: &Context<'_>, alive: &[Alive<'_>], out: &mut Vec<Finding>) {
    for rule in TOOLCHAINS {
        let mut groups: BTreeMap<usize, Vec<PathSize>> = BTreeMap::new();
        for a in alive.iter().filter(|a| rule.patterns.iter().any(|p| matches(p, &a.path))) {
            groups.entry(a.at.layer).or_default().push(PathSize { path: abs(&a.path), size: a.entry.size });
        }
        per_layer(
            cx,
            groups,
            |_, _, files| {
                (
                    FindingKind::BuildToolchain,
                    format!("{} in the final image ({files} files)", rule.name),
                    SuggestionKind::MultiStage,
                    "build in a builder stage and COPY --from=builder only the artifacts".to_owned(),
                )
            },
            out,
        );
    }
}

fn docs(cx: &Context<'_>, alive: &[Alive<'_>], out: &mut Vec<Finding>) {
    let mut groups: BTreeMap<usize, Vec<PathSize>> = BTreeMap::new();
    for a in alive.iter().filter(|a| DOCS.iter().any(|p| matches(p, &a.path))) {
        groups.entry(a.at.layer).or_default().push(PathSize { path: abs(&a.path), size: a.entry.size });
    }
    per_layer(
        cx,
        groups,
        |layer, _, files| {
            let (suggestion, fix) = if layer == 0 && cx.layers.len() > 1 {
                (SuggestionKind::SmallerBase, "a -slim or distroless base ships without docs".to_owned())
            } else {
                (
                    SuggestionKind::CleanupSameRun,
                    "install with --no-install-recommends and a dpkg path-exclude for /usr/share/doc and \
                     /usr/share/man, or delete them in the same RUN"
                        .to_owned(),
                )
            };
            (FindingKind::Docs, format!("documentation and man pages ({files} files)"), suggestion, fix)
        },
        out,
    );
}

fn deleted_later(cx: &Context<'_>, out: &mut Vec<Finding>) {
    // Keyed by the layer holding the bytes, then the layer deleting them.
    let mut groups: BTreeMap<(usize, usize), Vec<PathSize>> = BTreeMap::new();
    for (j, delta) in cx.deltas.iter().enumerate() {
        for r in delta.removed.iter().filter(|r| !r.replaced && r.owner.layer != j) {
            groups.entry((r.owner.layer, j)).or_default().push(PathSize { path: abs(&r.path), size: r.size });
        }
    }
    for ((owner, by), paths) in groups {
        let by_at =
            cx.origins.get(by).and_then(|o| o.location.clone()).unwrap_or_else(|| format!("layer {by}"));
        let single = BTreeMap::from([(owner, paths)]);
        per_layer(
            cx,
            single,
            |layer, _, files| {
                let (suggestion, fix) = if layer == 0 && cx.layers.len() > 1 {
                    (
                        SuggestionKind::SmallerBase,
                        "deleting base-image files saves nothing: pick a base without them".to_owned(),
                    )
                } else {
                    (
                        SuggestionKind::CleanupSameRun,
                        format!("delete them in the RUN that creates them, not in {by_at}"),
                    )
                };
                (FindingKind::DeletedLater, format!("{files} files deleted later ({by_at})"), suggestion, fix)
            },
            out,
        );
    }
}

/// The size of the replaced entry when `status` overwrote a file's content.
fn overwritten_size(cx: &Context<'_>, status: &EntryStatus) -> Option<(EntryRef, u64)> {
    let EntryStatus::Modified { previous } = status else { return None };
    let old = &cx.layers[previous.layer][previous.index];
    (old.kind == FileKind::File).then_some((*previous, old.size))
}

fn overwritten(cx: &Context<'_>, out: &mut Vec<Finding>) {
    let mut groups: BTreeMap<(usize, usize), Vec<PathSize>> = BTreeMap::new();
    for (j, delta) in cx.deltas.iter().enumerate() {
        for (i, status) in delta.statuses.iter().enumerate() {
            if let Some((previous, size)) = overwritten_size(cx, status) {
                let path = abs(&cx.layers[j][i].path);
                groups.entry((previous.layer, j)).or_default().push(PathSize { path, size });
            }
        }
    }
    for ((owner, by), paths) in groups {
        let by_at =
            cx.origins.get(by).and_then(|o| o.location.clone()).unwrap_or_else(|| format!("layer {by}"));
        per_layer(
            cx,
            BTreeMap::from([(owner, paths)]),
            |_, _, files| {
                (
                    FindingKind::Overwritten,
                    format!("{files} files overwritten later ({by_at})"),
                    SuggestionKind::MergeLayers,
                    format!("write the final version once: merge this step with {by_at}"),
                )
            },
            out,
        );
    }
}

fn metadata_rewrites(cx: &Context<'_>, out: &mut Vec<Finding>) {
    for (j, delta) in cx.deltas.iter().enumerate() {
        let mut paths = Vec::new();
        let (mut owner, mut mode) = (0usize, 0usize);
        for (i, status) in delta.statuses.iter().enumerate() {
            let EntryStatus::MetadataOnly { previous } = status else { continue };
            let new = &cx.layers[j][i];
            if new.kind != FileKind::File {
                continue;
            }
            let old = &cx.layers[previous.layer][previous.index];
            owner += usize::from(old.uid != new.uid || old.gid != new.gid);
            mode += usize::from(old.mode != new.mode);
            paths.push(PathSize { path: abs(&new.path), size: new.size });
        }
        if paths.is_empty() {
            continue;
        }
        let what = match (owner > 0, mode > 0) {
            (true, true) => "owner and mode",
            (true, false) => "owner",
            _ => "mode",
        };
        let command = if owner >= mode { "chown -R" } else { "chmod -R" };
        per_layer(
            cx,
            BTreeMap::from([(j, paths)]),
            |_, _, files| {
                (
                    FindingKind::MetadataRewrite,
                    format!("{files} files copied into a new layer only to change their {what}"),
                    SuggestionKind::CopyChown,
                    format!(
                        "set it when the files are added (COPY --chown=… / --chmod=…) instead of a later {command}"
                    ),
                )
            },
            out,
        );
    }
}

fn duplicates(cx: &Context<'_>, alive: &[Alive<'_>], out: &mut Vec<Finding>) {
    // Identical files in the final image: the first (lowest layer, then path) is kept, the others cost.
    let mut by_content: HashMap<(u128, u64), Vec<&Alive<'_>>> = HashMap::new();
    for a in alive.iter().filter(|a| a.entry.kind == FileKind::File && a.entry.size > 0) {
        by_content.entry((a.entry.hash, a.entry.size)).or_default().push(a);
    }
    let mut groups: BTreeMap<usize, Vec<PathSize>> = BTreeMap::new();
    for copies in by_content.values_mut().filter(|c| c.len() > 1) {
        copies.sort_by(|a, b| a.at.layer.cmp(&b.at.layer).then_with(|| a.path.cmp(&b.path)));
        for dup in &copies[1..] {
            let path = format!("/{} (same as /{})", dup.path, copies[0].path);
            groups.entry(dup.at.layer).or_default().push(PathSize { path, size: dup.entry.size });
        }
    }
    // Rewrites of a file with identical bytes and metadata: the same content in two layers.
    for (j, delta) in cx.deltas.iter().enumerate() {
        for (i, status) in delta.statuses.iter().enumerate() {
            let new = &cx.layers[j][i];
            if let (EntryStatus::Unchanged { previous }, FileKind::File) = (status, new.kind)
                && new.size > 0
            {
                let path = format!("/{} (identical to layer {})", new.path, previous.layer);
                groups.entry(j).or_default().push(PathSize { path, size: new.size });
            }
        }
    }
    per_layer(
        cx,
        groups,
        |_, _, files| {
            (
                FindingKind::DuplicateContent,
                format!("{files} files whose content is already in the image"),
                SuggestionKind::Dedupe,
                "keep one copy (hardlink or symlink it, or copy it once)".to_owned(),
            )
        },
        out,
    );
}

fn suggestions(cx: &Context<'_>, findings: &[Finding]) -> Vec<Suggestion> {
    let mut by_kind: BTreeMap<SuggestionKind, Vec<&Finding>> = BTreeMap::new();
    for f in findings {
        by_kind.entry(f.suggestion).or_default().push(f);
    }
    let mut out: Vec<Suggestion> = by_kind
        .into_iter()
        .filter_map(|(kind, fs)| {
            let bytes_saved: u64 = fs.iter().map(|f| f.bytes).sum();
            if kind == SuggestionKind::SmallerBase && bytes_saved < SMALLER_BASE_MIN {
                return None;
            }
            let mut layers: Vec<usize> = fs.iter().map(|f| f.layer).collect();
            layers.sort_unstable();
            layers.dedup();
            let locations: Vec<String> =
                layers.iter().filter_map(|&l| cx.origins.get(l).and_then(|o| o.location.clone())).collect();
            let what: Vec<&str> = {
                let mut w: Vec<&str> = fs.iter().map(|f| f.title.as_str()).collect();
                w.truncate(3);
                w
            };
            let text = match kind {
                SuggestionKind::MultiStage => format!(
                    "Split the build: compile in a builder stage and COPY --from=builder only the artifacts, \
                     so the final image has no {}.",
                    what.join("; ")
                ),
                SuggestionKind::CleanupSameRun => {
                    "Delete temporary files in the same RUN that creates them: a later RUN only hides the bytes."
                        .to_owned()
                }
                SuggestionKind::CacheMount => "Keep package caches out of the layers: RUN \
                     --mount=type=cache,target=<cache dir> (or clean up in the same RUN)."
                    .to_owned(),
                SuggestionKind::CopyChown => "Set owner and mode when files are added (COPY --chown=… --chmod=…) \
                     instead of a later chown -R/chmod -R, which copies every file into a new layer."
                    .to_owned(),
                SuggestionKind::SmallerBase => "Use a smaller base (a -slim, distroless or alpine variant): the \
                     base layer carries docs, package caches or files the build deletes."
                    .to_owned(),
                SuggestionKind::MergeLayers => {
                    "Write files once: merge the steps that overwrite each other's files.".to_owned()
                }
                SuggestionKind::Dedupe => {
                    "Keep one copy of identical files (hardlink, symlink, or copy once).".to_owned()
                }
            };
            Some(Suggestion { kind, text, bytes_saved, layers, locations })
        })
        .collect();
    out.sort_by(|a, b| b.bytes_saved.cmp(&a.bytes_saved).then(a.kind.cmp(&b.kind)));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_match_prefixes_infixes_and_globs() {
        assert!(matches("var/lib/apt/lists/", "var/lib/apt/lists/deb_Packages"));
        assert!(!matches("var/lib/apt/lists/", "var/lib/apt/listsx"));
        assert!(matches("*/.cache/pip/", "home/app/.cache/pip/http/a"));
        assert!(matches("usr/bin/gcc*", "usr/bin/gcc-12"));
        assert!(!matches("usr/bin/gcc*", "usr/bin/gcc-12/x"));
        assert!(matches("usr/bin/as", "usr/bin/as"));
        assert!(!matches("usr/bin/as", "usr/bin/ash"));
    }
}
