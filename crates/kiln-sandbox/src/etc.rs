//! The contents of the injected `/etc/hosts` and `/etc/resolv.conf`, as BuildKit generates them.

use crate::spec::Network;

/// Public resolvers Docker falls back to when a container would otherwise have none.
const FALLBACK_NAMESERVERS: &[&str] = &["8.8.8.8", "8.8.4.4"];

/// BuildKit's `/etc/hosts`: the hostname on the IPv4 loopback line, the usual IPv6 loopback names.
pub fn hosts_file(hostname: &str) -> Vec<u8> {
    format!("127.0.0.1\tlocalhost {hostname}\n::1\tlocalhost ip6-localhost ip6-loopback\n").into_bytes()
}

/// The resolv.conf a run sees, derived from the host's: with the host network it is kept as is; in a
/// private network namespace loopback nameservers (a local stub resolver such as systemd-resolved's
/// 127.0.0.53) cannot be reached and are dropped. When no nameserver remains, Docker's public fallbacks are
/// added (Docker's `TransformForLegacyNw`).
pub fn resolv_conf(host: &str, network: Network) -> Vec<u8> {
    let mut out = String::new();
    let mut nameservers = 0;
    for line in host.lines() {
        let mut words = line.split_whitespace();
        if words.next() == Some("nameserver") {
            let addr = words.next().unwrap_or("");
            let loopback = addr.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback());
            if network == Network::None && loopback {
                continue;
            }
            nameservers += 1;
        }
        out.push_str(line);
        out.push('\n');
    }
    if nameservers == 0 {
        for ns in FALLBACK_NAMESERVERS {
            out.push_str("nameserver ");
            out.push_str(ns);
            out.push('\n');
        }
    }
    out.into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_names_the_sandbox() {
        assert_eq!(
            String::from_utf8(hosts_file("buildkitsandbox")).unwrap(),
            "127.0.0.1\tlocalhost buildkitsandbox\n::1\tlocalhost ip6-localhost ip6-loopback\n"
        );
    }

    #[test]
    fn loopback_resolvers_are_dropped_only_without_the_host_network() {
        let host = "# generated\nnameserver 127.0.0.53\noptions edns0\nsearch example.com\n";
        assert_eq!(String::from_utf8(resolv_conf(host, Network::Host)).unwrap(), host);
        assert_eq!(
            String::from_utf8(resolv_conf(host, Network::None)).unwrap(),
            "# generated\noptions edns0\nsearch example.com\nnameserver 8.8.8.8\nnameserver 8.8.4.4\n"
        );
        let real = "nameserver 10.0.0.2\n";
        assert_eq!(String::from_utf8(resolv_conf(real, Network::None)).unwrap(), real);
    }
}
