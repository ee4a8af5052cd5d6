//! The OCI and Docker image data model, serde only and no I/O.
//!
//! The central type is [`Digest`], the content address every other object is named by; around it
//! [`MediaType`], [`Descriptor`], [`ImageManifest`], [`ImageIndex`], [`ImageConfig`], [`Platform`], image
//! [`Reference`]s and the [`ImageLocation`] transports users name images with.
//!
//! kiln defines these types itself rather than re-exporting `oci-spec`'s: the image config needs Docker's
//! extensions (`Healthcheck`, `OnBuild`, `Shell`), and reproducible digests need control of field order and
//! of which empty fields are written, which `oci-spec`'s builders do not give.

mod config;
mod digest;
mod location;
mod manifest;
mod media_type;
mod platform;
mod reference;

pub use config::{
    ContainerConfig, Empty, Healthcheck, History, ImageConfig, PROVENANCE_PREFIX, Provenance, RootFs,
};
pub use digest::{Digest, DigestError, Sha256Reader, Sha256Writer};
pub use location::{ImageLocation, LocationError};
pub use manifest::{ANNOTATION_IMAGE_NAME, ANNOTATION_REF_NAME, Descriptor, ImageIndex, ImageManifest};
pub use media_type::{Compression, MediaType};
pub use platform::{Platform, PlatformError};
pub use reference::{DOCKER_HUB, Reference, ReferenceError};
