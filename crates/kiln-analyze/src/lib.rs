//! kiln-analyze: where the bytes of an image go, what is wasted, and how to shrink it. The central type is
//! [`Analysis`], made by [`analyze`] from an [`ImageSource`] (any image location, see [`open_image`]).
//!
//! - [`scan`]: each layer is read once through `kiln_layer::visit_layer` into a compact entry list
//!   (layers in parallel), checked against its DiffID on the way;
//! - [`dive`]: dive's efficiency, wasted bytes, user-wasted percent and inefficiency list, exactly;
//! - [`tree`]: the merged filesystem with each path's layer, and what every layer added, modified and
//!   removed;
//! - [`detect`]: findings (package caches, toolchains, docs, deleted-later, overwritten, duplicate and
//!   chmod/chown-rewritten files) with their layer and Dockerfile line, and suggestions with bytes saved;
//! - [`diff`]: two images compared file by file;
//! - [`ci`]: dive's CI gates (`.dive-ci`, `lowestEfficiency`, ...);
//! - [`render`]: the terminal and HTML reports; [`tui`]: the interactive view.

pub mod analysis;
pub mod ci;
pub mod detect;
pub mod diff;
pub mod dive;
mod error;
pub mod render;
pub mod scan;
pub mod source;
pub mod tree;
pub mod tui;

pub use analysis::{Analysis, AnalyzeOptions, ChangeCount, LayerReport, analyze};
pub use error::{AnalyzeError, Result};
pub use scan::{FileKind, LayerEntry, LayerScan, scan_layer, scan_verified_layer};
pub use source::{ImageSource, LayerBlob, open_image};
