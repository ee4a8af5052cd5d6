//! The planned build: [`BuildGraph`] (all stages, the target, the stages it needs in build order, the
//! global args) and what the build engine dispatches from it: each [`Stage`]'s base ([`Input`]), platform
//! and [`Step`]s (unexpanded instructions, with the value every ARG takes and the inputs of every
//! `COPY --from` / `RUN --mount from=`).

use std::collections::BTreeMap;
use std::sync::Arc;

use kiln_dockerfile::shell::{Env, Lexer};
use kiln_dockerfile::{Dockerfile, ErrorKind, Expanded, Instruction, ParseError, Span, Token};
use kiln_oci::{Platform, Reference};
use serde::Serialize;

use crate::args::{GlobalArgs, NON_ENV_ARGS};

/// Something a stage starts from or reads files from.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Input {
    /// `scratch`: an empty filesystem (and, as a base, an empty config).
    Scratch,
    /// The result of the stage with this index: its filesystem, and as a base also its image config and
    /// its environment *including the ARG values it declared* (BuildKit keeps them in the stage's state).
    Stage(usize),
    /// A named build context (`--build-context NAME=...`), by the name it was given.
    Context(String),
    /// An image to resolve (local store first, then a registry), normalized.
    Image(Reference),
}

impl Input {
    /// A short description: `scratch`, `stage 1`, `context NAME`, `image REF`.
    pub fn describe(&self, graph: &BuildGraph) -> String {
        match self {
            Input::Scratch => "scratch".to_owned(),
            Input::Stage(i) => match graph.stages.get(*i) {
                Some(s) => format!("stage {}", s.display_name()),
                None => format!("stage {i}"),
            },
            Input::Context(n) => format!("context {n}"),
            Input::Image(r) => format!("image {r}"),
        }
    }
}

/// How a step reads an [`Input`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(tag = "kind", content = "mount", rename_all = "kebab-case")]
pub enum InputUse {
    /// `COPY --from=...`.
    CopyFrom,
    /// `RUN --mount ... from=...`: the index of the `--mount` flag among the instruction's mounts.
    Mount(usize),
}

/// One input of a step: what the Dockerfile wrote and what it resolved to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepInput {
    /// How the step reads it.
    pub usage: InputUse,
    /// The name as written (`--from=builder`, `from=0`, `from=alpine:3.20`).
    pub written: String,
    /// What it refers to.
    pub input: Input,
}

/// The value an ARG declaration takes in a stage (BuildKit's `dispatchArg`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ArgValue {
    /// A `--build-arg` of this name was given: this value, used as is (the default is not evaluated).
    BuildArg(String),
    /// The default written in the Dockerfile, not yet expanded: it is expanded at dispatch time with the
    /// stage's environment (image ENV, earlier ENV and ARGs) by [`Step::arg_value`].
    Default(Token),
    /// No default and no `--build-arg`: the value of the same name in the global scope (a meta ARG or a
    /// predefined platform arg such as `TARGETARCH`).
    Global(String),
    /// Declared, but nothing gives it a value: the name is known (not reported as undefined) but unset.
    Unset,
}

/// One name declared by an ARG instruction, and where its value comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArgBinding {
    /// The name.
    pub name: String,
    /// Where its value comes from.
    pub value: ArgValue,
}

impl ArgBinding {
    /// Whether a set value becomes an environment variable of later RUN steps (false only for BuildKit's
    /// SBOM scan options).
    pub fn in_env(&self) -> bool {
        !NON_ENV_ARGS.contains(&self.name.as_str())
    }
}

/// Where an ONBUILD trigger came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TriggerOrigin {
    /// An `ONBUILD` instruction of the base stage with this index.
    Stage(usize),
    /// The `OnBuild` list of the base image's config (image name as the engine gave it).
    Image(String),
}

/// One instruction of a stage, unexpanded, with what the build engine needs to dispatch it.
///
/// Expand it at dispatch time with the stage's current environment ([`Step::expand`]); for ARG use
/// [`Step::arg_value`] on each of [`Step::args`] instead, because a default is evaluated only when no
/// `--build-arg` replaces it.
#[derive(Debug, Clone)]
pub struct Step {
    /// The instruction as parsed (values unexpanded).
    pub instruction: Instruction,
    /// The file the instruction comes from: the Dockerfile, or for a trigger of a base image the trigger
    /// text parsed on its own. Expansion and diagnostics use it.
    pub file: Arc<Dockerfile>,
    /// `Some` for an ONBUILD trigger that runs at the start of the stage.
    pub trigger: Option<TriggerOrigin>,
    /// For ARG: each declared name and its value source, in order. Empty otherwise.
    pub args: Vec<ArgBinding>,
    /// For COPY `--from` and RUN `--mount from=`: what the step reads. Empty otherwise.
    pub inputs: Vec<StepInput>,
}

impl Step {
    /// The instruction with its values expanded the way BuildKit's dispatcher expands them, with `env` (the
    /// stage's environment: image ENV, ENV instructions, ARG values in scope).
    pub fn expand(&self, env: &dyn Env) -> Result<Expanded, ParseError> {
        self.file.expand(&self.instruction, env)
    }

    /// The value `binding` (one of [`Step::args`]) takes, evaluating a default with `env` (the stage's
    /// environment before this ARG). `None` when it stays unset.
    pub fn arg_value(&self, binding: &ArgBinding, env: &dyn Env) -> Result<Option<String>, ParseError> {
        match &binding.value {
            ArgValue::BuildArg(v) | ArgValue::Global(v) => Ok(Some(v.clone())),
            ArgValue::Unset => Ok(None),
            ArgValue::Default(token) => expand_token(&self.file, token, env).map(Some),
        }
    }

    /// 1-based line of the instruction in [`Step::file`].
    pub fn line(&self) -> u32 {
        self.instruction.start_line
    }
}

/// Expands one word with BuildKit's lexer and the file's escape token; errors point at the word.
pub(crate) fn expand_token(file: &Dockerfile, token: &Token, env: &dyn Env) -> Result<String, ParseError> {
    Lexer::new(file.escape()).process_word(&token.value, env).map(|e| e.value).map_err(|e| {
        ParseError::new(ErrorKind::Expansion(Box::new(e)), file.file(), file.source(), token.span)
    })
}

/// A stage dependency and the reason for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Dependency {
    /// The stage depended on.
    pub stage: usize,
    /// `None` for the base (`FROM <stage>`), else the index into [`Stage::steps`] of the step reading it.
    pub step: Option<usize>,
}

/// One build stage: a `FROM` and the instructions up to the next one.
#[derive(Debug, Clone)]
pub struct Stage {
    /// 0-based position in the Dockerfile (what `COPY --from=<index>` counts).
    pub index: usize,
    /// `AS name`, lower-cased (stage names are case-insensitive).
    pub name: Option<String>,
    /// The FROM instruction.
    pub from: Instruction,
    /// FROM's image or stage name after expansion with the global args.
    pub base_name: String,
    /// What the stage starts from.
    pub base: Input,
    /// `FROM --platform=...` after expansion; `None` when not given (see [`BuildGraph::stage_platform`]).
    pub platform: Option<Platform>,
    /// When a named build context has the stage's name (`--build-context NAME=...`), it replaces the whole
    /// stage: BuildKit uses the context as the stage's result and runs none of its steps.
    pub replaced_by: Option<String>,
    /// The instructions after FROM, in order, with ONBUILD triggers of the base stage (or image, once the
    /// engine applied them with [`BuildGraph::apply_onbuild`]) first.
    pub steps: Vec<Step>,
    /// Whether the target needs this stage (false: pruned, not built).
    pub needed: bool,
}

impl Stage {
    /// The name BuildKit shows: the `AS` name, or `stage-N`.
    pub fn display_name(&self) -> String {
        self.name.clone().unwrap_or_else(|| format!("stage-{}", self.index))
    }

    /// The stages this one reads: its base stage and every stage-valued step input, in step order.
    /// A stage replaced by a named context depends on nothing.
    pub fn dependencies(&self) -> Vec<Dependency> {
        if self.replaced_by.is_some() {
            return Vec::new();
        }
        let mut out = Vec::new();
        if let Input::Stage(s) = self.base {
            out.push(Dependency { stage: s, step: None });
        }
        for (i, step) in self.steps.iter().enumerate() {
            for input in &step.inputs {
                if let Input::Stage(s) = input.input {
                    out.push(Dependency { stage: s, step: Some(i) });
                }
            }
        }
        out
    }

    /// 1-based line of the FROM instruction.
    pub fn line(&self) -> u32 {
        self.from.start_line
    }
}

/// The stage graph of one build.
#[derive(Debug, Clone)]
pub struct BuildGraph {
    pub(crate) dockerfile: Arc<Dockerfile>,
    /// Every stage in file order (the index is the stage index).
    pub stages: Vec<Stage>,
    /// The stage whose result is the build's result.
    pub target: usize,
    /// The stages the target needs, each after the stages it depends on (file order, which BuildKit
    /// requires to be topological). Stages without a path between them can be built in parallel; see
    /// [`Stage::dependencies`].
    pub order: Vec<usize>,
    /// The global scope: predefined args and meta ARGs, as FROM lines see them.
    pub global_args: GlobalArgs,
    /// The ARGs before the first FROM, with the value each ended up with (`None`: unset).
    pub meta_args: Vec<(String, Option<String>)>,
    /// `--build-arg`s as given.
    pub build_args: BTreeMap<String, String>,
    /// Proxy `--build-arg`s (any case) that BuildKit hands to every RUN without a declaration; they are not
    /// part of history or cache keys unless a stage declares them with ARG.
    pub proxy_env: Vec<(String, String)>,
    /// `--build-arg BUILDKIT_*` frontend options (e.g. `BUILDKIT_CACHE_MOUNT_NS`).
    pub frontend_options: BTreeMap<String, String>,
    /// `SOURCE_DATE_EPOCH` from a `--build-arg` or a meta ARG (BuildKit's `getBuildArgValue`), when set and
    /// not empty.
    pub source_date_epoch: Option<String>,
    /// `--build-arg` names that nothing in the needed stages declares (sorted).
    pub unused_build_args: Vec<String>,
    /// The platform the build runs on.
    pub build_platform: Platform,
    /// The platform the result is for (`--platform`, else the build platform).
    pub target_platform: Platform,
    pub(crate) named_contexts: std::collections::BTreeSet<String>,
}

impl BuildGraph {
    /// The Dockerfile the graph was planned from.
    pub fn dockerfile(&self) -> &Arc<Dockerfile> {
        &self.dockerfile
    }

    /// The target stage.
    pub fn target_stage(&self) -> &Stage {
        &self.stages[self.target]
    }

    /// The stages to build, in [`BuildGraph::order`].
    pub fn needed(&self) -> impl Iterator<Item = &Stage> {
        self.order.iter().map(|&i| &self.stages[i])
    }

    /// The stages the target does not need (not built), in file order.
    pub fn pruned(&self) -> impl Iterator<Item = &Stage> {
        self.stages.iter().filter(|s| !s.needed)
    }

    /// The stage called `name` (case-insensitive; the last one when several share it, as in BuildKit).
    pub fn find_stage(&self, name: &str) -> Option<&Stage> {
        let lower = name.to_lowercase();
        self.stages.iter().rev().find(|s| s.name.as_deref() == Some(lower.as_str()))
    }

    /// The platform stage `index` builds for: its base stage's when it starts from a stage, else its
    /// `FROM --platform`, else the target platform. (For an image base without `--platform`, BuildKit may
    /// still pick the image's own platform when no `--platform` was requested; that needs the image.)
    pub fn stage_platform(&self, index: usize) -> Platform {
        let mut i = index;
        // Bases always point to earlier stages, so this walk ends.
        while let Some(stage) = self.stages.get(i) {
            match (&stage.base, &stage.platform) {
                (Input::Stage(b), _) if *b < i => i = *b,
                (_, Some(p)) => return p.clone(),
                _ => break,
            }
        }
        self.target_platform.clone()
    }

    /// Every image the needed stages read (bases, `COPY --from`, `RUN --mount from=`), without repeats, in
    /// build order: the engine can resolve them all before the first step runs.
    pub fn images(&self) -> Vec<Reference> {
        let mut out: Vec<Reference> = Vec::new();
        let mut add = |r: &Reference| {
            if !out.contains(r) {
                out.push(r.clone());
            }
        };
        for stage in self.needed() {
            if stage.replaced_by.is_some() {
                continue;
            }
            if let Input::Image(r) = &stage.base {
                add(r);
            }
            for input in stage.steps.iter().flat_map(|s| &s.inputs) {
                if let Input::Image(r) = &input.input {
                    add(r);
                }
            }
        }
        out
    }

    /// Every named context the needed stages read (or that replace them), without repeats.
    pub fn contexts(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for stage in self.needed() {
            let mut names: Vec<&String> = Vec::new();
            match &stage.replaced_by {
                Some(n) => names.push(n),
                None => {
                    let inputs = stage.steps.iter().flat_map(|s| &s.inputs).map(|i| &i.input);
                    for input in std::iter::once(&stage.base).chain(inputs) {
                        if let Input::Context(n) = input {
                            names.push(n);
                        }
                    }
                }
            }
            for n in names {
                if !out.contains(n) {
                    out.push(n.clone());
                }
            }
        }
        out
    }

    /// BuildKit-style warning for [`BuildGraph::unused_build_args`], when there are any.
    pub fn unused_build_args_warning(&self) -> Option<String> {
        (!self.unused_build_args.is_empty()).then(|| {
            format!("One or more build-args [{}] were not consumed", self.unused_build_args.join(" "))
        })
    }

    /// The source span of stage `index`'s FROM line (for diagnostics).
    pub fn from_span(&self, index: usize) -> Option<Span> {
        self.stages.get(index).map(|s| s.from.span)
    }
}
