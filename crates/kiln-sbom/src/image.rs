//! [`ImageSource`]: an image whose layers can be read, opened from the store or from any transport
//! (`oci:`, `oci-archive:`, `docker-archive:`) the way `kiln inspect` opens one: store images are read in
//! place, others are staged into the store under a lease that lives as long as the `ImageSource`.

use std::fs::File;

use kiln_oci::{Digest, ImageConfig, ImageLocation};
use kiln_store::transport::{ExportImage, ImportOptions};
use kiln_store::{Lease, Store};

use crate::SbomError;
use crate::model::{ImageSummary, LayerSummary};
use crate::walk::LayerRef;

/// An opened image: its config, identity, and a lease keeping its layer blobs while it is read.
#[derive(Debug)]
pub struct ImageSource {
    store: Store,
    /// Pins the layer blobs (and keeps staged ones) until dropped.
    _lease: Lease,
    name: String,
    manifest_digest: Option<Digest>,
    config_digest: Digest,
    config: ImageConfig,
}

impl ImageSource {
    /// Opens the image `location` names (`name` is how the user spelled it, for the report).
    pub fn open(store: &Store, location: &ImageLocation, name: &str) -> Result<ImageSource, SbomError> {
        let open_err = |source| SbomError::Open { image: name.to_owned(), source };
        let lease = store.lease().map_err(open_err)?;
        let manifest_digest = match location {
            ImageLocation::Store(_) | ImageLocation::StoreId(_) => {
                Some(store.resolve(location).map_err(open_err)?.manifest_digest)
            }
            _ => None,
        };
        let mut images = kiln_store::transport::open_images(
            &lease,
            std::slice::from_ref(location),
            &ImportOptions::default(),
        )
        .map_err(open_err)?;
        let image = match images.len() {
            0 => {
                return Err(open_err(kiln_store::StoreError::ImageNotFound(name.to_owned())));
            }
            _ => images.swap_remove(0),
        };
        Ok(Self::from_export(store.clone(), lease, name, manifest_digest, image))
    }

    /// An image already opened under `lease` (e.g. by `kiln_store::transport::open_images`).
    pub fn from_export(
        store: Store,
        lease: Lease,
        name: &str,
        manifest_digest: Option<Digest>,
        image: ExportImage,
    ) -> ImageSource {
        ImageSource {
            store,
            _lease: lease,
            name: name.to_owned(),
            manifest_digest,
            config_digest: image.id(),
            config: image.config,
        }
    }

    /// The image config.
    pub fn config(&self) -> &ImageConfig {
        &self.config
    }

    /// The layers' DiffIDs, base first.
    pub fn diff_ids(&self) -> &[Digest] {
        &self.config.rootfs.diff_ids
    }

    /// Opens the uncompressed blob of one layer.
    pub fn open_layer(&self, layer: &LayerRef) -> Result<File, SbomError> {
        self.store.open_blob(&layer.diff_id).map_err(|source| SbomError::LayerOpen {
            index: layer.index,
            diff_id: layer.diff_id.clone(),
            source,
        })
    }

    /// Name, digests, platform and layers (with the history entry and Dockerfile line of each).
    pub fn summary(&self) -> ImageSummary {
        let history = self.config.layer_history();
        let layers = self
            .diff_ids()
            .iter()
            .enumerate()
            .map(|(i, diff_id)| {
                let entry = history.get(i).copied().flatten().and_then(|h| self.config.history.get(h));
                LayerSummary {
                    diff_id: diff_id.clone(),
                    created_by: entry.and_then(|h| h.created_by.clone()),
                    provenance: entry.and_then(|h| h.provenance()),
                }
            })
            .collect();
        ImageSummary {
            name: self.name.clone(),
            digest: self.manifest_digest.clone(),
            config_digest: self.config_digest.clone(),
            platform: self.config.platform().to_string(),
            layers,
        }
    }
}
