//! [`RegistryOptions`]: how kiln reaches registries — which hosts may use plain HTTP, Docker Hub mirrors,
//! per-host certificates, retries and their backoff, timeouts and parallelism — and [`RetryPolicy`].

use std::path::PathBuf;
use std::time::Duration;

use crate::credentials::Credentials;

/// How to talk to registries.
#[derive(Debug, Clone)]
pub struct RegistryOptions {
    /// Hosts (`host` or `host:port`) that may be reached over plain HTTP or TLS without certificate checks
    /// (`--insecure-registry`). Loopback hosts (`localhost`, `127.0.0.1`, `::1`) may always use plain HTTP,
    /// but their certificates are checked unless they are listed here.
    pub insecure: Vec<String>,
    /// Docker Hub mirrors (`https://mirror.example.com`), tried in order before Docker Hub itself when
    /// pulling (never when pushing), as dockerd's `registry-mirrors`.
    pub mirrors: Vec<String>,
    /// Directories of per-host certificates, laid out as Docker's `certs.d`:
    /// `<dir>/<host[:port]>/*.crt` (extra CAs), `client.cert` + `client.key` (a client certificate).
    pub certs_dirs: Vec<PathBuf>,
    /// Where credentials come from.
    pub credentials: Credentials,
    /// Retries of failed requests and damaged downloads.
    pub retry: RetryPolicy,
    /// Timeout for connecting (and the TLS handshake).
    pub connect_timeout: Duration,
    /// A connection that delivers or accepts no byte for this long is a stall: it is dropped and retried.
    pub idle_timeout: Duration,
    /// Blobs downloaded at the same time (Docker's default is 3).
    pub max_concurrent_downloads: usize,
    /// Blobs uploaded at the same time (Docker's default is 5).
    pub max_concurrent_uploads: usize,
    /// Upload blobs in `PATCH` chunks of this many bytes instead of one `PUT` (`None`: one `PUT`, the
    /// fastest; chunks suit registries or proxies that limit request sizes).
    pub chunk_size: Option<u64>,
}

impl Default for RegistryOptions {
    fn default() -> Self {
        RegistryOptions {
            insecure: Vec::new(),
            mirrors: Vec::new(),
            certs_dirs: vec![PathBuf::from("/etc/containers/certs.d"), PathBuf::from("/etc/docker/certs.d")],
            credentials: Credentials::default(),
            retry: RetryPolicy::default(),
            connect_timeout: Duration::from_secs(30),
            idle_timeout: Duration::from_secs(60),
            max_concurrent_downloads: 3,
            max_concurrent_uploads: 5,
            chunk_size: None,
        }
    }
}

impl RegistryOptions {
    /// True when `host` (`host[:port]`, as in a reference) may use plain HTTP: loopback and listed hosts.
    pub fn allows_http(&self, host: &str) -> bool {
        is_loopback(host_without_port(host)) || self.is_listed_insecure(host)
    }

    /// True when `host`'s certificate need not be verified: hosts listed in [`RegistryOptions::insecure`].
    pub fn is_listed_insecure(&self, host: &str) -> bool {
        let bare = host_without_port(host);
        self.insecure.iter().any(|h| {
            let h = h.trim_start_matches("http://").trim_start_matches("https://").trim_end_matches('/');
            h == host || h == bare
        })
    }
}

/// `host` without a `:port` suffix (IPv6 literals keep their brackets).
pub(crate) fn host_without_port(host: &str) -> &str {
    if host.starts_with('[') {
        return host.split_once(']').map_or(host, |(h, _)| &host[..h.len() + 1]);
    }
    host.rsplit_once(':').map_or(host, |(h, _)| h)
}

fn is_loopback(host: &str) -> bool {
    host == "localhost"
        || host == "[::1]"
        || host.parse::<std::net::Ipv4Addr>().is_ok_and(|ip| ip.is_loopback())
}

/// Retries with exponential backoff: attempt `n` (from 1) waits `base * 2^(n-1)`, at most `max_delay`,
/// plus up to 25% jitter, unless the registry asked for a delay (`Retry-After`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all (1 means no retry).
    pub attempts: u32,
    /// The first delay.
    pub base_delay: Duration,
    /// The longest delay.
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            attempts: 5,
            base_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(15),
        }
    }
}

impl RetryPolicy {
    /// The delay before attempt `attempt + 1`, after `attempt` failures.
    pub fn delay(&self, attempt: u32) -> Duration {
        let factor = 1u32.checked_shl(attempt.saturating_sub(1)).unwrap_or(u32::MAX);
        let delay = self.base_delay.saturating_mul(factor).min(self.max_delay);
        delay + jitter(delay / 4)
    }
}

/// A pseudo-random duration below `max` (from the clock's nanoseconds; only to spread retries apart).
fn jitter(max: Duration) -> Duration {
    let nanos = max.as_nanos() as u64;
    if nanos == 0 {
        return Duration::ZERO;
    }
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos() as u64);
    Duration::from_nanos(seed.wrapping_mul(6364136223846793005) % nanos)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_and_listed_hosts_may_use_http_and_only_listed_skip_verification() {
        let options = RegistryOptions { insecure: vec!["reg.internal:5000".into()], ..Default::default() };
        for host in
            ["localhost", "localhost:5000", "127.0.0.1:40123", "127.1.2.3", "[::1]:5000", "reg.internal:5000"]
        {
            assert!(options.allows_http(host), "{host}");
        }
        for host in ["reg.internal:5001", "docker.io", "localhost.example.com", "10.0.0.1:5000"] {
            assert!(!options.allows_http(host), "{host}");
        }
        assert!(options.is_listed_insecure("reg.internal:5000"));
        assert!(!options.is_listed_insecure("127.0.0.1:5000"));
    }

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let p = RetryPolicy {
            attempts: 9,
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_secs(1),
        };
        let within =
            |d: Duration, lo: u64| d >= Duration::from_millis(lo) && d <= Duration::from_millis(lo * 5 / 4);
        assert!(within(p.delay(1), 100));
        assert!(within(p.delay(2), 200));
        assert!(within(p.delay(3), 400));
        assert!(within(p.delay(8), 1000));
        assert!(within(p.delay(60), 1000));
    }
}
