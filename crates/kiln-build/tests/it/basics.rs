//! FROM, RUN and the metadata instructions: the config and history BuildKit would write.

use std::os::unix::fs::MetadataExt;

use crate::harness::{Fixture, read};
use crate::need_root;

#[test]
fn run_writes_a_layer_and_metadata_lands_in_the_config() {
    need_root!();
    let f = Fixture::new();
    let built = f.build(
        "FROM busybox\nENV GREETING=hello\nARG WHO=world\nRUN echo \"$GREETING $WHO\" > /greeting && id -u > /uid\nUSER app\nWORKDIR /srv/app\nRUN id -un > whoami\nEXPOSE 8080 53/udp\nLABEL org.example.name=demo\nVOLUME /data\nSTOPSIGNAL SIGINT\nHEALTHCHECK --interval=30s --retries=3 CMD true\nENTRYPOINT [\"/bin/sh\"]\nCMD [\"-c\", \"cat /greeting\"]\n",
    );
    let root = f.rootfs(&built);
    assert_eq!(read(&root, "greeting"), "hello world\n");
    assert_eq!(read(&root, "uid"), "0\n");
    assert_eq!(read(&root, "srv/app/whoami"), "app\n");
    let meta = std::fs::metadata(root.join("srv/app")).unwrap();
    assert_eq!((meta.uid(), meta.mode() & 0o7777), (1000, 0o755), "WORKDIR is created for USER, 0755");
    let c = &built.config().config;
    assert_eq!(c.env_var("GREETING"), Some("hello"));
    assert_eq!(c.env_var("WHO"), None, "ARG values stay out of the image config");
    assert_eq!(c.user.as_deref(), Some("app"));
    assert_eq!(c.working_dir.as_deref(), Some("/srv/app"));
    assert_eq!(c.entrypoint.as_deref(), Some(&["/bin/sh".to_owned()][..]));
    assert_eq!(c.cmd.as_deref(), Some(&["-c".to_owned(), "cat /greeting".to_owned()][..]));
    let ports: Vec<_> = c.exposed_ports.as_ref().unwrap().keys().cloned().collect();
    assert_eq!(ports, ["53/udp", "8080/tcp"]);
    assert_eq!(c.labels.as_ref().unwrap()["org.example.name"], "demo");
    assert!(c.volumes.as_ref().unwrap().contains_key("/data"));
    assert_eq!(c.stop_signal.as_deref(), Some("SIGINT"));
    let hc = c.healthcheck.as_ref().unwrap();
    assert_eq!(hc.test.as_deref(), Some(&["CMD-SHELL".to_owned(), "true".to_owned()][..]));
    assert_eq!((hc.interval, hc.retries), (30_000_000_000, 3));

    let history: Vec<(String, bool)> = built
        .config()
        .history
        .iter()
        .skip(1)
        .map(|h| (h.created_by.clone().unwrap(), h.empty_layer))
        .collect();
    let expected: Vec<(&str, bool)> = vec![
        ("ENV GREETING=hello", true),
        ("ARG WHO=world", true),
        ("RUN |1 WHO=world /bin/sh -c echo \"$GREETING $WHO\" > /greeting && id -u > /uid # buildkit", false),
        ("USER app", true),
        ("WORKDIR /srv/app", false),
        ("RUN |1 WHO=world /bin/sh -c id -un > whoami # buildkit", false),
        ("EXPOSE [8080/tcp 53/udp]", true),
        ("LABEL org.example.name=demo", true),
        ("VOLUME [/data]", true),
        ("STOPSIGNAL SIGINT", true),
        (
            "HEALTHCHECK {Test:[CMD-SHELL true] Interval:30s Timeout:0s StartPeriod:0s StartInterval:0s Retries:3}",
            true,
        ),
        ("ENTRYPOINT [\"/bin/sh\"]", true),
        ("CMD [\"-c\" \"cat /greeting\"]", true),
    ];
    let got: Vec<(&str, bool)> = history.iter().map(|(s, e)| (s.as_str(), *e)).collect();
    assert_eq!(got, expected);
    let layers = built.config().rootfs.diff_ids.len();
    assert_eq!(layers, 4, "base + RUN + WORKDIR + RUN");
    let comment = built.config().history[3].comment.clone().unwrap();
    assert_eq!(comment, "kiln.dockerfile.v0 Dockerfile:4", "provenance names the Dockerfile line");
    assert!(built.config().created.is_some());
    assert!(built.config().history.iter().all(|h| h.created.is_some()));
}

#[test]
fn entrypoint_resets_cmd_from_the_base_but_not_from_the_same_stage() {
    need_root!();
    let f = Fixture::new();
    let built = f.build("FROM busybox AS base\nCMD [\"base\"]\nFROM base\nENTRYPOINT [\"/bin/echo\"]\n");
    assert_eq!(built.config().config.cmd, None, "ENTRYPOINT clears an inherited CMD");
    let built = f.build("FROM busybox\nCMD [\"x\"]\nENTRYPOINT [\"/bin/echo\"]\n");
    assert_eq!(built.config().config.cmd.as_deref(), Some(&["x".to_owned()][..]));
    let built = f.build("FROM busybox\nSHELL [\"/bin/sh\", \"-ec\"]\nCMD echo hi\n");
    assert_eq!(
        built.config().config.cmd.as_deref(),
        Some(&["/bin/sh".to_owned(), "-ec".to_owned(), "echo hi".to_owned()][..]),
        "shell-form CMD uses SHELL"
    );
}

#[test]
fn scratch_images_get_buildkit_defaults() {
    need_root!();
    let f = Fixture::new();
    let built = f.build("FROM scratch\nLABEL a=b\n");
    let c = &built.config().config;
    assert_eq!(c.working_dir.as_deref(), Some("/"));
    assert_eq!(
        c.env.as_deref(),
        Some(&["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".to_owned()][..])
    );
    assert!(built.config().rootfs.diff_ids.is_empty());
}

#[test]
fn maintainer_shell_and_healthcheck_none() {
    need_root!();
    let f = Fixture::new();
    let built = f.build(
        "FROM busybox\nMAINTAINER someone@example.com\nHEALTHCHECK NONE\nSHELL [\"/bin/sh\", \"-xc\"]\nRUN echo shell > /s\nWORKDIR /\n",
    );
    let c = built.config();
    assert_eq!(c.author.as_deref(), Some("someone@example.com"));
    assert_eq!(c.config.healthcheck.as_ref().unwrap().test.as_deref(), Some(&["NONE".to_owned()][..]));
    assert_eq!(c.config.shell.as_deref(), Some(&["/bin/sh".to_owned(), "-xc".to_owned()][..]));
    let by: Vec<&str> = c.history.iter().filter_map(|h| h.created_by.as_deref()).collect();
    assert!(by.contains(&"MAINTAINER someone@example.com"));
    assert!(by.contains(&"SHELL [/bin/sh -xc]"));
    assert!(by.contains(&"RUN /bin/sh -xc echo shell > /s # buildkit"), "{by:?}");
    let last = c.history.last().unwrap();
    assert_eq!(
        (last.created_by.as_deref(), last.empty_layer),
        (Some("WORKDIR /"), true),
        "WORKDIR / makes no layer"
    );
}
