//! The distribution protocol over HTTP: an [`Endpoint`] is one registry reached at one base URL (HTTPS,
//! or plain HTTP where allowed) with its TLS settings, credentials, authentication state and retry policy;
//! a [`Session`] is an endpoint plus a repository and the access it needs (pull, or pull and push), and
//! offers the protocol's operations (manifests, blobs, uploads, mounts).
//!
//! Every request goes through [`Endpoint::send`], which
//! - authenticates: HTTP Basic with the stored login, or the token flow (ask the realm from the
//!   `WWW-Authenticate` challenge for a token for the scope, cache it, fetch a fresh one on a 401);
//! - retries what may succeed on a second try (connection failures and stalls, 5xx, 429) with backoff,
//!   honoring `Retry-After`.
//!
//! Built on `ureq` (blocking, rustls with ring, already used by the build engine for `ADD <url>`) rather
//! than `oci-client`: the store's blob writer is synchronous and borrows its lease, oci-client would bring
//! an async stack of ~100 crates (tokio, hyper, reqwest; 2.5 CPU-minutes to build here) and still leave
//! retries, resumable downloads, credential helpers and mirrors to us.

use std::collections::HashMap;
use std::io::Read;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine as _;
use kiln_oci::Digest;
use ureq::http::{self, HeaderValue, Method, Request, Response, StatusCode};
use ureq::tls::{Certificate, ClientCert, PrivateKey, RootCerts, TlsConfig};
use ureq::{Agent, Body, SendBody};

use crate::challenge::Challenge;
use crate::credentials::Credential;
use crate::error::{RegistryError, Result};
use crate::options::{RegistryOptions, RetryPolicy, host_without_port};

/// Largest error body or token response read into memory.
const MAX_SMALL_BODY: u64 = 1 << 20;

/// Registries that answer for Docker Hub (`docker.io` in references).
const DOCKER_HUB_API: &str = "registry-1.docker.io";

/// One registry at one base URL.
pub(crate) struct Endpoint {
    /// The registry host as references and credentials name it (`docker.io`, `localhost:5000`).
    pub(crate) host: String,
    /// The configured base URL, scheme included (`https://registry-1.docker.io`, a mirror's URL).
    url: String,
    /// Plain HTTP may be tried when HTTPS fails.
    allow_http: bool,
    verified: Agent,
    unverified: Option<Agent>,
    /// For a token service on another host than the registry.
    plain: Agent,
    credential: Option<Credential>,
    options: RegistryOptions,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    /// The base URL and agent that answered the `/v2/` ping.
    base: Option<(String, bool)>,
    challenge: Option<Challenge>,
    /// Bearer tokens by scope.
    tokens: HashMap<String, String>,
}

/// The access a session needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Access {
    /// Read.
    Pull,
    /// Read and write.
    Push,
}

impl Endpoint {
    /// The endpoint for registry `host` (as in a reference) at `url` (None: the registry itself).
    pub(crate) fn new(
        host: &str,
        url: Option<&str>,
        options: &RegistryOptions,
        credential: Option<Credential>,
    ) -> Result<Endpoint> {
        let api_host = if host == kiln_oci::DOCKER_HUB { DOCKER_HUB_API } else { host };
        let url = url.map_or_else(|| format!("https://{api_host}"), |u| u.trim_end_matches('/').to_owned());
        let url_host = url.split_once("://").map_or(url.as_str(), |(_, rest)| rest);
        let url_host = url_host.split('/').next().unwrap_or(url_host).to_owned();
        let allow_http = options.allows_http(&url_host);
        if url.starts_with("http://") && !allow_http {
            return Err(RegistryError::Insecure { host: url_host, reason: format!("{url} is plain HTTP") });
        }
        let tls = host_tls(&url_host, options)?;
        let verified = agent(options, tls);
        let unverified = options
            .is_listed_insecure(&url_host)
            .then(|| agent(options, TlsConfig::builder().disable_verification(true).build()));
        Ok(Endpoint {
            host: host.to_owned(),
            url,
            allow_http,
            verified,
            unverified,
            plain: agent(options, TlsConfig::default()),
            credential,
            options: options.clone(),
            state: Mutex::new(State::default()),
        })
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        // A panic while holding the lock leaves only caches behind, which stay valid.
        self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The retry policy.
    pub(crate) fn retry(&self) -> &RetryPolicy {
        &self.options.retry
    }

    /// Blobs to download at once.
    pub(crate) fn max_downloads(&self) -> usize {
        self.options.max_concurrent_downloads
    }

    /// Blobs to upload at once.
    pub(crate) fn max_uploads(&self) -> usize {
        self.options.max_concurrent_uploads
    }

    /// The upload chunk size (`None`: one `PUT`).
    pub(crate) fn chunk_size(&self) -> Option<u64> {
        self.options.chunk_size
    }

    /// The base URL (scheme and host) requests go to, pinging `/v2/` first if not done yet.
    pub(crate) fn base(&self) -> Result<String> {
        if let Some((base, _)) = &self.state().base {
            return Ok(base.clone());
        }
        self.ping()?;
        self.state()
            .base
            .as_ref()
            .map(|(b, _)| b.clone())
            .ok_or_else(|| RegistryError::Usage("no base".into()))
    }

    /// `GET /v2/`: finds the scheme that works (HTTPS; for insecure hosts also HTTPS without verification,
    /// then HTTP) and the authentication challenge.
    fn ping(&self) -> Result<()> {
        let mut candidates = vec![(self.url.clone(), true)];
        if self.url.starts_with("https://") {
            if self.unverified.is_some() {
                candidates.push((self.url.clone(), false));
            }
            if self.allow_http {
                candidates.push((self.url.replacen("https://", "http://", 1), false));
            }
        }
        let what = format!("contacting registry {}", self.host);
        // Each round tries every candidate once, so a plain-HTTP registry on a loopback host answers at
        // once instead of after the HTTPS attempt's retries; rounds repeat with backoff while a failure
        // may be transient (a 5xx, a dropped connection).
        let mut round = 0;
        let first_error = loop {
            round += 1;
            let mut first_error: Option<RegistryError> = None;
            let mut asked_delay = None;
            for (base, verify) in &candidates {
                let url = format!("{base}/v2/");
                let agent =
                    if *verify { &self.verified } else { self.unverified.as_ref().unwrap_or(&self.verified) };
                let result = Request::get(&url)
                    .body(())
                    .map_err(|e| bad_request(&url, e))
                    .and_then(|req| agent.run(req).map_err(|e| network(&what, "GET", &url, e)));
                let error = match result {
                    Ok(resp)
                        if resp.status() == StatusCode::OK || resp.status() == StatusCode::UNAUTHORIZED =>
                    {
                        let challenge = challenge_of(&resp);
                        let mut state = self.state();
                        state.base = Some((base.clone(), *verify));
                        state.challenge = challenge;
                        return Ok(());
                    }
                    Ok(resp) => {
                        if is_transient_status(resp.status()) {
                            asked_delay = asked_delay.or(Some(retry_after(&resp)));
                        }
                        status_error(&what, "GET", &url, resp)
                    }
                    Err(e) => e,
                };
                // The first failure is the one to report: a later plain-HTTP try at a TLS server only
                // gets "HTTP request to an HTTPS server".
                first_error.get_or_insert(error);
            }
            // A certificate the client does not trust stays untrusted on a second try.
            let transient = first_error
                .as_ref()
                .is_some_and(|e| e.is_transient() && !e.to_string().contains("certificate"));
            if !transient || round >= self.options.retry.attempts {
                break first_error.map(|e| {
                    if transient && round > 1 {
                        RegistryError::Exhausted { what: what.clone(), attempts: round, last: Box::new(e) }
                    } else {
                        e
                    }
                });
            }
            std::thread::sleep(asked_delay.flatten().unwrap_or_else(|| self.options.retry.delay(round)));
        };
        Err(match first_error {
            Some(e) if e.to_string().contains("certificate") => RegistryError::Insecure {
                host: self.host.clone(),
                reason: format!(
                    "{e}; to trust a private CA put it in /etc/docker/certs.d/{}/ca.crt",
                    self.url.split("://").nth(1).unwrap_or(&self.host)
                ),
            },
            Some(e) => e,
            None => RegistryError::Usage(format!("{what}: no URL to try")),
        })
    }

    fn agent(&self) -> &Agent {
        let verify = self.state().base.as_ref().is_none_or(|(_, v)| *v);
        if verify { &self.verified } else { self.unverified.as_ref().unwrap_or(&self.verified) }
    }

    /// Runs `attempt` until it succeeds, fails for good, or the policy's attempts are used up. Responses
    /// with a transient status (5xx, 429) are retried too, after `Retry-After` when given.
    pub(crate) fn with_retries(
        &self,
        what: &str,
        mut attempt: impl FnMut() -> Result<Response<Body>>,
    ) -> Result<Response<Body>> {
        let mut n = 0;
        loop {
            n += 1;
            let (err, wait) = match attempt() {
                Ok(resp) if is_transient_status(resp.status()) && n < self.options.retry.attempts => {
                    let wait = retry_after(&resp);
                    (None, wait)
                }
                Ok(resp) => return Ok(resp),
                Err(e) if e.is_transient() && n < self.options.retry.attempts => (Some(e), None),
                Err(e) if e.is_transient() && n > 1 => {
                    return Err(RegistryError::Exhausted {
                        what: what.to_owned(),
                        attempts: n,
                        last: Box::new(e),
                    });
                }
                Err(e) => return Err(e),
            };
            drop(err);
            std::thread::sleep(wait.unwrap_or_else(|| self.options.retry.delay(n)));
        }
    }

    /// Sends one request with authentication for `scope` and retries; a 401 fetches fresh credentials
    /// (a new token, with the scope the registry names) once before it is reported.
    pub(crate) fn send(
        &self,
        what: &str,
        method: Method,
        url: &str,
        headers: &[(&str, String)],
        body: &[u8],
        scope: &[String],
    ) -> Result<Response<Body>> {
        let mut reauthenticated = false;
        loop {
            let resp = self.with_retries(what, || {
                let auth = self.authorization(scope)?;
                let mut req = Request::builder().method(method.clone()).uri(url);
                for (k, v) in headers {
                    req = req.header(*k, v);
                }
                if let Some(auth) = &auth {
                    req = req.header("authorization", auth);
                }
                let req = req.body(body).map_err(|e| bad_request(url, e))?;
                self.agent().run(req).map_err(|e| network(what, method.as_str(), url, e))
            })?;
            if resp.status() != StatusCode::UNAUTHORIZED {
                return Ok(resp);
            }
            if reauthenticated {
                return Err(self.unauthorized(what, resp));
            }
            reauthenticated = true;
            self.refresh_challenge(&resp, scope);
        }
    }

    /// `GET /v2/` with the endpoint's credentials: succeeds when the registry accepts them (or needs none).
    pub(crate) fn check_login(&self) -> Result<()> {
        let what = format!("logging in to {}", self.host);
        let url = format!("{}/v2/", self.base()?);
        let resp = self.send(&what, Method::GET, &url, &[], &[], &[])?;
        if resp.status() == StatusCode::OK {
            return Ok(());
        }
        Err(status_error(&what, "GET", &url, resp))
    }

    /// Sends a request whose body is streamed from `body`, authenticated as in
    /// [`Endpoint::send`] but without retries (the caller restarts the whole upload).
    pub(crate) fn send_stream(
        &self,
        what: &str,
        method: Method,
        url: &str,
        headers: &[(&str, String)],
        body: SizedBody<'_>,
        scope: &[String],
    ) -> Result<Response<Body>> {
        let SizedBody { reader: body, size } = body;
        self.send_body(what, method, url, headers, body, Some(size), scope)
    }

    /// Sends a request whose body is streamed from `body`: `size` bytes (`Content-Length`), or when `None`
    /// as much as `body` gives (`Transfer-Encoding: chunked`); authenticated as in [`Endpoint::send`] but
    /// without retries (the caller restarts the whole upload).
    #[allow(clippy::too_many_arguments)]
    fn send_body(
        &self,
        what: &str,
        method: Method,
        url: &str,
        headers: &[(&str, String)],
        body: &mut dyn Read,
        size: Option<u64>,
        scope: &[String],
    ) -> Result<Response<Body>> {
        let auth = self.authorization(scope)?;
        let mut req = Request::builder().method(method.clone()).uri(url);
        for (k, v) in headers {
            req = req.header(*k, v);
        }
        if let Some(size) = size {
            req = req.header("content-length", size.to_string());
        }
        if let Some(auth) = &auth {
            req = req.header("authorization", auth);
        }
        let req = req.body(SendBody::from_reader(body)).map_err(|e| bad_request(url, e))?;
        let resp = self.agent().run(req).map_err(|e| network(what, method.as_str(), url, e))?;
        if resp.status() == StatusCode::UNAUTHORIZED {
            // The token expired mid-upload: drop it so the restarted upload fetches a new one.
            self.refresh_challenge(&resp, scope);
            return Err(RegistryError::Status {
                what: what.to_owned(),
                method: method.to_string(),
                url: url.to_owned(),
                status: 401,
                detail: "authorization expired during the upload".to_owned(),
            });
        }
        Ok(resp)
    }

    fn refresh_challenge(&self, resp: &Response<Body>, scope: &[String]) {
        let mut state = self.state();
        if let Some(challenge) = challenge_of(resp) {
            state.challenge = Some(challenge);
        }
        state.tokens.remove(&scope.join(" "));
    }

    fn unauthorized(&self, what: &str, resp: Response<Body>) -> RegistryError {
        let detail = error_detail(resp);
        let reason = match &self.credential {
            None => format!(
                "{what}: authentication required{}; log in with `kiln login {}`",
                suffix(&detail),
                self.host
            ),
            Some(_) => format!("{what}: the registry rejected the stored credentials{}", suffix(&detail)),
        };
        RegistryError::Unauthorized { registry: self.host.clone(), reason }
    }

    /// The `Authorization` header value for `scope`, fetching a token when the registry wants one.
    fn authorization(&self, scope: &[String]) -> Result<Option<String>> {
        let challenge = {
            let state = self.state();
            match &state.challenge {
                None => return Ok(None),
                Some(Challenge::Basic) => None,
                Some(c @ Challenge::Bearer { .. }) => {
                    if let Some(token) = state.tokens.get(&scope.join(" ")) {
                        return Ok(Some(format!("Bearer {token}")));
                    }
                    Some(c.clone())
                }
            }
        };
        match challenge {
            None => Ok(self.credential.as_ref().and_then(basic_header)),
            Some(Challenge::Bearer { realm, service, .. }) => {
                let token = self.fetch_token(&realm, service.as_deref(), scope)?;
                self.state().tokens.insert(scope.join(" "), token.clone());
                Ok(Some(format!("Bearer {token}")))
            }
            Some(Challenge::Basic) => Ok(None),
        }
    }

    /// The token flow: `GET realm?service=..&scope=..` with Basic credentials (or anonymously), or the
    /// OAuth2 refresh-token `POST` for an identity token.
    fn fetch_token(&self, realm: &str, service: Option<&str>, scope: &[String]) -> Result<String> {
        let what = format!("getting a token for {} from {realm}", self.host);
        let realm_host = realm.split_once("://").map_or("", |(_, r)| r.split('/').next().unwrap_or(""));
        if realm.starts_with("http://") && !self.options.allows_http(realm_host) {
            return Err(RegistryError::Insecure {
                host: realm_host.to_owned(),
                reason: format!("token service {realm} is plain HTTP"),
            });
        }
        let resp = match &self.credential {
            Some(Credential::IdentityToken(refresh)) => {
                let mut form = vec![
                    ("grant_type", "refresh_token".to_owned()),
                    ("refresh_token", refresh.clone()),
                    ("client_id", "kiln".to_owned()),
                ];
                form.extend(service.map(|s| ("service", s.to_owned())));
                form.extend(scope.iter().map(|s| ("scope", s.clone())));
                let body =
                    form.iter().map(|(k, v)| format!("{k}={}", url_encode(v))).collect::<Vec<_>>().join("&");
                let agent = self.token_agent(realm_host);
                self.with_retries(&what, || {
                    let req = Request::post(realm)
                        .header("content-type", "application/x-www-form-urlencoded")
                        .body(body.as_bytes())
                        .map_err(|e| bad_request(realm, e))?;
                    agent.run(req).map_err(|e| network(&what, "POST", realm, e))
                })?
            }
            credential => {
                let mut query = Vec::new();
                query.extend(service.map(|s| format!("service={}", url_encode(s))));
                query.extend(scope.iter().map(|s| format!("scope={}", url_encode(s))));
                let sep = if realm.contains('?') { '&' } else { '?' };
                let url = if query.is_empty() {
                    realm.to_owned()
                } else {
                    format!("{realm}{sep}{}", query.join("&"))
                };
                let auth = credential.as_ref().and_then(basic_header);
                let agent = self.token_agent(realm_host);
                self.with_retries(&what, || {
                    let mut req = Request::get(&url);
                    if let Some(a) = &auth {
                        req = req.header("authorization", a);
                    }
                    let req = req.body(()).map_err(|e| bad_request(&url, e))?;
                    agent.run(req).map_err(|e| network(&what, "GET", &url, e))
                })?
            }
        };
        let status = resp.status();
        if status == StatusCode::UNAUTHORIZED || status == StatusCode::FORBIDDEN {
            let detail = error_detail(resp);
            let reason = match &self.credential {
                Some(_) => format!("the token service rejected the stored credentials{}", suffix(&detail)),
                None => format!(
                    "the token service refused anonymous access{}; log in with `kiln login {}`",
                    suffix(&detail),
                    self.host
                ),
            };
            return Err(RegistryError::Unauthorized { registry: self.host.clone(), reason });
        }
        if status != StatusCode::OK {
            return Err(status_error(&what, "GET", realm, resp));
        }
        let body = read_small(resp, &what)?;
        let value: serde_json::Value = serde_json::from_slice(&body)
            .map_err(|e| RegistryError::invalid(&what, format!("bad JSON: {e}")))?;
        value
            .get("token")
            .or_else(|| value.get("access_token"))
            .and_then(serde_json::Value::as_str)
            .filter(|t| !t.is_empty())
            .map(str::to_owned)
            .ok_or_else(|| RegistryError::invalid(&what, "the response has no token"))
    }

    /// The agent for a token service at `realm_host`: the registry's own when it is the same host.
    fn token_agent(&self, realm_host: &str) -> &Agent {
        let own = self.url.split("://").nth(1).and_then(|r| r.split('/').next()).unwrap_or("");
        if host_without_port(realm_host) == host_without_port(own) { self.agent() } else { &self.plain }
    }
}

/// An endpoint, a repository in it, and the access wanted.
#[derive(Clone)]
pub(crate) struct Session {
    pub(crate) endpoint: Arc<Endpoint>,
    /// The repository path (`library/alpine`).
    pub(crate) repository: String,
    scope: Vec<String>,
}

/// A manifest or index as fetched.
#[derive(Debug, Clone)]
pub(crate) struct FetchedManifest {
    /// The exact bytes.
    pub(crate) bytes: Vec<u8>,
    /// Their digest (verified against a pinned digest by the caller).
    pub(crate) digest: Digest,
    /// The `Content-Type` the registry sent.
    pub(crate) media_type: String,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Session({})", self.name())
    }
}

/// Manifest media types kiln accepts, in preference order.
pub(crate) const MANIFEST_ACCEPT: &str = "application/vnd.oci.image.index.v1+json, \
     application/vnd.docker.distribution.manifest.list.v2+json, \
     application/vnd.oci.image.manifest.v1+json, \
     application/vnd.docker.distribution.manifest.v2+json";

/// Largest manifest accepted (containerd's limit).
const MAX_MANIFEST: u64 = 4 << 20;

impl Session {
    /// A session on `repository` with `access`.
    pub(crate) fn new(endpoint: Arc<Endpoint>, repository: &str, access: Access) -> Session {
        let actions = match access {
            Access::Pull => "pull",
            Access::Push => "pull,push",
        };
        Session {
            endpoint,
            repository: repository.to_owned(),
            scope: vec![format!("repository:{repository}:{actions}")],
        }
    }

    /// `registry/repository`, for messages.
    pub(crate) fn name(&self) -> String {
        format!("{}/{}", self.endpoint.host, self.repository)
    }

    fn url(&self, tail: &str) -> Result<String> {
        Ok(format!("{}/v2/{}/{tail}", self.endpoint.base()?, self.repository))
    }

    fn send(
        &self,
        what: &str,
        method: Method,
        url: &str,
        headers: &[(&str, String)],
        body: &[u8],
    ) -> Result<Response<Body>> {
        self.endpoint.send(what, method, url, headers, body, &self.scope)
    }

    /// `GET` a manifest or index by tag or digest.
    pub(crate) fn get_manifest(&self, reference: &str) -> Result<FetchedManifest> {
        let what = format!("manifest {}:{reference}", self.name());
        let url = self.url(&format!("manifests/{reference}"))?;
        let resp = self.send(&what, Method::GET, &url, &[("accept", MANIFEST_ACCEPT.to_owned())], &[])?;
        if resp.status() != StatusCode::OK {
            return Err(self.failure(&what, "GET", &url, resp));
        }
        let media_type = header(&resp, "content-type").unwrap_or_default();
        let mut body = resp.into_body().into_with_config().limit(MAX_MANIFEST + 1).reader();
        let mut bytes = Vec::new();
        body.read_to_end(&mut bytes).map_err(|e| network(&what, "GET", &url, ureq::Error::Io(e)))?;
        if bytes.len() as u64 > MAX_MANIFEST {
            return Err(RegistryError::invalid(&what, format!("larger than {MAX_MANIFEST} bytes")));
        }
        let digest = Digest::sha256_of(&bytes);
        Ok(FetchedManifest { bytes, digest, media_type })
    }

    /// `PUT` a manifest or index under `reference` (a tag or its digest); returns its digest.
    pub(crate) fn put_manifest(&self, reference: &str, media_type: &str, bytes: &[u8]) -> Result<Digest> {
        let what = format!("pushing manifest {}:{reference}", self.name());
        let url = self.url(&format!("manifests/{reference}"))?;
        let resp = self.send(&what, Method::PUT, &url, &[("content-type", media_type.to_owned())], bytes)?;
        if resp.status() != StatusCode::CREATED && resp.status() != StatusCode::OK {
            return Err(self.failure(&what, "PUT", &url, resp));
        }
        let digest = Digest::sha256_of(bytes);
        if let Some(told) = header(&resp, "docker-content-digest").and_then(|d| Digest::parse(&d).ok())
            && told != digest
        {
            return Err(RegistryError::DigestMismatch { object: what, expected: digest, actual: told });
        }
        Ok(digest)
    }

    /// `HEAD` a blob: its size when the repository has it.
    pub(crate) fn head_blob(&self, digest: &Digest) -> Result<Option<u64>> {
        let what = format!("blob {digest} in {}", self.name());
        let url = self.url(&format!("blobs/{digest}"))?;
        let resp = self.send(&what, Method::HEAD, &url, &[], &[])?;
        match resp.status() {
            StatusCode::OK => {
                Ok(Some(header(&resp, "content-length").and_then(|l| l.parse().ok()).unwrap_or(0)))
            }
            StatusCode::NOT_FOUND => Ok(None),
            _ => Err(self.failure(&what, "HEAD", &url, resp)),
        }
    }

    /// `GET` a blob from byte `offset` on; returns the body and whether it starts at `offset` (a registry
    /// may ignore the `Range` and send it all).
    pub(crate) fn get_blob(&self, digest: &Digest, offset: u64) -> Result<(Box<dyn Read + Send>, bool)> {
        let what = format!("blob {digest} from {}", self.name());
        let url = self.url(&format!("blobs/{digest}"))?;
        let headers = if offset > 0 { vec![("range", format!("bytes={offset}-"))] } else { Vec::new() };
        let resp = self.send(&what, Method::GET, &url, &headers, &[])?;
        let ranged = match resp.status() {
            StatusCode::OK => false,
            StatusCode::PARTIAL_CONTENT => {
                let range = header(&resp, "content-range").unwrap_or_default();
                if !range.starts_with(&format!("bytes {offset}-")) {
                    return Err(RegistryError::invalid(
                        &what,
                        format!("asked for bytes {offset}-, got range {range:?}"),
                    ));
                }
                true
            }
            _ => return Err(self.failure(&what, "GET", &url, resp)),
        };
        Ok((Box::new(resp.into_body().into_reader()), ranged))
    }

    /// Tries to mount `digest` from repository `from` of the same registry. `Ok(true)`: mounted;
    /// `Ok(false)`: the registry could not (the upload it opened instead is cancelled).
    pub(crate) fn mount_blob(&self, digest: &Digest, from: &str) -> Result<bool> {
        let what = format!("mounting blob {digest} from {from} into {}", self.name());
        let url = self.url(&format!("blobs/uploads/?mount={digest}&from={}", url_encode(from)))?;
        let mut scope = self.scope.clone();
        scope.push(format!("repository:{from}:pull"));
        let resp = self.endpoint.send(&what, Method::POST, &url, &[], &[], &scope)?;
        match resp.status() {
            StatusCode::CREATED => Ok(true),
            StatusCode::ACCEPTED => {
                if let Some(location) = header(&resp, "location") {
                    let _ = self.cancel_upload(&location);
                }
                Ok(false)
            }
            // Not allowed to read the source (or it is gone): upload instead.
            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN | StatusCode::NOT_FOUND => Ok(false),
            _ => Err(self.failure(&what, "POST", &url, resp)),
        }
    }

    /// Opens an upload session; returns its absolute location.
    pub(crate) fn start_upload(&self, what: &str) -> Result<String> {
        let url = self.url("blobs/uploads/")?;
        let resp = self.send(what, Method::POST, &url, &[], &[])?;
        if resp.status() != StatusCode::ACCEPTED {
            return Err(self.failure(what, "POST", &url, resp));
        }
        self.location(what, &resp)
    }

    /// Sends `body` to upload `location`: one `PUT ?digest=` unless the options set a chunk size smaller
    /// than the body, else `PATCH`es of that size and a closing `PUT`. The registry checks the digest
    /// before it answers `201 Created`.
    pub(crate) fn upload(
        &self,
        what: &str,
        location: &str,
        body: SizedBody<'_>,
        digest: &Digest,
        progress: &mut dyn FnMut(u64),
    ) -> Result<()> {
        let SizedBody { reader: body, size } = body;
        let chunk = self.endpoint.chunk_size();
        let mut location = location.to_owned();
        let octets = ("content-type", "application/octet-stream".to_owned());
        if let Some(chunk) = chunk.filter(|c| *c > 0 && *c < size) {
            let mut sent = 0u64;
            while sent < size {
                let n = chunk.min(size - sent);
                let range = ("content-range", format!("{sent}-{}", sent + n - 1));
                let mut part = CountingReader { inner: body.take(n), count: 0, progress: &mut *progress };
                let resp = self.endpoint.send_stream(
                    what,
                    Method::PATCH,
                    &location,
                    &[octets.clone(), range],
                    SizedBody { reader: &mut part, size: n },
                    &self.scope,
                )?;
                if resp.status() != StatusCode::ACCEPTED {
                    return Err(self.failure(what, "PATCH", &location, resp));
                }
                location = self.location(what, &resp)?;
                sent += n;
            }
            return self.finish_upload(what, &location, digest);
        }
        let url = with_query(&location, &format!("digest={digest}"));
        let mut counted = CountingReader { inner: body.take(size), count: 0, progress };
        let resp = self.endpoint.send_stream(
            what,
            Method::PUT,
            &url,
            &[octets],
            SizedBody { reader: &mut counted, size },
            &self.scope,
        )?;
        if resp.status() != StatusCode::CREATED {
            return Err(self.failure(what, "PUT", &url, resp));
        }
        Ok(())
    }

    /// Sends everything `body` gives to upload `location` in one streamed `PATCH` (chunked transfer
    /// encoding: the size is not known in advance); returns the location for the next request. Streamed
    /// `PATCH`es without `Content-Range` are what `docker push` sends; the distribution spec lists them too.
    pub(crate) fn upload_stream(&self, what: &str, location: &str, body: &mut dyn Read) -> Result<String> {
        let octets = ("content-type", "application/octet-stream".to_owned());
        let resp =
            self.endpoint.send_body(what, Method::PATCH, location, &[octets], body, None, &self.scope)?;
        if resp.status() != StatusCode::ACCEPTED {
            return Err(self.failure(what, "PATCH", location, resp));
        }
        self.location(what, &resp)
    }

    /// Closes upload `location`, whose bytes are all sent, with an empty `PUT ?digest=`; the registry
    /// checks the digest before it answers `201 Created`.
    pub(crate) fn finish_upload(&self, what: &str, location: &str, digest: &Digest) -> Result<()> {
        let url = with_query(location, &format!("digest={digest}"));
        let resp = self.endpoint.send_body(
            what,
            Method::PUT,
            &url,
            &[],
            &mut std::io::empty(),
            Some(0),
            &self.scope,
        )?;
        if resp.status() != StatusCode::CREATED {
            return Err(self.failure(what, "PUT", &url, resp));
        }
        Ok(())
    }

    /// Abandons an upload session (best effort).
    pub(crate) fn cancel_upload(&self, location: &str) -> Result<()> {
        let location = self.absolute(location)?;
        let _ = self.send("cancelling an upload", Method::DELETE, &location, &[], &[])?;
        Ok(())
    }

    fn location(&self, what: &str, resp: &Response<Body>) -> Result<String> {
        let location = header(resp, "location")
            .ok_or_else(|| RegistryError::invalid(what, "the registry sent no Location"))?;
        self.absolute(&location)
    }

    fn absolute(&self, location: &str) -> Result<String> {
        if location.starts_with("http://") || location.starts_with("https://") {
            return Ok(location.to_owned());
        }
        Ok(format!("{}/{}", self.endpoint.base()?, location.trim_start_matches('/')))
    }

    /// The error for an unexpected response.
    pub(crate) fn failure(&self, what: &str, method: &str, url: &str, resp: Response<Body>) -> RegistryError {
        match resp.status() {
            StatusCode::NOT_FOUND => {
                RegistryError::NotFound { what: what.to_owned(), detail: error_detail(resp) }
            }
            StatusCode::FORBIDDEN => RegistryError::Denied {
                what: what.to_owned(),
                registry: self.endpoint.host.clone(),
                detail: error_detail(resp),
            },
            StatusCode::UNAUTHORIZED => self.endpoint.unauthorized(what, resp),
            _ => status_error(what, method, url, resp),
        }
    }
}

/// A request body: a reader and how many bytes it gives (sent as `Content-Length`).
pub(crate) struct SizedBody<'a> {
    /// The bytes.
    pub(crate) reader: &'a mut dyn Read,
    /// How many.
    pub(crate) size: u64,
}

/// A reader that reports how many bytes went through.
struct CountingReader<'a, R> {
    inner: R,
    count: u64,
    progress: &'a mut dyn FnMut(u64),
}

impl<R: Read> Read for CountingReader<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count += n as u64;
        (self.progress)(n as u64);
        Ok(n)
    }
}

fn with_query(url: &str, query: &str) -> String {
    let sep = if url.contains('?') { '&' } else { '?' };
    format!("{url}{sep}{query}")
}

fn agent(options: &RegistryOptions, tls: TlsConfig) -> Agent {
    Agent::config_builder()
        .http_status_as_error(false)
        .timeout_connect(Some(options.connect_timeout))
        .timeout_per_read(Some(options.idle_timeout))
        .timeout_per_write(Some(options.idle_timeout))
        .redirect_auth_headers(ureq::config::RedirectAuthHeaders::SameHost)
        .max_idle_connections_per_host(
            options.max_concurrent_downloads.max(options.max_concurrent_uploads) + 2,
        )
        .user_agent(concat!("kiln/", env!("CARGO_PKG_VERSION")))
        .tls_config(tls)
        .build()
        .into()
}

/// TLS settings for `host`: its `certs.d` CAs (only those, when there are any) and client certificate.
fn host_tls(host: &str, options: &RegistryOptions) -> Result<TlsConfig> {
    let mut cas: Vec<Certificate<'static>> = Vec::new();
    let mut client = None;
    for dir in &options.certs_dirs {
        let dir = dir.join(host);
        let Ok(entries) = std::fs::read_dir(&dir) else { continue };
        let mut names: Vec<_> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
        names.sort();
        for path in names {
            let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            let read = || {
                fs_err::read(&path).map_err(|e| RegistryError::Io {
                    context: format!("reading {}", path.display()),
                    source: e,
                })
            };
            if name.ends_with(".crt") {
                for item in ureq::tls::parse_pem(&read()?) {
                    if let Ok(ureq::tls::PemItem::Certificate(cert)) = item {
                        cas.push(cert);
                    }
                }
            } else if name.ends_with(".cert") && client.is_none() {
                let key_path = path.with_extension("key");
                let certs: Vec<Certificate<'static>> = ureq::tls::parse_pem(&read()?)
                    .filter_map(|i| match i {
                        Ok(ureq::tls::PemItem::Certificate(c)) => Some(c),
                        _ => None,
                    })
                    .collect();
                let key_pem = fs_err::read(&key_path).map_err(|e| RegistryError::Io {
                    context: format!("reading client key {}", key_path.display()),
                    source: e,
                })?;
                let key = PrivateKey::from_pem(&key_pem)
                    .map_err(|e| RegistryError::invalid(key_path.display().to_string(), e.to_string()))?;
                client = Some(ClientCert::new_with_certs(&certs, key));
            }
        }
    }
    let mut builder = TlsConfig::builder().client_cert(client);
    if !cas.is_empty() {
        builder = builder.root_certs(RootCerts::new_with_certs(&cas));
    }
    Ok(builder.build())
}

fn basic_header(credential: &Credential) -> Option<String> {
    match credential {
        Credential::Basic { username, password } => Some(format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("{username}:{password}"))
        )),
        Credential::IdentityToken(_) => None,
    }
}

fn challenge_of(resp: &Response<Body>) -> Option<Challenge> {
    resp.headers()
        .get_all("www-authenticate")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(Challenge::parse)
}

fn is_transient_status(status: StatusCode) -> bool {
    status.is_server_error()
        || status == StatusCode::TOO_MANY_REQUESTS
        || status == StatusCode::REQUEST_TIMEOUT
}

fn retry_after(resp: &Response<Body>) -> Option<Duration> {
    let secs: u64 = header(resp, "retry-after")?.trim().parse().ok()?;
    Some(Duration::from_secs(secs.min(60)))
}

/// A response header as text.
pub(crate) fn header(resp: &Response<Body>, name: &str) -> Option<String> {
    resp.headers().get(name).and_then(|v: &HeaderValue| v.to_str().ok()).map(str::to_owned)
}

fn read_small(resp: Response<Body>, what: &str) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    resp.into_body()
        .into_with_config()
        .limit(MAX_SMALL_BODY)
        .reader()
        .read_to_end(&mut out)
        .map_err(|e| RegistryError::invalid(what, format!("reading the response: {e}")))?;
    Ok(out)
}

/// The registry's error codes and messages from an error response body, e.g.
/// `MANIFEST_UNKNOWN: manifest unknown`.
fn error_detail(resp: Response<Body>) -> String {
    let mut body = Vec::new();
    let _ = resp.into_body().into_with_config().limit(64 << 10).reader().read_to_end(&mut body);
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(&body) else {
        let text = String::from_utf8_lossy(&body);
        return sanitize(text.trim()).chars().take(200).collect();
    };
    let errors = value.get("errors").and_then(serde_json::Value::as_array).cloned().unwrap_or_default();
    let parts: Vec<String> = errors
        .iter()
        .map(|e| {
            let field = |n: &str| e.get(n).and_then(serde_json::Value::as_str).unwrap_or_default();
            let (code, message) = (field("code"), field("message"));
            sanitize(&match (code.is_empty(), message.is_empty()) {
                (false, false) => format!("{code}: {message}"),
                (false, true) => code.to_owned(),
                _ => message.to_owned(),
            })
        })
        .collect();
    if parts.is_empty() {
        value.get("details").and_then(serde_json::Value::as_str).map(sanitize).unwrap_or_default()
    } else {
        parts.join("; ")
    }
}

/// Registry-supplied text made safe for a terminal: control characters become `?`.
fn sanitize(s: &str) -> String {
    s.chars().map(|c| if c.is_control() { '?' } else { c }).collect()
}

fn suffix(detail: &str) -> String {
    if detail.is_empty() { String::new() } else { format!(" ({detail})") }
}

pub(crate) fn status_error(what: &str, method: &str, url: &str, resp: Response<Body>) -> RegistryError {
    let status = resp.status().as_u16();
    RegistryError::Status {
        what: what.to_owned(),
        method: method.to_owned(),
        url: url.to_owned(),
        status,
        detail: error_detail(resp),
    }
}

pub(crate) fn network(what: &str, method: &str, url: &str, e: ureq::Error) -> RegistryError {
    RegistryError::Network {
        what: what.to_owned(),
        method: method.to_owned(),
        url: url.to_owned(),
        source: Box::new(e),
    }
}

fn bad_request(url: &str, e: http::Error) -> RegistryError {
    RegistryError::invalid(url, format!("cannot build a request: {e}"))
}

/// Percent-encodes a query value.
fn url_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_values_are_percent_encoded() {
        assert_eq!(url_encode("repository:a/b:pull,push"), "repository%3Aa%2Fb%3Apull%2Cpush");
        assert_eq!(with_query("http://h/u?x=1", "digest=d"), "http://h/u?x=1&digest=d");
        assert_eq!(with_query("http://h/u", "digest=d"), "http://h/u?digest=d");
    }

    #[test]
    fn plain_http_is_refused_for_remote_hosts() {
        let options = RegistryOptions::default();
        let err = Endpoint::new("reg.example", Some("http://reg.example"), &options, None).err().unwrap();
        assert!(matches!(err, RegistryError::Insecure { .. }), "{err}");
        assert!(Endpoint::new("127.0.0.1:5000", Some("http://127.0.0.1:5000"), &options, None).is_ok());
    }
}
