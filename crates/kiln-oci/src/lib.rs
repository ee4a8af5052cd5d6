//! The OCI and Docker image data model, serde only and no I/O.
//!
//! The central type is [`Digest`], the content address every other object is named by.

mod digest;

pub use digest::{Digest, DigestError, Sha256Writer};
