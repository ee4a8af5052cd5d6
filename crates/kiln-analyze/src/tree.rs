//! The filesystem the layers build, as a container runtime sees it: [`FsTree`] stacks layers with OCI
//! semantics (a whiteout deletes a path of the layers below, an opaque marker empties a directory of
//! them, an entry replaces what was at its path) and remembers, for every path, the layer entry that put
//! it there. Stacking a layer yields its [`LayerDelta`]: what each entry did (added, modified, rewritten
//! unchanged, metadata only) and which files left the tree.
//!
//! This is the truth the report, the detectors, the diff and the interactive view work from. dive's
//! numbers come from dive's own model in [`crate::dive`], which differs in places on purpose (it ignores
//! opaque markers, for one).

use std::collections::{BTreeMap, HashMap};

use crate::scan::{FileKind, LayerEntry};

/// Index of a node in [`FsTree`].
pub type NodeId = usize;

/// Which layer entry a path comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
pub struct EntryRef {
    /// The layer (base first).
    pub layer: usize,
    /// The entry's index in that layer's [`crate::LayerScan::entries`].
    pub index: usize,
}

/// What one layer entry did to the tree below it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryStatus {
    /// A new path.
    Added,
    /// Replaced a path with different content (or a different kind).
    Modified {
        /// The entry it replaced.
        previous: EntryRef,
    },
    /// Rewrote a path with the same content and a different mode or owner (a `chmod`/`chown` copy).
    MetadataOnly {
        /// The entry it replaced.
        previous: EntryRef,
    },
    /// Rewrote a path with identical content and metadata.
    Unchanged {
        /// The entry it replaced.
        previous: EntryRef,
    },
    /// A whiteout or opaque marker (what it removed is in [`LayerDelta::removed`]).
    Deletion,
}

impl EntryStatus {
    /// The entry this one replaced, if any.
    pub fn previous(&self) -> Option<EntryRef> {
        match *self {
            EntryStatus::Modified { previous }
            | EntryStatus::MetadataOnly { previous }
            | EntryStatus::Unchanged { previous } => Some(previous),
            EntryStatus::Added | EntryStatus::Deletion => None,
        }
    }
}

/// A non-directory that left the tree when a layer was stacked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemovedFile {
    /// Its path (no leading `/`).
    pub path: String,
    /// The entry that had put it there.
    pub owner: EntryRef,
    /// Its size.
    pub size: u64,
    /// True when the same layer put something else at the path (then it counts as modified, not removed).
    pub replaced: bool,
}

/// What stacking one layer did.
#[derive(Debug, Clone, Default)]
pub struct LayerDelta {
    /// One status per entry of the layer, in entry order.
    pub statuses: Vec<EntryStatus>,
    /// Non-directories of lower layers that this layer removed or replaced by deleting a parent.
    pub removed: Vec<RemovedFile>,
}

/// A node of the tree.
#[derive(Debug, Clone)]
pub struct FsNode {
    /// The path component.
    pub name: Box<str>,
    /// The parent (the root is its own parent).
    pub parent: NodeId,
    /// Children by name, sorted.
    pub children: BTreeMap<Box<str>, NodeId>,
    /// The entry that put it here; `None` for a directory no layer has an entry for.
    pub entry: Option<EntryRef>,
}

/// The merged filesystem of a stack of layers.
#[derive(Debug, Clone)]
pub struct FsTree {
    nodes: Vec<FsNode>,
}

impl Default for FsTree {
    fn default() -> Self {
        FsTree::new()
    }
}

/// The root's id.
pub const ROOT: NodeId = 0;

impl FsTree {
    /// An empty filesystem.
    pub fn new() -> Self {
        FsTree {
            nodes: vec![FsNode { name: "".into(), parent: ROOT, children: BTreeMap::new(), entry: None }],
        }
    }

    /// Stacks `layers` (base first); returns the tree and each layer's delta.
    pub fn build(layers: &[&[LayerEntry]]) -> (FsTree, Vec<LayerDelta>) {
        let mut tree = FsTree::new();
        let deltas = (0..layers.len()).map(|i| tree.apply(layers, i)).collect();
        (tree, deltas)
    }

    /// The node `id`.
    pub fn node(&self, id: NodeId) -> &FsNode {
        &self.nodes[id]
    }

    /// The node at `path` (no leading `/` needed).
    pub fn get(&self, path: &str) -> Option<NodeId> {
        let mut node = ROOT;
        for name in path.split('/').filter(|n| !n.is_empty()) {
            node = *self.nodes[node].children.get(name)?;
        }
        Some(node)
    }

    /// The path of `id`, without a leading `/` (empty for the root).
    pub fn path(&self, id: NodeId) -> String {
        let mut names = Vec::new();
        let mut n = id;
        while n != ROOT {
            names.push(&*self.nodes[n].name);
            n = self.nodes[n].parent;
        }
        names.reverse();
        names.join("/")
    }

    /// The entry of `id` (`None` for the root and for directories with no entry).
    pub fn entry<'a>(&self, layers: &[&'a [LayerEntry]], id: NodeId) -> Option<&'a LayerEntry> {
        let r = self.nodes[id].entry?;
        layers.get(r.layer)?.get(r.index)
    }

    /// Every node below `id` (not `id` itself), parents before children, siblings by name.
    pub fn descendants(&self, id: NodeId) -> Vec<NodeId> {
        let mut out = Vec::new();
        let mut stack: Vec<NodeId> = self.nodes[id].children.values().rev().copied().collect();
        while let Some(n) = stack.pop() {
            out.push(n);
            stack.extend(self.nodes[n].children.values().rev());
        }
        out
    }

    /// Stacks layer `index` of `layers` onto this tree.
    pub fn apply(&mut self, layers: &[&[LayerEntry]], index: usize) -> LayerDelta {
        let entries = layers[index];
        let mut delta = LayerDelta { statuses: Vec::with_capacity(entries.len()), removed: Vec::new() };
        // Deletions apply to the layers below only, so they go first, whatever the tar order.
        let mut deleted: HashMap<String, EntryRef> = HashMap::new();
        for e in entries {
            let found = self.get(&e.path);
            match (e.kind, found) {
                (FileKind::Whiteout, Some(node)) if node != ROOT => {
                    self.detach(layers, node, &mut delta.removed, &mut deleted);
                }
                (FileKind::Opaque, Some(node)) => {
                    let children: Vec<NodeId> = self.nodes[node].children.values().copied().collect();
                    for child in children {
                        self.detach(layers, child, &mut delta.removed, &mut deleted);
                    }
                }
                _ => {}
            }
        }
        for (i, e) in entries.iter().enumerate() {
            if matches!(e.kind, FileKind::Whiteout | FileKind::Opaque) {
                delta.statuses.push(EntryStatus::Deletion);
                continue;
            }
            let this = EntryRef { layer: index, index: i };
            let node = self.make_path(layers, &e.path, &mut delta.removed, &mut deleted);
            let previous = self.nodes[node].entry.or_else(|| deleted.get(&*e.path).copied());
            let status = match previous {
                None => EntryStatus::Added,
                Some(previous) => {
                    let old = &layers[previous.layer][previous.index];
                    if old.same_as(e) {
                        EntryStatus::Unchanged { previous }
                    } else if old.same_content(e) {
                        EntryStatus::MetadataOnly { previous }
                    } else {
                        EntryStatus::Modified { previous }
                    }
                }
            };
            if deleted.remove(&*e.path).is_some()
                && let Some(r) = delta.removed.iter_mut().find(|r| *r.path == *e.path)
            {
                r.replaced = true;
            }
            if e.kind != FileKind::Dir && !self.nodes[node].children.is_empty() {
                let children: Vec<NodeId> = self.nodes[node].children.values().copied().collect();
                for child in children {
                    self.detach(layers, child, &mut delta.removed, &mut deleted);
                }
            }
            self.nodes[node].entry = Some(this);
            delta.statuses.push(status);
        }
        delta
    }

    /// Finds or creates the node at `path`; a non-directory in the way of a parent is replaced by an
    /// entry-less directory.
    fn make_path(
        &mut self,
        layers: &[&[LayerEntry]],
        path: &str,
        removed: &mut Vec<RemovedFile>,
        deleted: &mut HashMap<String, EntryRef>,
    ) -> NodeId {
        let mut node = ROOT;
        let mut names = path.split('/').filter(|n| !n.is_empty()).peekable();
        while let Some(name) = names.next() {
            node = match self.nodes[node].children.get(name) {
                Some(&child) => child,
                None => {
                    let child = self.nodes.len();
                    self.nodes.push(FsNode {
                        name: name.into(),
                        parent: node,
                        children: BTreeMap::new(),
                        entry: None,
                    });
                    self.nodes[node].children.insert(name.into(), child);
                    child
                }
            };
            if names.peek().is_some()
                && let Some(e) = self.entry(layers, node)
                && e.kind != FileKind::Dir
            {
                if let Some(owner) = self.nodes[node].entry {
                    let p = self.path(node);
                    removed.push(RemovedFile { path: p.clone(), owner, size: e.size, replaced: true });
                    deleted.insert(p, owner);
                }
                self.nodes[node].entry = None;
            }
        }
        node
    }

    /// Unlinks `node` and its subtree, recording the non-directories that leave.
    fn detach(
        &mut self,
        layers: &[&[LayerEntry]],
        node: NodeId,
        removed: &mut Vec<RemovedFile>,
        deleted: &mut HashMap<String, EntryRef>,
    ) {
        for n in std::iter::once(node).chain(self.descendants(node)) {
            if let Some(owner) = self.nodes[n].entry {
                let path = self.path(n);
                let e = &layers[owner.layer][owner.index];
                if e.kind != FileKind::Dir {
                    removed.push(RemovedFile { path: path.clone(), owner, size: e.size, replaced: false });
                }
                deleted.insert(path, owner);
            }
        }
        let parent = self.nodes[node].parent;
        let name = self.nodes[node].name.clone();
        self.nodes[parent].children.remove(&name);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn e(path: &str, kind: FileKind, size: u64) -> LayerEntry {
        LayerEntry::new(path, kind, size)
    }

    #[test]
    fn whiteouts_and_opaque_markers_remove_lower_content_only() {
        let l0 = vec![e("a", FileKind::Dir, 0), e("a/x", FileKind::File, 10), e("a/y", FileKind::File, 20)];
        let l1 = vec![
            e("a", FileKind::Dir, 0),
            e("a/-new", FileKind::File, 5),
            e("a", FileKind::Opaque, 0),
            e("b", FileKind::File, 1),
        ];
        let l2 = vec![e("b", FileKind::Whiteout, 0)];
        let layers: Vec<&[LayerEntry]> = vec![&l0, &l1, &l2];
        let (tree, deltas) = FsTree::build(&layers);
        assert!(tree.get("a/-new").is_some(), "the opaque marker must not remove the layer's own entries");
        assert!(tree.get("a/x").is_none());
        assert!(tree.get("b").is_none());
        let removed: Vec<_> = deltas[1].removed.iter().map(|r| (r.path.as_str(), r.size)).collect();
        assert_eq!(removed, vec![("a/x", 10), ("a/y", 20)]);
        assert_eq!(deltas[2].removed[0].owner, EntryRef { layer: 1, index: 3 });
        assert_eq!(
            deltas[1].statuses[0],
            EntryStatus::Unchanged { previous: EntryRef { layer: 0, index: 0 } }
        );
    }

    #[test]
    fn statuses_tell_content_from_metadata_changes() {
        let mut f = e("f", FileKind::File, 3);
        f.hash = 7;
        let mut chmod = f.clone();
        chmod.mode = 0o600;
        let mut changed = f.clone();
        changed.hash = 8;
        let l0 = vec![f.clone()];
        let l1 = vec![chmod];
        let l2 = vec![changed, e("g", FileKind::File, 1)];
        let layers: Vec<&[LayerEntry]> = vec![&l0, &l1, &l2];
        let (_, deltas) = FsTree::build(&layers);
        assert_eq!(
            deltas[1].statuses[0],
            EntryStatus::MetadataOnly { previous: EntryRef { layer: 0, index: 0 } }
        );
        assert_eq!(
            deltas[2].statuses[0],
            EntryStatus::Modified { previous: EntryRef { layer: 1, index: 0 } }
        );
        assert_eq!(deltas[2].statuses[1], EntryStatus::Added);
    }

    #[test]
    fn deleting_and_recreating_in_one_layer_is_a_modification() {
        let l0 = vec![e("d", FileKind::Dir, 0), e("d/f", FileKind::File, 4)];
        let l1 = vec![e("d", FileKind::Whiteout, 0), e("d", FileKind::File, 9)];
        let layers: Vec<&[LayerEntry]> = vec![&l0, &l1];
        let (tree, deltas) = FsTree::build(&layers);
        assert!(matches!(deltas[1].statuses[1], EntryStatus::Modified { .. }));
        assert!(deltas[1].removed.iter().any(|r| r.path == "d/f" && !r.replaced));
        assert!(tree.node(tree.get("d").unwrap()).children.is_empty());
    }
}
