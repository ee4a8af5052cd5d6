//! Build caches in a registry (`kiln build --cache-to/--cache-from type=registry,ref=REF`).
//!
//! A cache is a [`CacheBundle`] (see [`kiln_store::build_cache`]) pushed as an OCI manifest under a tag:
//! its layers go up exactly as [`Registry::push`] uploads image layers (skipped when the repository has
//! them, mounted from a sibling repository, compressed once and remembered), then its config and the
//! manifest. Reading one back takes the manifest and the config at the start of a build
//! ([`Registry::pull_cache`]); a layer is downloaded only when a step reuses it
//! ([`Registry::fetch_cache_layer`]), streamed into the store and verified against its blob digest and its
//! DiffID, with the same resume and retry as a pull.

use std::sync::atomic::AtomicBool;

use kiln_oci::{Digest, MediaType, Reference};
use kiln_store::build_cache::{CacheBundle, CacheEntry};
use kiln_store::{Lease, Store};

use crate::Registry;
use crate::client::{Access, Session};
use crate::download::{Threads, download_layer, download_small};
use crate::error::{RegistryError, Result};
use crate::progress::{NoProgress, Progress};
use crate::pull::remember_download;
use crate::push::{PushOptions, Pushed, push_bytes, push_layers, target_tag};

impl Registry {
    /// Pushes the cache records `entries` (their layers are in `store`) to `target` as one bundle.
    pub fn push_cache(
        &self,
        store: &Store,
        entries: &[CacheEntry],
        target: &Reference,
        options: &PushOptions,
        progress: &dyn Progress,
    ) -> Result<Pushed> {
        let tag = target_tag(target)?;
        let session = self.push_session(&target.registry, &target.repository)?;
        let lease = store.lease().map_err(RegistryError::store("starting a cache export"))?;
        let (records, diff_ids) = CacheBundle::plan(entries);
        let (layers, mut blobs) = push_layers(&session, &lease, &diff_ids, options, progress)?;
        let assembling = format!("assembling the build cache for {}", target.familiar());
        let bundle =
            CacheBundle::new(records, diff_ids, layers).map_err(RegistryError::store(assembling.as_str()))?;
        let (config, manifest) = bundle.encode().map_err(RegistryError::store(assembling))?;
        blobs.add(&push_bytes(&session, &config)?);
        let reference = tag.unwrap_or_else(|| Digest::sha256_of(&manifest).to_string());
        let digest = session.put_manifest(&reference, MediaType::OciManifest.as_str(), &manifest)?;
        Ok(Pushed { digest, size: manifest.len() as u64, blobs })
    }

    /// Reads the bundle `reference` names (its manifest and config, verified; no layer).
    pub fn pull_cache(&self, reference: &Reference) -> Result<CacheBundle> {
        let session = self.cache_session(reference)?;
        let name = match (&reference.digest, &reference.tag) {
            (Some(d), _) => d.to_string(),
            (None, Some(t)) => t.clone(),
            (None, None) => "latest".to_owned(),
        };
        let object = format!("build cache {}", reference.familiar());
        let fetched = session.get_manifest(&name)?;
        if let Some(want) = &reference.digest
            && fetched.digest != *want
        {
            return Err(RegistryError::DigestMismatch {
                object,
                expected: want.clone(),
                actual: fetched.digest,
            });
        }
        let manifest = CacheBundle::parse_manifest(&fetched.bytes, &object)
            .map_err(|e| RegistryError::invalid(&object, e.to_string()))?;
        let config = download_small(&session, &manifest.config, &AtomicBool::new(false), &NoProgress)?;
        CacheBundle::decode(manifest, &config, &object)
            .map_err(|e| RegistryError::invalid(&object, e.to_string()))
    }

    /// Stores layer `diff_id` of `bundle` (read from `reference`) in the store through `lease`.
    pub fn fetch_cache_layer(
        &self,
        lease: &Lease,
        reference: &Reference,
        bundle: &CacheBundle,
        diff_id: &Digest,
        progress: &dyn Progress,
    ) -> Result<()> {
        let layer = bundle.layer(diff_id).ok_or_else(|| {
            RegistryError::invalid(
                format!("build cache {}", reference.familiar()),
                format!("it has no layer {diff_id}"),
            )
        })?;
        let session = self.cache_session(reference)?;
        download_layer(
            &session,
            lease,
            layer,
            diff_id,
            Threads::Pipelined,
            &AtomicBool::new(false),
            progress,
        )?;
        // As after a pull: a later push (of the image, or of the cache again) finds the layer there.
        remember_download(lease.store(), &session, layer, diff_id);
        Ok(())
    }

    fn cache_session(&self, reference: &Reference) -> Result<Session> {
        Ok(Session::new(self.endpoint(&reference.registry, None)?, &reference.repository, Access::Pull))
    }
}
