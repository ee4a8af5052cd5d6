//! ARG semantics: meta ARGs in FROM lines only, redeclaration, build-arg overrides, predefined platform
//! args, proxy and BUILDKIT_* args, unused build args.

use std::collections::BTreeMap;

use kiln_oci::Platform;
use kiln_plan::{ArgValue, Input};

use crate::{options, plan, with_args};

fn image(graph: &kiln_plan::BuildGraph, stage: usize) -> String {
    match &graph.stages[stage].base {
        Input::Image(r) => r.to_string(),
        other => panic!("stage {stage} base is {other:?}"),
    }
}

fn binding(graph: &kiln_plan::BuildGraph, stage: usize, step: usize) -> &ArgValue {
    &graph.stages[stage].steps[step].args[0].value
}

#[test]
fn meta_args_expand_in_from_lines() {
    let g = plan("ARG TAG=3.20\nARG REPO=alpine\nFROM ${REPO}:$TAG\n", &options());
    assert_eq!(image(&g, 0), "docker.io/library/alpine:3.20");
    assert_eq!(
        g.meta_args,
        [("TAG".to_owned(), Some("3.20".to_owned())), ("REPO".to_owned(), Some("alpine".to_owned()))]
    );
}

#[test]
fn build_args_override_meta_defaults() {
    let g = plan("ARG TAG=3.20\nFROM alpine:$TAG\n", &with_args(&[("TAG", "edge")]));
    assert_eq!(image(&g, 0), "docker.io/library/alpine:edge");
}

#[test]
fn meta_defaults_see_earlier_meta_args_and_predefined_args() {
    let g = plan("ARG A=1\nARG B=${A}2\nARG OS=$TARGETOS\nFROM x:$B-$OS\n", &options());
    assert_eq!(image(&g, 0), "docker.io/library/x:12-linux");
    // A build arg given for A changes what B's default sees.
    let g = plan("ARG A=1\nARG B=${A}2\nFROM x:$B\n", &with_args(&[("A", "9")]));
    assert_eq!(image(&g, 0), "docker.io/library/x:92");
}

#[test]
fn a_meta_arg_without_value_stays_unset() {
    let g = plan("ARG V\nFROM x:${V:-fallback}\n", &options());
    assert_eq!(image(&g, 0), "docker.io/library/x:fallback");
    assert_eq!(g.meta_args, [("V".to_owned(), None)]);
    assert_eq!(g.global_args.get("V"), None);
}

#[test]
fn stages_see_meta_args_only_when_redeclared() {
    let src = "ARG V=1\nFROM x\nRUN echo $V\nARG V\nARG W\n";
    let g = plan(src, &options());
    let steps = &g.stages[0].steps;
    // The RUN declares nothing: V is not in its scope (the engine's env has no V).
    assert!(steps[0].args.is_empty());
    assert_eq!(steps[1].args[0].value, ArgValue::Global("1".into()));
    assert_eq!(steps[2].args[0].value, ArgValue::Unset);
    let g = plan(src, &with_args(&[("V", "2")]));
    assert_eq!(binding(&g, 0, 1), &ArgValue::BuildArg("2".into()));
}

#[test]
fn build_args_win_over_stage_defaults_which_expand_at_dispatch() {
    let src = "FROM x\nENV BASE=/opt\nARG DIR=$BASE/app\n";
    let g = plan(src, &options());
    let step = &g.stages[0].steps[1];
    let ArgValue::Default(token) = &step.args[0].value else { panic!("{:?}", step.args[0].value) };
    assert_eq!(token.value, "$BASE/app");
    let env: BTreeMap<String, String> = [("BASE".to_owned(), "/srv".to_owned())].into();
    assert_eq!(step.arg_value(&step.args[0], &env).unwrap().as_deref(), Some("/srv/app"));
    let g = plan(src, &with_args(&[("DIR", "/cli")]));
    let step = &g.stages[0].steps[1];
    assert_eq!(step.args[0].value, ArgValue::BuildArg("/cli".into()));
    // A build arg is used as is; the default (even an invalid one) is not evaluated.
    let g = plan("FROM x\nARG D=${NOPE:?required}\n", &with_args(&[("D", "ok")]));
    let step = &g.stages[0].steps[0];
    assert_eq!(
        step.arg_value(&step.args[0], &BTreeMap::<String, String>::new()).unwrap().as_deref(),
        Some("ok")
    );
}

#[test]
fn a_default_that_fails_to_expand_names_its_line() {
    let g = plan("FROM x\n\nARG D=${NOPE:?is_required}\n", &options());
    let step = &g.stages[0].steps[0];
    let err = step.arg_value(&step.args[0], &BTreeMap::<String, String>::new()).unwrap_err();
    assert_eq!(err.line, 3);
    assert!(err.to_string().contains("NOPE: is_required"), "{err}");
}

#[test]
fn predefined_platform_args_are_global_and_declared_per_stage() {
    let mut o = options();
    o.target_platform = Some(Platform::parse("linux/arm64").unwrap());
    let g = plan(
        "FROM --platform=$BUILDPLATFORM golang:1.22-$TARGETARCH AS build\nRUN true\nARG TARGETARCH\nARG BUILDPLATFORM\n",
        &o,
    );
    assert_eq!(image(&g, 0), "docker.io/library/golang:1.22-arm64");
    assert_eq!(g.stages[0].platform.as_ref().unwrap().to_string(), "linux/amd64");
    assert!(g.stages[0].steps[0].args.is_empty());
    assert_eq!(binding(&g, 0, 1), &ArgValue::Global("arm64".into()));
    assert_eq!(binding(&g, 0, 2), &ArgValue::Global("linux/amd64".into()));
    for name in [
        "TARGETPLATFORM",
        "TARGETOS",
        "TARGETARCH",
        "TARGETVARIANT",
        "BUILDPLATFORM",
        "BUILDOS",
        "BUILDARCH",
        "BUILDVARIANT",
    ] {
        assert!(g.global_args.get(name).is_some(), "{name} is predefined");
    }
    assert_eq!(g.global_args.get("TARGETVARIANT"), Some(""));
}

#[test]
fn predefined_args_can_be_overridden_by_build_args() {
    let g = plan("FROM x:$TARGETARCH\nARG TARGETARCH\n", &with_args(&[("TARGETARCH", "riscv64")]));
    assert_eq!(image(&g, 0), "docker.io/library/x:riscv64");
    assert_eq!(binding(&g, 0, 0), &ArgValue::BuildArg("riscv64".into()));
    assert!(g.unused_build_args.is_empty());
}

#[test]
fn targetstage_names_the_target() {
    let src = "FROM a AS first\nFROM b AS Second\n";
    let g = plan(src, &options());
    assert_eq!(g.global_args.get("TARGETSTAGE"), Some("second"));
    let mut o = options();
    o.target = Some("first".into());
    assert_eq!(plan(src, &o).global_args.get("TARGETSTAGE"), Some("first"));
    assert_eq!(plan("FROM a\n", &options()).global_args.get("TARGETSTAGE"), Some("default"));
}

#[test]
fn proxy_args_need_no_declaration_and_stay_out_of_bindings() {
    let g = plan(
        "FROM x\nRUN curl example.com\n",
        &with_args(&[("https_proxy", "http://p:3128"), ("NO_PROXY", "local")]),
    );
    let env: Vec<(&str, &str)> = g.proxy_env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    assert_eq!(
        env,
        [
            ("HTTPS_PROXY", "http://p:3128"),
            ("https_proxy", "http://p:3128"),
            ("NO_PROXY", "local"),
            ("no_proxy", "local")
        ]
    );
    assert!(g.unused_build_args.is_empty());
    assert!(g.stages[0].steps.iter().all(|s| s.args.is_empty()));
    // Declared, a proxy arg is an ordinary ARG (in history and cache keys).
    let g = plan("FROM x\nARG https_proxy\n", &with_args(&[("https_proxy", "http://p:3128")]));
    assert_eq!(binding(&g, 0, 0), &ArgValue::BuildArg("http://p:3128".into()));
}

#[test]
fn buildkit_options_and_source_date_epoch_are_consumed() {
    let g = plan(
        "FROM x\n",
        &with_args(&[("BUILDKIT_CACHE_MOUNT_NS", "ns"), ("SOURCE_DATE_EPOCH", "1700000000")]),
    );
    assert_eq!(g.frontend_options.get("BUILDKIT_CACHE_MOUNT_NS").map(String::as_str), Some("ns"));
    assert_eq!(g.source_date_epoch.as_deref(), Some("1700000000"));
    assert!(g.unused_build_args.is_empty());
    let g = plan("ARG SOURCE_DATE_EPOCH=42\nFROM x\n", &options());
    assert_eq!(g.source_date_epoch.as_deref(), Some("42"));
    assert_eq!(plan("ARG SOURCE_DATE_EPOCH=\nFROM x\n", &options()).source_date_epoch, None);
}

#[test]
fn unused_build_args_are_reported_like_docker() {
    let src = "ARG META\nFROM x AS unused\nARG ONLY_IN_PRUNED\nFROM y\nARG USED\n";
    let g = plan(src, &with_args(&[("USED", "1"), ("META", "2"), ("ONLY_IN_PRUNED", "3"), ("TYPO", "4")]));
    assert_eq!(g.unused_build_args, ["ONLY_IN_PRUNED", "TYPO"]);
    assert_eq!(
        g.unused_build_args_warning().unwrap(),
        "One or more build-args [ONLY_IN_PRUNED TYPO] were not consumed"
    );
    assert_eq!(plan(src, &with_args(&[("USED", "1")])).unused_build_args_warning(), None);
}

#[test]
fn sbom_scan_args_never_reach_the_environment() {
    let g = plan("FROM x\nARG BUILDKIT_SBOM_SCAN_STAGE=true\nARG OTHER=1\n", &options());
    assert!(!g.stages[0].steps[0].args[0].in_env());
    assert!(g.stages[0].steps[1].args[0].in_env());
}
