//! Base images: the [`BaseImages`] trait resolves an image reference (a `FROM`, `COPY --from=image` or
//! `RUN --mount from=image`) to an image in the store, and [`StoreImages`] is the store-only
//! implementation. A registry-backed implementation lives above this crate (the CLI wires it), so the
//! engine never depends on the registry client.

use kiln_oci::{Digest, ImageConfig, ImageLocation, Platform, Reference};
use kiln_store::{Store, StoreError};

/// When to fetch a base image from its registry (`docker build --pull`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PullPolicy {
    /// Use the local image when there is one, else pull (the default).
    #[default]
    Missing,
    /// Always check the registry for a newer image (`--pull`).
    Always,
    /// Never pull: the image must be local.
    Never,
}

/// An image resolved into the store: what a stage starts from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedImage {
    /// The reference as resolved (normalized, with the manifest digest when known).
    pub reference: Reference,
    /// The digest identifying the image content (the store's local manifest): the cache-key ingredient.
    pub manifest_digest: Digest,
    /// The image config.
    pub config: ImageConfig,
}

impl ResolvedImage {
    /// The layers' DiffIDs, base first.
    pub fn diff_ids(&self) -> &[Digest] {
        &self.config.rootfs.diff_ids
    }
}

/// Why a base image could not be resolved.
#[derive(Debug, thiserror::Error)]
pub enum BaseImageError {
    /// The image is not in the store and this resolver cannot pull.
    #[error(
        "image {reference} is not in the store: add it with `kiln pull`, `kiln import` (a root filesystem) \
         or `kiln load` (a docker save / OCI archive) and build again"
    )]
    NotFound {
        /// The reference.
        reference: String,
    },
    /// The image is not in the store (or `--pull` asked for a check) and pulling it failed.
    #[error(
        "image {reference} is not in the store and pulling it failed: {reason}\n(add it with `kiln import` \
         or `kiln load` when the registry cannot be reached)"
    )]
    Pull {
        /// The reference.
        reference: String,
        /// The registry client's error.
        reason: String,
    },
    /// The image is there but for another platform.
    #[error("image {reference} is for {found}, but the build is for {wanted}")]
    WrongPlatform {
        /// The reference.
        reference: String,
        /// The image's platform.
        found: String,
        /// The requested platform.
        wanted: String,
    },
    /// The store failed.
    #[error("reading image {reference} from the store: {source}")]
    Store {
        /// The reference.
        reference: String,
        /// The store's error.
        source: StoreError,
    },
}

/// Resolves image references to images in the store (pulling them first when the implementation can).
pub trait BaseImages: Send + Sync {
    /// The image `reference` names, for `platform`, honoring `pull`.
    fn resolve(
        &self,
        reference: &Reference,
        platform: &Platform,
        pull: PullPolicy,
    ) -> Result<ResolvedImage, BaseImageError>;
}

/// Resolves images from the store only; a missing image is an error naming it (there is nothing to pull
/// from). `--pull` is accepted and checks that the image is local.
#[derive(Debug, Clone)]
pub struct StoreImages {
    store: Store,
}

impl StoreImages {
    /// Resolves from `store`.
    pub fn new(store: Store) -> Self {
        StoreImages { store }
    }
}

impl BaseImages for StoreImages {
    fn resolve(
        &self,
        reference: &Reference,
        platform: &Platform,
        _pull: PullPolicy,
    ) -> Result<ResolvedImage, BaseImageError> {
        let name = reference.to_string();
        let image = match self.store.image(&ImageLocation::Store(reference.clone())) {
            Ok(image) => image,
            Err(StoreError::ImageNotFound(_)) => return Err(BaseImageError::NotFound { reference: name }),
            Err(source) => return Err(BaseImageError::Store { reference: name, source }),
        };
        let found = image.config.platform();
        if found.os != platform.os || found.architecture != platform.architecture {
            return Err(BaseImageError::WrongPlatform {
                reference: name,
                found: found.to_string(),
                wanted: platform.to_string(),
            });
        }
        let mut resolved = reference.clone();
        resolved.digest = Some(image.record.manifest_digest.clone());
        Ok(ResolvedImage {
            reference: resolved,
            manifest_digest: image.record.manifest_digest.clone(),
            config: image.config,
        })
    }
}
