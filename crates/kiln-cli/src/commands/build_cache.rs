//! `kiln build --cache-from/--cache-to`: turns the flag values into the engine's cache sources (a registry
//! source, [`RegistryCache`], here, since kiln-build has no registry client; a local directory is
//! kiln-build's own [`LocalCacheDir`]) and, after a build, exports its steps to each `--cache-to`.

use std::sync::{Arc, OnceLock};

use anyhow::Context as _;
use kiln_build::{BuildOutput, CacheExport, CacheImport, CacheSource, CacheSourceError, LocalCacheDir};
use kiln_oci::{Digest, Reference};
use kiln_registry::{NoProgress, PushOptions, Registry};
use kiln_store::build_cache::{CacheBundle, CacheEntry};
use kiln_store::transport::ExportOptions;
use kiln_store::{Lease, Store};

use super::registry::RegistryArgs;

/// A build cache in a registry repository (`type=registry,ref=REF`): the bundle is read once, layers on
/// demand.
#[derive(Debug)]
pub(crate) struct RegistryCache {
    registry: Registry,
    reference: Reference,
    bundle: OnceLock<CacheBundle>,
}

impl CacheSource for RegistryCache {
    fn name(&self) -> String {
        format!("cache {}", self.reference.familiar())
    }

    fn records(&self) -> Result<Vec<CacheEntry>, CacheSourceError> {
        let bundle = self.registry.pull_cache(&self.reference)?;
        let records = bundle.config.records.clone();
        let _ = self.bundle.set(bundle);
        Ok(records)
    }

    fn fetch_layer(&self, lease: &Lease, diff_id: &Digest) -> Result<(), CacheSourceError> {
        let bundle = self.bundle.get().ok_or("the cache's records were not read")?;
        Ok(self.registry.fetch_cache_layer(lease, &self.reference, bundle, diff_id, &NoProgress)?)
    }
}

/// The engine's sources for the `--cache-from` values.
pub(crate) fn sources(
    values: &[String],
    registry: &RegistryArgs,
) -> anyhow::Result<Vec<Arc<dyn CacheSource>>> {
    values
        .iter()
        .map(|raw| {
            Ok(match kiln_build::parse_cache_from(raw)? {
                CacheImport::Registry(reference) => Arc::new(RegistryCache {
                    registry: registry.registry(),
                    reference,
                    bundle: OnceLock::new(),
                }) as Arc<dyn CacheSource>,
                CacheImport::Local(dir) => Arc::new(LocalCacheDir::new(dir)),
            })
        })
        .collect()
}

/// Exports the steps of `built` to each `--cache-to` (already parsed), reporting each on stderr.
pub(crate) fn export(
    store: &Store,
    built: &BuildOutput,
    targets: &[CacheExport],
    registry: &RegistryArgs,
) -> anyhow::Result<()> {
    for target in targets {
        let entries = built.cache_entries(target.mode);
        match &target.target {
            CacheImport::Local(dir) => {
                let lease = store.lease()?;
                let options =
                    ExportOptions { compression: target.compression, level: target.level, threads: 0 };
                let written = kiln_store::build_cache::write_dir(&lease, &entries, dir, &options)
                    .with_context(|| format!("exporting the build cache to {}", dir.display()))?;
                super::registry::status(&format!(
                    "cache: {} steps exported to {} ({} layers copied, {} stale blobs removed)",
                    written.records,
                    dir.display(),
                    written.copied,
                    written.removed
                ));
            }
            CacheImport::Registry(reference) => {
                let options = PushOptions { compression: target.compression, level: target.level };
                let pushed = registry
                    .registry()
                    .push_cache(store, &entries, reference, &options, &NoProgress)
                    .with_context(|| format!("exporting the build cache to {}", reference.familiar()))?;
                super::registry::status(&format!(
                    "cache: {} steps exported to {}@{} ({} blobs uploaded, {} already there, {} mounted)",
                    CacheBundle::plan(&entries).0.len(),
                    reference.familiar(),
                    pushed.digest,
                    pushed.blobs.uploaded,
                    pushed.blobs.present,
                    pushed.blobs.mounted
                ));
            }
        }
    }
    Ok(())
}
