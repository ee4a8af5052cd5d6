//! Stages, bases, inputs, pruning, order, named contexts and ONBUILD triggers.

use kiln_oci::Platform;
use kiln_plan::{Dependency, Input, InputUse, TriggerOrigin};

use crate::{options, plan, target};

const MULTI: &str = "\
FROM golang:1.22 AS Build
RUN go build -o /out/app .

FROM alpine:3.20 AS test
COPY --from=build /out/app /app
RUN /app -test

FROM busybox AS docs
RUN make docs

FROM scratch
COPY --from=BUILD /out/app /app
";

#[test]
fn stages_by_name_and_index() {
    let g = plan(MULTI, &options());
    assert_eq!(g.stages.len(), 4);
    assert_eq!(g.stages[0].name.as_deref(), Some("build"));
    assert_eq!(g.stages[3].name, None);
    assert_eq!(g.stages[3].display_name(), "stage-3");
    assert_eq!(g.find_stage("BUILD").unwrap().index, 0);
    assert_eq!(g.target, 3);
    assert_eq!(g.stages[0].base, Input::Image("golang:1.22".parse().unwrap()));
    assert_eq!(g.stages[3].base, Input::Scratch);
}

#[test]
fn the_target_prunes_what_it_does_not_need() {
    let g = plan(MULTI, &options());
    assert_eq!(g.order, [0, 3]);
    assert_eq!(g.pruned().map(|s| s.index).collect::<Vec<_>>(), [1, 2]);
    let g = plan(MULTI, &target("TEST"));
    assert_eq!(g.target, 1);
    assert_eq!(g.order, [0, 1]);
    let g = plan(MULTI, &target("docs"));
    assert_eq!(g.order, [2]);
}

#[test]
fn copy_from_by_name_index_image_and_scratch() {
    let src = "FROM a AS one\nFROM b\nCOPY --from=one /x /x\nCOPY --from=0 /y /y\nCOPY --from=nginx:1.27 /etc/nginx /n\nCOPY --from=scratch / /\n";
    let g = plan(src, &options());
    let inputs: Vec<&Input> = g.stages[1].steps.iter().map(|s| &s.inputs[0].input).collect();
    assert_eq!(
        inputs,
        [&Input::Stage(0), &Input::Stage(0), &Input::Image("nginx:1.27".parse().unwrap()), &Input::Scratch]
    );
    assert_eq!(g.stages[1].steps[1].inputs[0].written, "0");
    assert_eq!(g.stages[1].steps[1].inputs[0].usage, InputUse::CopyFrom);
    assert_eq!(
        g.stages[1].dependencies(),
        [Dependency { stage: 0, step: Some(0) }, Dependency { stage: 0, step: Some(1) }]
    );
    assert_eq!(
        g.images().iter().map(ToString::to_string).collect::<Vec<_>>(),
        ["docker.io/library/a:latest", "docker.io/library/b:latest", "docker.io/library/nginx:1.27"]
    );
}

#[test]
fn from_matches_only_earlier_stages_exactly() {
    // A stage named like an image shadows it for later FROM lines.
    let g = plan("FROM alpine AS alpine\nRUN x\nFROM alpine\n", &options());
    assert_eq!(g.stages[1].base, Input::Stage(0));
    assert_eq!(g.order, [0, 1]);
    // A FROM before the stage of that name is an image.
    let g = plan("FROM base\nFROM alpine AS base\n", &target("base"));
    assert_eq!(
        plan("FROM base\nFROM alpine AS base\n", &options()).stages[0].base,
        Input::Image("base".parse().unwrap())
    );
    assert_eq!(g.order, [1]);
}

#[test]
fn run_mounts_read_stages_by_name_only() {
    let src = "FROM a AS deps\nFROM b\nRUN --mount=type=cache,from=deps,target=/c,uid=$UID --mount=type=bind,from=busybox,target=/bb --mount=type=tmpfs,target=/t x\n";
    let g = plan(src, &options());
    let inputs = &g.stages[1].steps[0].inputs;
    assert_eq!(inputs.len(), 2);
    assert_eq!((inputs[0].usage, &inputs[0].input), (InputUse::Mount(0), &Input::Stage(0)));
    assert_eq!(
        (inputs[1].usage, &inputs[1].input),
        (InputUse::Mount(1), &Input::Image("busybox".parse().unwrap()))
    );
    assert_eq!(g.order, [0, 1]);
    // As in BuildKit, a number in `from=` is an image name, not a stage index.
    let g = plan("FROM a\nFROM b\nRUN --mount=from=0,target=/x true\n", &options());
    assert_eq!(g.stages[1].steps[0].inputs[0].input, Input::Image("0".parse().unwrap()));
}

#[test]
fn a_forward_copy_by_name_is_fine_when_not_needed() {
    // BuildKit resolves names over the whole file; reading a later stage only fails when dispatched.
    let g = plan("FROM a AS early\nCOPY --from=late / /\nFROM b AS late\n", &options());
    assert_eq!(g.stages[0].steps[0].inputs[0].input, Input::Stage(1));
    assert_eq!(g.order, [1]);
}

#[test]
fn platforms_come_from_from_lines_bases_and_the_target() {
    let mut o = options();
    o.target_platform = Some(Platform::parse("linux/arm64").unwrap());
    let g = plan(
        "FROM --platform=$BUILDPLATFORM golang AS build\nFROM build AS again\nFROM alpine\nCOPY --from=again / /\n",
        &o,
    );
    assert_eq!(g.stage_platform(0).to_string(), "linux/amd64");
    assert_eq!(g.stage_platform(1).to_string(), "linux/amd64");
    assert_eq!(g.stage_platform(2).to_string(), "linux/arm64");
    assert_eq!(g.stages[2].platform, None);
}

#[test]
fn named_contexts_replace_bases_inputs_and_stages() {
    let mut o = options();
    o.named_contexts = ["alpine".to_owned(), "src".to_owned(), "deps".to_owned()].into();
    let src = "FROM golang AS deps\nRUN go mod download\nFROM alpine:latest\nCOPY --from=src . /src\nCOPY --from=deps /go /go\n";
    let g = plan(src, &o);
    assert_eq!(g.stages[1].base, Input::Context("alpine".into()));
    assert_eq!(g.stages[1].steps[0].inputs[0].input, Input::Context("src".into()));
    // The stage named like a context is replaced by it: still a stage input, but none of its steps run.
    assert_eq!(g.stages[0].replaced_by.as_deref(), Some("deps"));
    assert!(g.stages[0].dependencies().is_empty());
    assert_eq!(g.contexts(), ["deps", "alpine", "src"]);
    assert!(g.images().is_empty(), "{:?}", g.images());
    // A context with a tag only matches that tag.
    let mut o = options();
    o.named_contexts = ["alpine:3.19".to_owned()].into();
    let g = plan("FROM alpine:3.19\nFROM alpine\n", &o);
    assert_eq!(g.stages[0].base, Input::Context("alpine:3.19".into()));
    assert_eq!(g.stages[1].base, Input::Image("alpine".parse().unwrap()));
}

#[test]
fn onbuild_triggers_of_a_base_stage_run_first_and_can_add_stages() {
    let src = "\
FROM busybox AS assets
RUN make assets
FROM alpine AS base
ONBUILD COPY --from=assets /out /assets
ONBUILD RUN echo triggered
FROM base
RUN echo own
";
    let g = plan(src, &options());
    assert_eq!(g.order, [0, 1, 2]);
    let steps = &g.stages[2].steps;
    assert_eq!(steps.len(), 3);
    assert_eq!(steps[0].trigger, Some(TriggerOrigin::Stage(1)));
    assert_eq!(steps[0].instruction.name(), "COPY");
    assert_eq!(steps[0].inputs[0].input, Input::Stage(0));
    assert_eq!(steps[1].instruction.name(), "RUN");
    assert_eq!(steps[2].trigger, None);
    // The base stage keeps its ONBUILD instructions (they go into its image config) and does not run them.
    assert!(g.stages[1].steps.iter().all(|s| s.instruction.name() == "ONBUILD" && s.trigger.is_none()));
}

#[test]
fn onbuild_triggers_of_an_image_are_applied_by_the_engine() {
    let src =
        "FROM busybox AS tools\nRUN make\nFROM scratch AS unrelated\nFROM node:22-onbuild\nRUN echo own\n";
    let mut g = plan(src, &options());
    assert_eq!(g.order, [2]);
    let grew = g
        .apply_onbuild(
            2,
            "node:22-onbuild",
            &["COPY --from=tools /bin/tool /usr/bin/".to_owned(), "RUN npm install".to_owned()],
        )
        .unwrap();
    assert!(grew);
    assert_eq!(g.order, [0, 2]);
    let steps = &g.stages[2].steps;
    assert_eq!(steps[0].trigger, Some(TriggerOrigin::Image("node:22-onbuild".into())));
    assert_eq!(steps[0].inputs[0].input, Input::Stage(0));
    assert_eq!(steps[1].instruction.name(), "RUN");
    assert_eq!(steps[2].trigger, None);
    assert!(!g.apply_onbuild(2, "x", &["RUN true".to_owned()]).unwrap());
    let err = g.apply_onbuild(2, "bad", &["FROM alpine".to_owned()]).unwrap_err();
    assert_eq!(err.to_string(), "invalid ONBUILD trigger \"FROM alpine\" of bad: FROM is not a command");
}

#[test]
fn steps_keep_instructions_unexpanded_and_expand_on_demand() {
    let g = plan("FROM x\nWORKDIR $GOPATH/src\n", &options());
    let step = &g.stages[0].steps[0];
    assert_eq!(step.instruction.original, "WORKDIR $GOPATH/src");
    let env = vec![("GOPATH", "/go")];
    let expanded = step.expand(&env).unwrap();
    let kiln_dockerfile::Command::Workdir(w) = expanded.command else { panic!() };
    assert_eq!(w.path.value, "/go/src");
}

#[test]
fn summary_lists_order_bases_dependencies_and_pruned_stages() {
    let g = plan(MULTI, &options());
    let s = g.summary();
    assert_eq!(s.stages.iter().map(|s| s.display_name.as_str()).collect::<Vec<_>>(), ["build", "stage-3"]);
    assert_eq!(s.pruned.iter().map(|s| s.index).collect::<Vec<_>>(), [1, 2]);
    assert_eq!(s.stages[0].base, "image docker.io/library/golang:1.22");
    let dep = &s.stages[1].dependencies[0];
    assert_eq!((dep.stage, dep.via, dep.line), (0, "COPY --from", 12));
    let json = serde_json::to_value(&s).unwrap();
    assert_eq!(json["target"]["index"], 3);
    assert_eq!(json["stages"][1]["platform"], "linux/amd64");
}
