//! kiln-context as specs: walking with `.dockerignore`, COPY source selection, checksums and their memo,
//! tarball contexts, and the explainer.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod checksum;
mod context;
mod explain;
mod select;
mod support;
mod tarball;
mod walk;
