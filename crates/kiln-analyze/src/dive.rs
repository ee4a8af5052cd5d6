//! dive's image numbers, reproduced exactly: [`dive_numbers`] gives the efficiency score, wasted bytes,
//! user-wasted percent, layer sizes and per-file inefficiency list that `dive` 0.13 reports for the same
//! layers, quirks included, so a CI gate set against dive passes or fails the same way with kiln.
//!
//! dive's definitions (`dive/filetree/efficiency.go`, `dive/image/image.go`, read for facts):
//! - each layer is a tree built from its tar members; parents that have no member of their own are created
//!   empty (size 0, *not* a directory); `.wh..wh..opq` markers are dropped (only their parents are made);
//!   a whiteout is a node named `.wh.<name>`;
//! - a layer's size is the sum of its members' sizes; the image size is the sum of the layer sizes, the
//!   "user" size leaves out the first layer;
//! - every *leaf* of every layer tree (a node with no children in that layer) is visited, layer by layer,
//!   children before parents, siblings by name. A visit adds the node's size to its path's cumulative size
//!   and count and lowers the path's minimum. A whiteout's size is 0, or, when the path was a directory in
//!   the layers below (stacked as dive stacks them: whiteouts remove, everything else is added with its
//!   payload, opaque markers ignored), the size of everything under it;
//! - a path seen twice or more is an inefficiency; wasted bytes are the sum of those paths' *cumulative*
//!   sizes (every copy, the visible one included); efficiency is Σ minimum / Σ cumulative over all paths
//!   (1 when nothing was seen); user-wasted percent is wasted / user size (NaN or ∞ for one-layer images);
//! - a whiteout of a path the layers below do not have stops dive's walk of that layer: the path still
//!   counts with a minimum of -1 and the rest of the layer is not visited. [`DiveNumbers::cut_short`] lists
//!   where that happened.
//!
//! dive recomputes the stacked tree for every whiteout; here it is stacked once per layer, incrementally,
//! which gives the same tree (`StackTreeRange(0, i-1)` is the first tree copied, then layers 0..i-1
//! stacked on it).

use std::collections::{BTreeMap, HashMap};

use crate::scan::{FileKind, LayerEntry};

/// dive's whiteout prefix.
const WHITEOUT: &str = ".wh.";
/// dive's prefix for names it never adds to a tree (opaque markers, aufs metadata).
const DOUBLE_WHITEOUT: &str = ".wh..wh..";

/// The numbers dive reports for an image.
#[derive(Debug, Clone, PartialEq)]
pub struct DiveNumbers {
    /// Σ minimum / Σ cumulative size over all paths seen (0–1).
    pub efficiency: f64,
    /// Σ cumulative size of the paths seen more than once.
    pub wasted_bytes: u64,
    /// Σ layer sizes.
    pub size_bytes: u64,
    /// Σ layer sizes without the first layer.
    pub user_size_bytes: u64,
    /// wasted / user size, as a ratio (dive prints it ×100); NaN or ∞ when the user size is 0.
    pub user_wasted_ratio: f64,
    /// Each layer's size: the sum of its members' sizes.
    pub layer_sizes: Vec<u64>,
    /// Paths seen in more than one leaf, largest cumulative size first (ties by path).
    pub inefficiencies: Vec<Inefficiency>,
    /// Layers whose walk stopped at a whiteout of a path missing below: (layer, path).
    pub cut_short: Vec<(usize, String)>,
}

/// A path dive counts as inefficient.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Inefficiency {
    /// Absolute path (`/usr/bin/x`).
    pub path: String,
    /// How many times it was seen (dive's "Count").
    pub count: usize,
    /// Σ of the sizes seen (dive's "Wasted Space").
    pub wasted_bytes: u64,
    /// The layers it was seen in, in order (a layer appears twice when it has the path and its whiteout).
    pub layers: Vec<usize>,
}

/// Computes dive's numbers from the layers' entries (base first).
pub fn dive_numbers(layers: &[&[LayerEntry]]) -> DiveNumbers {
    let mut layer_sizes = Vec::with_capacity(layers.len());
    let trees: Vec<Tree> = layers
        .iter()
        .map(|entries| {
            let (tree, size) = Tree::from_layer(entries);
            layer_sizes.push(size);
            tree
        })
        .collect();
    let mut seen: HashMap<String, PathData> = HashMap::new();
    let mut order: Vec<String> = Vec::new();
    let mut cut_short = Vec::new();
    let mut stacked = trees.first().cloned().unwrap_or_else(Tree::new);
    for (index, tree) in trees.iter().enumerate() {
        tree.walk_child_first(|node| {
            if !tree.nodes[node].children.is_empty() {
                return true;
            }
            let path = tree.path(node);
            let data =
                seen.entry(path.clone()).or_insert(PathData { cumulative: 0, minimum: -1, layers: vec![] });
            let size = if tree.is_whiteout(node) {
                match stacked.get(&path) {
                    None => {
                        cut_short.push((index, path));
                        return false;
                    }
                    Some(below) if stacked.nodes[below].is_dir => stacked.subtree_size(below),
                    Some(_) => 0,
                }
            } else {
                tree.nodes[node].size
            };
            data.cumulative += size;
            if data.minimum < 0 || size < data.minimum {
                data.minimum = size;
            }
            data.layers.push(index);
            if data.layers.len() == 2 {
                order.push(path);
            }
            true
        });
        stacked.stack(tree);
    }
    let (minimum, cumulative) =
        seen.values().fold((0i64, 0i64), |(m, c), d| (m + d.minimum, c + d.cumulative));
    let efficiency = if cumulative == 0 { 1.0 } else { minimum as f64 / cumulative as f64 };
    let mut inefficiencies: Vec<Inefficiency> = order
        .into_iter()
        .filter_map(|path| {
            let data = seen.remove(&path)?;
            Some(Inefficiency {
                count: data.layers.len(),
                wasted_bytes: u64::try_from(data.cumulative).unwrap_or(0),
                layers: data.layers,
                path,
            })
        })
        .collect();
    inefficiencies.sort_by(|a, b| b.wasted_bytes.cmp(&a.wasted_bytes).then_with(|| a.path.cmp(&b.path)));
    let wasted_bytes = inefficiencies.iter().map(|i| i.wasted_bytes).sum();
    let size_bytes = layer_sizes.iter().sum();
    let user_size_bytes = layer_sizes.iter().skip(1).sum();
    DiveNumbers {
        efficiency,
        wasted_bytes,
        size_bytes,
        user_size_bytes,
        user_wasted_ratio: wasted_bytes as f64 / user_size_bytes as f64,
        layer_sizes,
        inefficiencies,
        cut_short,
    }
}

struct PathData {
    cumulative: i64,
    minimum: i64,
    layers: Vec<usize>,
}

/// The root's index in [`Tree::nodes`].
const ROOT: usize = 0;

/// dive's `FileTree`: nodes in an arena, children by name (sorted, as dive visits them).
#[derive(Debug, Clone)]
struct Tree {
    nodes: Vec<Node>,
}

#[derive(Debug, Clone)]
struct Node {
    name: Box<str>,
    parent: usize,
    children: BTreeMap<Box<str>, usize>,
    size: i64,
    is_dir: bool,
}

impl Tree {
    fn new() -> Self {
        Tree {
            nodes: vec![Node {
                name: "".into(),
                parent: ROOT,
                children: BTreeMap::new(),
                size: 0,
                is_dir: false,
            }],
        }
    }

    /// A layer's tree as dive builds it from the tar, and the layer's size.
    fn from_layer(entries: &[LayerEntry]) -> (Tree, u64) {
        let mut tree = Tree::new();
        let mut size = 0u64;
        for e in entries {
            size += e.size;
            let path: &str = &e.path;
            match e.kind {
                FileKind::Whiteout => {
                    let (dir, name) = path.rsplit_once('/').unwrap_or(("", path));
                    tree.add_path(&format!("{dir}/{WHITEOUT}{name}"), 0, false);
                }
                FileKind::Opaque => tree.add_path(&format!("{path}/{DOUBLE_WHITEOUT}opq"), 0, false),
                FileKind::Dir => tree.add_path(path, e.size as i64, true),
                _ => tree.add_path(path, e.size as i64, false),
            }
        }
        (tree, size)
    }

    /// dive's `AddPath`: missing parents are created empty; a missing `.wh..wh..*` name ends the walk; the
    /// last node gets the payload (its children stay).
    fn add_path(&mut self, path: &str, size: i64, is_dir: bool) {
        let names: Vec<&str> = path.split('/').filter(|n| !n.is_empty() && *n != ".").collect();
        let mut node = ROOT;
        for (i, name) in names.iter().enumerate() {
            node = match self.nodes[node].children.get(*name) {
                Some(&child) => child,
                None => {
                    if name.starts_with(DOUBLE_WHITEOUT) {
                        return;
                    }
                    let child = self.nodes.len();
                    self.nodes.push(Node {
                        name: (*name).into(),
                        parent: node,
                        children: BTreeMap::new(),
                        size: 0,
                        is_dir: false,
                    });
                    self.nodes[node].children.insert((*name).into(), child);
                    child
                }
            };
            if i + 1 == names.len() {
                self.nodes[node].size = size;
                self.nodes[node].is_dir = is_dir;
            }
        }
    }

    /// dive's `GetNode`.
    fn get(&self, path: &str) -> Option<usize> {
        let mut node = ROOT;
        for name in path.split('/').filter(|n| !n.is_empty()) {
            node = *self.nodes[node].children.get(name)?;
        }
        Some(node)
    }

    fn is_whiteout(&self, node: usize) -> bool {
        self.nodes[node].name.starts_with(WHITEOUT)
    }

    /// dive's `Path()`: `/`-joined names from the root, with the whiteout prefix dropped from the last.
    fn path(&self, node: usize) -> String {
        let mut names = Vec::new();
        let mut n = node;
        while n != ROOT {
            names.push(&*self.nodes[n].name);
            n = self.nodes[n].parent;
        }
        if let Some(last) = names.first_mut() {
            *last = last.strip_prefix(WHITEOUT).unwrap_or(last);
        }
        names.reverse();
        format!("/{}", names.join("/"))
    }

    /// Σ size of `node` and everything under it.
    fn subtree_size(&self, node: usize) -> i64 {
        let mut total = 0;
        let mut stack = vec![node];
        while let Some(n) = stack.pop() {
            total += self.nodes[n].size;
            stack.extend(self.nodes[n].children.values());
        }
        total
    }

    /// Visits every node but the root, children first, siblings by name, until `f` returns false.
    fn walk_child_first(&self, mut f: impl FnMut(usize) -> bool) {
        let mut stack: Vec<(usize, bool)> = vec![(ROOT, false)];
        while let Some((node, expanded)) = stack.pop() {
            if expanded {
                if node != ROOT && !f(node) {
                    return;
                }
                continue;
            }
            stack.push((node, true));
            stack.extend(self.nodes[node].children.values().rev().map(|&c| (c, false)));
        }
    }

    /// dive's `Stack`: `upper`'s whiteouts remove paths here, every other node is added with its payload.
    fn stack(&mut self, upper: &Tree) {
        upper.walk_child_first(|node| {
            let path = upper.path(node);
            if upper.is_whiteout(node) {
                if let Some(found) = self.get(&path)
                    && found != ROOT
                {
                    let parent = self.nodes[found].parent;
                    let name = self.nodes[found].name.clone();
                    self.nodes[parent].children.remove(&name);
                }
            } else {
                let n = &upper.nodes[node];
                self.add_path(&path, n.size, n.is_dir);
            }
            true
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(path: &str, size: u64) -> LayerEntry {
        LayerEntry::new(path, FileKind::File, size)
    }
    fn dir(path: &str) -> LayerEntry {
        LayerEntry::new(path, FileKind::Dir, 0)
    }
    fn wh(path: &str) -> LayerEntry {
        LayerEntry::new(path, FileKind::Whiteout, 0)
    }

    #[test]
    fn overwritten_file_wastes_every_copy() {
        let l0 = vec![dir("a"), file("a/f", 100)];
        let l1 = vec![dir("a"), file("a/f", 30)];
        let n = dive_numbers(&[&l0, &l1]);
        assert_eq!(n.inefficiencies.len(), 1);
        assert_eq!(n.inefficiencies[0].path, "/a/f");
        assert_eq!(n.inefficiencies[0].count, 2);
        assert_eq!(n.wasted_bytes, 130);
        assert_eq!(n.efficiency, 30.0 / 130.0);
        assert_eq!(n.layer_sizes, vec![100, 30]);
        assert_eq!(n.user_wasted_ratio, 130.0 / 30.0);
    }

    #[test]
    fn deleted_file_counts_its_size_and_a_zero() {
        let l0 = vec![file("x", 50), file("y", 50)];
        let l1 = vec![wh("x")];
        let n = dive_numbers(&[&l0, &l1]);
        assert_eq!(n.wasted_bytes, 50);
        assert_eq!(n.efficiency, 50.0 / 100.0);
        assert!(n.user_wasted_ratio.is_infinite());
    }

    #[test]
    fn deleted_directory_is_counted_on_the_directory_path_only() {
        // The directory was never a leaf below, so only the whiteout visits its path: no waste.
        let l0 = vec![dir("d"), file("d/a", 10), file("d/b", 20)];
        let l1 = vec![wh("d")];
        let n = dive_numbers(&[&l0, &l1]);
        assert_eq!(n.wasted_bytes, 0);
        // Σ min = 10 + 20 + 30 (the whiteout's subtree size), Σ cumulative the same.
        assert_eq!(n.efficiency, 1.0);
    }

    #[test]
    fn whiteout_of_a_missing_path_stops_the_layer_walk() {
        let l0 = vec![file("b", 10)];
        // `.wh.a` sorts before `b`, so `b` in this layer is never visited; `/a` counts -1.
        let l1 = vec![wh("a"), file("b", 10)];
        let n = dive_numbers(&[&l0, &l1]);
        assert_eq!(n.cut_short, vec![(1, "/a".to_owned())]);
        assert!(n.inefficiencies.is_empty());
        assert_eq!(n.efficiency, (10.0 - 1.0) / 10.0);
    }

    #[test]
    fn implicit_parents_are_not_directories() {
        // `p` is made implicitly (no member): a later whiteout of it sizes 0.
        let l0 = vec![file("p/f", 40)];
        let l1 = vec![wh("p")];
        let n = dive_numbers(&[&l0, &l1]);
        assert_eq!(n.efficiency, 1.0);
        assert_eq!(n.wasted_bytes, 0);
    }

    #[test]
    fn empty_image_is_fully_efficient() {
        let n = dive_numbers(&[]);
        assert_eq!(n.efficiency, 1.0);
        assert_eq!(n.size_bytes, 0);
        assert!(n.user_wasted_ratio.is_nan());
    }
}
