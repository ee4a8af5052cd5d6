//! Authentication and TLS against a real registry: htpasswd (HTTP Basic) behind TLS from a generated CA,
//! a token service (the proxy's Bearer front end), and the errors users see when something is missing.

use kiln_oci::ImageLocation;
use kiln_registry::{NoProgress, PullOptions, PushOptions, Registry, RegistryError, RegistryOptions};

use crate::fixture::{Setup, TestRegistry, generated_image, have_registry, options, store};
use crate::proxy::Proxy;

fn loc(s: &str) -> ImageLocation {
    ImageLocation::parse(s).unwrap()
}

fn tls_registry_with_user() -> TestRegistry {
    TestRegistry::start_with(Setup { tls: true, user: Some(("kiln".into(), "s3cret pass".into())) })
}

#[test]
fn htpasswd_over_tls_needs_a_login_and_rejects_a_wrong_password() {
    if !have_registry() {
        return;
    }
    let registry = tls_registry_with_user();
    let (dir, a) = store();
    generated_image(&a, "local/gen:1", 11, 1, 20_000);
    let trusted = RegistryOptions { certs_dirs: vec![registry.certs_dir()], ..options(dir.path()) };
    let reg = Registry::new(trusted.clone());
    let target = registry.reference("kiln/private:v1");

    // No login: a clear error that names the registry and says what to do.
    let err = reg.push(&a, &loc("local/gen:1"), &target, &PushOptions::default(), &NoProgress).unwrap_err();
    assert!(matches!(err, RegistryError::Unauthorized { .. }), "{err:?}");
    let text = err.to_string();
    assert!(text.contains(&registry.host()) && text.contains("kiln login"), "{text}");

    // A wrong password is refused and not saved.
    let err = reg.login(&registry.host(), "kiln", "wrong").unwrap_err();
    assert!(matches!(err, RegistryError::Unauthorized { .. }), "{err:?}");
    assert!(!dir.path().join("docker-config.json").exists(), "a rejected login is not stored");

    // The right one is saved in config.json and used by the next client.
    reg.login(&registry.host(), "kiln", "s3cret pass").unwrap();
    let config = std::fs::read_to_string(dir.path().join("docker-config.json")).unwrap();
    assert!(config.contains(&registry.host()), "{config}");
    let reg = Registry::new(trusted.clone());
    let pushed = reg.push(&a, &loc("local/gen:1"), &target, &PushOptions::default(), &NoProgress).unwrap();
    let (_d, b) = store();
    let pulled = reg.pull(&b, &target, &PullOptions::default(), &NoProgress).unwrap();
    assert_eq!(pulled.manifest_digest, pushed.digest);

    // A password changed behind kiln's back: the stored login is named as the problem.
    let mut config_json: serde_json::Value = serde_json::from_str(&config).unwrap();
    use base64::Engine as _;
    let bad = base64::engine::general_purpose::STANDARD.encode("kiln:stale");
    config_json["auths"][registry.host()]["auth"] = bad.into();
    std::fs::write(dir.path().join("docker-config.json"), config_json.to_string()).unwrap();
    let err = Registry::new(trusted.clone())
        .pull(&b, &target, &PullOptions::default(), &NoProgress)
        .unwrap_err()
        .to_string();
    assert!(err.contains("rejected the stored credentials"), "{err}");

    // Logout removes it.
    assert!(Registry::new(trusted.clone()).logout(&registry.host()).unwrap());
    let config = std::fs::read_to_string(dir.path().join("docker-config.json")).unwrap();
    assert!(!config.contains(&registry.host()), "{config}");
}

#[test]
fn an_unknown_certificate_authority_is_refused_unless_trusted_or_listed_insecure() {
    if !have_registry() {
        return;
    }
    let registry = TestRegistry::start_with(Setup { tls: true, user: None });
    let (dir, a) = store();
    generated_image(&a, "local/gen:1", 12, 1, 10_000);
    let target = registry.reference("kiln/tls:v1");

    let err = Registry::new(options(dir.path()))
        .push(&a, &loc("local/gen:1"), &target, &PushOptions::default(), &NoProgress)
        .unwrap_err();
    assert!(matches!(err, RegistryError::Insecure { .. }), "{err:?}");
    let text = err.to_string();
    assert!(text.contains("certificate") && text.contains("certs.d"), "{text}");

    let trusted = RegistryOptions { certs_dirs: vec![registry.certs_dir()], ..options(dir.path()) };
    Registry::new(trusted)
        .push(&a, &loc("local/gen:1"), &target, &PushOptions::default(), &NoProgress)
        .unwrap();

    let listed = RegistryOptions { insecure: vec![registry.host()], ..options(dir.path()) };
    let (_d, b) = store();
    Registry::new(listed).pull(&b, &target, &PullOptions::default(), &NoProgress).unwrap();
}

#[test]
fn token_service_flow_with_scopes() {
    if !have_registry() {
        return;
    }
    let registry = TestRegistry::start();
    let proxy = Proxy::start(registry.port);
    proxy.require_bearer("ci", "t0ken");
    let (dir, a) = store();
    generated_image(&a, "local/gen:1", 13, 1, 10_000);
    let reg = Registry::new(options(dir.path()));
    let target = crate::fixture::reference(&proxy.host(), "team/app:v1");

    let err = reg.push(&a, &loc("local/gen:1"), &target, &PushOptions::default(), &NoProgress).unwrap_err();
    assert!(matches!(err, RegistryError::Unauthorized { .. }), "{err:?}");
    assert!(err.to_string().contains("kiln login"), "{err}");

    let err = reg.login(&proxy.host(), "ci", "nope").unwrap_err();
    assert!(err.to_string().contains("token service rejected"), "{err}");
    reg.login(&proxy.host(), "ci", "t0ken").unwrap();
    proxy.clear_log();

    let reg = Registry::new(options(dir.path()));
    let pushed = reg.push(&a, &loc("local/gen:1"), &target, &PushOptions::default(), &NoProgress).unwrap();
    let tokens = proxy.log().iter().filter(|l| l.path.starts_with("/token")).count();
    assert!(tokens >= 1, "a token was fetched: {:?}", proxy.log());
    assert!(
        proxy.log().iter().any(|l| l.path.contains("scope=repository%3Ateam%2Fapp%3Apull%2Cpush")),
        "push asks for pull,push on the repository: {:?}",
        proxy.log()
    );
    let (_d, b) = store();
    let pulled = reg.pull(&b, &target, &PullOptions::default(), &NoProgress);
    let pulled = pulled.unwrap_or_else(|e| panic!("{e}: {:?}", proxy.log()));
    assert_eq!(pulled.manifest_digest, pushed.digest);
    // Tokens are reused: far fewer token requests than registry requests.
    let log = proxy.log();
    let token_requests = log.iter().filter(|l| l.path.starts_with("/token")).count();
    let refused = log.iter().filter(|l| l.status == 401).count();
    assert_eq!(token_requests, 2, "one token per scope (push, then pull): {log:?}");
    assert_eq!(refused, 1, "only the first ping is refused: {log:?}");
}
