//! kiln's OCI distribution client: moves images between registries and the local store. The central type
//! is [`Registry`]: one configured client ([`RegistryOptions`]: insecure hosts, Docker Hub mirrors,
//! certificates, retries, parallelism; [`Credentials`]: Docker's `config.json` and credential helpers)
//! that keeps its connections and tokens across operations.
//!
//! - [`Registry::pull`] negotiates OCI and Docker schema2 manifests and indexes, picks the platform, and
//!   streams layers into the store in parallel: each layer is decompressed on the fly and stored
//!   uncompressed (its digest is its DiffID), with both the blob digest and the DiffID verified; dropped
//!   connections resume with `Range` requests, damaged blobs are fetched again; the image record appears
//!   only when everything is verified ([`pull`]).
//! - [`Registry::push`] uploads what the repository lacks: layers it already has (by the digests the
//!   store remembers for them, [`known`]) are skipped, layers a sibling repository has are mounted, the
//!   rest are compressed once (remembered in the store) and uploaded whole or in chunks; then the manifest
//!   and tags, or an index over several platforms ([`push`]).
//! - [`Registry::push_cache`], [`Registry::pull_cache`] and [`Registry::fetch_cache_layer`] keep a build
//!   cache in a repository, so that other machines reuse its steps ([`cache`]).
//! - [`Registry::login`] checks credentials against the registry and saves them where Docker would.
//!
//! The protocol itself (authentication, retries, the endpoints) is in the private `client` module.

pub mod cache;
mod challenge;
mod client;
pub mod credentials;
mod download;
mod error;
pub mod known;
mod options;
mod pipe;
mod progress;
pub mod pull;
pub mod push;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

pub use challenge::Challenge;
pub use credentials::{Credential, Credentials, StoredIn};
pub use error::{RegistryError, Result};
pub use options::{RegistryOptions, RetryPolicy};
pub use progress::{BlobOutcome, CollectProgress, NoProgress, Progress, TransferEvent};
pub use pull::{PullOptions, Pulled};
pub use push::{BlobCounts, PushOptions, Pushed};

use crate::client::{Access, Endpoint, Session};

/// A registry client: options, credentials, and the connections and tokens it keeps between operations.
pub struct Registry {
    options: RegistryOptions,
    endpoints: Mutex<HashMap<String, Arc<Endpoint>>>,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registry").field("options", &self.options).finish()
    }
}

impl Registry {
    /// A client with `options`.
    pub fn new(options: RegistryOptions) -> Registry {
        Registry { options, endpoints: Mutex::new(HashMap::new()) }
    }

    /// The options in use.
    pub fn options(&self) -> &RegistryOptions {
        &self.options
    }

    /// The endpoint for registry `host` at `url` (a mirror), created with its stored login on first use.
    fn endpoint(&self, host: &str, url: Option<&str>) -> Result<Arc<Endpoint>> {
        let key = format!("{host}\0{}", url.unwrap_or(""));
        if let Some(e) = self.lock().get(&key) {
            return Ok(e.clone());
        }
        let login_host = url
            .and_then(|u| u.split_once("://").map(|(_, r)| r.split('/').next().unwrap_or(r).to_owned()))
            .unwrap_or_else(|| host.to_owned());
        let credential = self.options.credentials.get(&login_host)?;
        let endpoint = Arc::new(Endpoint::new(host, url, &self.options, credential)?);
        Ok(self.lock().entry(key).or_insert(endpoint).clone())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<Endpoint>>> {
        // The map only caches endpoints; a panic elsewhere cannot leave it inconsistent.
        self.endpoints.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Sessions to try, in order, to read `repository` of registry `host`: Docker Hub's mirrors first.
    fn pull_sessions(&self, host: &str, repository: &str) -> Result<Vec<Session>> {
        let mut sessions = Vec::new();
        if host == kiln_oci::DOCKER_HUB {
            for mirror in &self.options.mirrors {
                sessions.push(Session::new(self.endpoint(host, Some(mirror))?, repository, Access::Pull));
            }
        }
        sessions.push(Session::new(self.endpoint(host, None)?, repository, Access::Pull));
        Ok(sessions)
    }

    fn push_session(&self, host: &str, repository: &str) -> Result<Session> {
        Ok(Session::new(self.endpoint(host, None)?, repository, Access::Push))
    }

    /// Checks `credential` against `registry` (a `/v2/` request, through the token service when the
    /// registry uses one) and, when accepted, saves it with [`Credentials::store`].
    pub fn login(&self, registry: &str, username: &str, password: &str) -> Result<StoredIn> {
        let credential = Credential::Basic { username: username.to_owned(), password: password.to_owned() };
        let endpoint = Endpoint::new(registry, None, &self.options, Some(credential))?;
        endpoint.check_login()?;
        self.lock().retain(|k, _| !k.starts_with(&format!("{registry}\0")));
        self.options.credentials.store(registry, username, password)
    }

    /// Removes the stored login for `registry`; returns whether there was one.
    pub fn logout(&self, registry: &str) -> Result<bool> {
        self.lock().retain(|k, _| !k.starts_with(&format!("{registry}\0")));
        self.options.credentials.erase(registry)
    }
}
