//! Audits of synthetic images: secrets in deleted files, in ENV/LABEL and in build arguments recorded in
//! the history, always redacted; the CIS-style checks with their evidence.

use kiln_audit::{AuditOptions, SecretLocation, audit};

use crate::fixture::{Layer, Member, file, image};

const GITHUB: &str = "ghp_0123456789abcdefghijABCDEFGHIJ012345";
const AWS_ID: &str = "AKIAIOSFODNN7EXAMPLE";

fn layer(members: Vec<Member>, created_by: &str, line: Option<u32>) -> Layer {
    Layer { members, created_by: created_by.into(), line }
}

#[test]
fn secret_deleted_by_a_later_layer_is_still_found() {
    let env = format!("DB_PASSWORD=s3cr3t-Pa55word\nGITHUB_TOKEN={GITHUB}\n");
    let img = image(
        vec![
            layer(
                vec![Member::Dir("app", 0o755), file("app/.env", env.as_bytes())],
                "COPY .env /app/",
                Some(3),
            ),
            layer(vec![Member::Whiteout("app/.env")], "RUN /bin/sh -c rm /app/.env", Some(4)),
        ],
        serde_json::json!({ "User": "10001", "Healthcheck": { "Test": ["CMD", "true"] } }),
        &[],
    );
    let report = audit(&img.store, &img.config, &AuditOptions::default()).unwrap();
    let rules: Vec<&str> = report.secrets.iter().map(|s| s.secret.rule).collect();
    // GITHUB_TOKEN=ghp_… is one secret: the specific rule wins over the generic assignment rule.
    assert_eq!(rules, ["github-token", "env-secret"], "{report:#?}");
    for s in &report.secrets {
        match &s.location {
            SecretLocation::File { layer_index, path, visible, dockerfile_line, .. } => {
                assert_eq!((*layer_index, path.as_str(), *visible), (0, "/app/.env", false));
                assert_eq!(dockerfile_line.as_deref(), Some("Dockerfile:3"));
            }
            other => panic!("{other:?}"),
        }
    }
    let json = serde_json::to_string(&report).unwrap();
    assert!(!json.contains(GITHUB) && !json.contains("s3cr3t-Pa55word"), "{json}");
    let ids: Vec<&str> = report.checks.iter().map(|c| c.id).collect();
    assert_eq!(ids, ["CIS-DI-0010"]);
    // Checks only: the secrets are not listed, but the secrets check still fails.
    let checks_only = AuditOptions { secrets: false, ..AuditOptions::default() };
    let report = audit(&img.store, &img.config, &checks_only).unwrap();
    assert!(report.secrets.is_empty());
    let ids: Vec<&str> = report.checks.iter().map(|c| c.id).collect();
    assert_eq!(ids, ["CIS-DI-0010"]);
}

#[test]
fn secrets_in_config_and_build_arguments() {
    let img = image(
        vec![layer(
            vec![file("etc/hostname", b"x\n")],
            &format!("RUN |2 GITHUB_TOKEN={GITHUB} DEBUG=1 /bin/sh -c make"),
            Some(7),
        )],
        serde_json::json!({
            "Env": ["PATH=/usr/bin", format!("AWS_ACCESS_KEY_ID={AWS_ID}")],
            "Labels": { "deploy.api_token": "Zq8-rT4mW2xY9pLk" },
        }),
        &[],
    );
    let report = audit(&img.store, &img.config, &AuditOptions::default()).unwrap();
    let found: Vec<(&str, String)> =
        report.secrets.iter().map(|s| (s.secret.rule, s.location.describe())).collect();
    assert!(found.contains(&("aws-access-key-id", "ENV AWS_ACCESS_KEY_ID".into())), "{found:?}");
    assert!(found.contains(&("env-secret", "LABEL deploy.api_token".into())), "{found:?}");
    assert!(found.contains(&("github-token", "history #0".into())), "{found:?}");
    let history = report.secrets.iter().find(|s| s.secret.rule == "github-token").unwrap();
    assert_eq!(history.location.dockerfile_line(), Some("Dockerfile:7"));
    let json = serde_json::to_string(&report).unwrap();
    assert!(!json.contains(GITHUB) && !json.contains(AWS_ID) && !json.contains("Zq8-rT4mW2xY9pLk"), "{json}");
}

#[test]
fn checks_report_their_evidence() {
    let img = image(
        vec![
            layer(
                vec![
                    Member::Dir("usr", 0o755),
                    Member::Dir("usr/bin", 0o755),
                    Member::File("usr/bin/sudo", b"\x7fELF\0".to_vec(), 0o4755),
                    Member::File("usr/bin/passwd", b"\x7fELF\0".to_vec(), 0o4755),
                    Member::Dir("srv", 0o777),
                    Member::Dir("tmp", 0o1777),
                    Member::Dir("var/lib/apt/lists", 0o755),
                    file("var/lib/apt/lists/deb.debian.org_debian_dists_bookworm_InRelease", b"x"),
                ],
                "RUN /bin/sh -c apt-get update",
                Some(2),
            ),
            layer(vec![Member::Whiteout("usr/bin/passwd")], "ADD app.tar.gz /opt/ # buildkit", Some(5)),
        ],
        serde_json::json!({ "User": "root", "Labels": { "org.opencontainers.image.base.name": "debian:latest" } }),
        &[],
    );
    let report = audit(&img.store, &img.config, &AuditOptions::default()).unwrap();
    let ids: Vec<&str> = report.checks.iter().map(|c| c.id).collect();
    assert_eq!(
        ids,
        [
            "CIS-DI-0001",
            "CIS-DI-0006",
            "CIS-DI-0007",
            "CIS-DI-0008",
            "CIS-DI-0009",
            "DKL-DI-0001",
            "DKL-DI-0005",
            "DKL-DI-0006",
            "KILN-DI-0001"
        ],
        "{report:#?}"
    );
    let setuid = &report.checks[3];
    // /usr/bin/passwd was deleted by layer 1: only sudo is left.
    let paths: Vec<_> = setuid.evidence.iter().map(|e| e.path.as_deref().unwrap()).collect();
    assert_eq!(paths, ["/usr/bin/sudo"]);
    assert_eq!(setuid.evidence[0].dockerfile_line.as_deref(), Some("Dockerfile:2"));
    let writable = report.checks.last().unwrap();
    let paths: Vec<_> = writable.evidence.iter().map(|e| e.path.as_deref().unwrap()).collect();
    assert_eq!(paths, ["/srv"], "/tmp is sticky and exempt");
}

#[test]
fn clean_image_has_no_findings() {
    let img = image(
        vec![layer(
            vec![Member::Dir("app", 0o755), file("app/main.py", b"print('hi')\n")],
            "COPY . /app",
            None,
        )],
        serde_json::json!({ "User": "10001:10001", "Healthcheck": { "Test": ["CMD", "true"] } }),
        &["ARG VERSION=1"],
    );
    let report = audit(&img.store, &img.config, &AuditOptions::default()).unwrap();
    assert!(report.secrets.is_empty() && report.checks.is_empty(), "{report:#?}");
    assert_eq!(report.stats.files_scanned, 1);
}
