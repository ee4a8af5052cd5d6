//! [`plan`]: builds the [`BuildGraph`] the way BuildKit's `dockerfile2llb` builds its dispatch states, and
//! [`BuildGraph::apply_onbuild`] for the ONBUILD triggers of base images that the engine resolves later.
//!
//! The steps, in BuildKit's order (so the first error reported is the one BuildKit reports):
//! 1. split the meta ARGs (before the first FROM) from the stages; compute the global scope;
//! 2. expand every FROM (image and `--platform`) with the global scope; match the base against the stages
//!    defined *before* it (exact, expanded name), then `scratch`;
//! 3. resolve `--target` (case-insensitive);
//! 4. resolve every `COPY --from` (stage name, case-insensitive, any position; stage index; else an image or
//!    named context) and `RUN --mount from=` (stage name only, as BuildKit) and look for circular
//!    dependencies through them;
//! 5. parse every remaining image reference (in every stage, needed or not) and match named contexts;
//! 6. prune: keep the stages the target reaches through bases and inputs, adding the ONBUILD triggers of
//!    base stages until nothing new is reached;
//! 7. check that each needed stage only reads stages defined before it.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use kiln_dockerfile::shell::{EmptyEnv, Lexer};
use kiln_dockerfile::{Command, Dockerfile, Instruction, Span, Token};
use kiln_oci::{Platform, Reference};

use crate::args::{GlobalArgs, is_builtin_arg, is_proxy_arg};
use crate::error::PlanError;
use crate::graph::{
    ArgBinding, ArgValue, BuildGraph, Input, InputUse, Stage, Step, StepInput, TriggerOrigin, expand_token,
};
use crate::mount::{mount_from, mount_target};

/// What a build asks for besides the Dockerfile.
#[derive(Debug, Clone)]
pub struct PlanOptions {
    /// `--target`: the stage to build (case-insensitive); `None` builds the last stage.
    pub target: Option<String>,
    /// `--build-arg NAME=VALUE`s (a bare `--build-arg NAME` is resolved from the environment by the caller).
    pub build_args: BTreeMap<String, String>,
    /// The names of `--build-context NAME=...`: a stage, base or `--from` whose name matches uses the
    /// named context (`NAME::os/arch` keys match one platform only).
    pub named_contexts: BTreeSet<String>,
    /// The platform the build runs on.
    pub build_platform: Platform,
    /// `--platform`: the platform to build for; `None` means the build platform.
    pub target_platform: Option<Platform>,
}

impl Default for PlanOptions {
    fn default() -> Self {
        PlanOptions {
            target: None,
            build_args: BTreeMap::new(),
            named_contexts: BTreeSet::new(),
            build_platform: Platform::host(),
            target_platform: None,
        }
    }
}

/// Plans a build of `dockerfile` (see the module docs for the rules and their order).
pub fn plan(dockerfile: Arc<Dockerfile>, options: &PlanOptions) -> Result<BuildGraph, PlanError> {
    let df = &dockerfile;
    let mut meta: Vec<&Instruction> = Vec::new();
    let mut groups: Vec<(&Instruction, Vec<&Instruction>)> = Vec::new();
    for inst in &df.instructions {
        match (&inst.command, groups.last_mut()) {
            (Command::From(_), _) => groups.push((inst, Vec::new())),
            (_, Some((_, rest))) => rest.push(inst),
            (_, None) => meta.push(inst),
        }
    }
    let Some(last) = groups.last() else { return Err(PlanError::NoStages { file: df.file().to_owned() }) };

    let target_platform = options.target_platform.clone().unwrap_or_else(|| options.build_platform.clone());
    let target_name = match &options.target {
        Some(t) if !t.is_empty() => t.clone(),
        _ => stage_name_of(last.0).unwrap_or_default(),
    };
    let mut global =
        GlobalArgs::predefined(&options.build_platform, &target_platform, &target_name, &options.build_args);
    let meta_args = meta_args(df, &meta, &options.build_args, &mut global)?;

    // 2. FROM lines, in order; a base matches only stages registered before it.
    let mut stages = Vec::with_capacity(groups.len());
    let mut by_name: BTreeMap<String, usize> = BTreeMap::new();
    let mut pending: Vec<Option<String>> = Vec::with_capacity(groups.len());
    for (index, (from_inst, _)) in groups.iter().enumerate() {
        let (stage, unresolved) =
            stage_header(df, index, from_inst, &global, &by_name, &target_platform, options)?;
        if let Some(n) = &stage.name {
            by_name.insert(n.clone(), index);
        }
        stages.push(stage);
        pending.push(unresolved);
    }

    // 3. The target.
    let target = match &options.target {
        Some(t) if !t.is_empty() => by_name.get(&t.to_lowercase()).copied().ok_or_else(|| {
            let names: Vec<&str> = stages.iter().filter_map(|s| s.name.as_deref()).collect();
            PlanError::UnknownTarget {
                target: t.clone(),
                suggestion: kiln_dockerfile::suggest(t, &names, true),
            }
        })?,
        _ => stages.len() - 1,
    };

    // 4. Steps and their inputs; circular dependencies.
    let resolver = Resolver {
        by_name: &by_name,
        count: stages.len(),
        contexts: &options.named_contexts,
        platform: &target_platform,
    };
    for (index, (_, rest)) in groups.iter().enumerate() {
        let mut steps = Vec::with_capacity(rest.len());
        for inst in rest {
            steps.push(resolver.step(df, inst, None, &options.build_args, &global)?);
        }
        stages[index].steps = steps;
    }
    check_cycles(df, &stages)?;

    // 5. Image references of bases and inputs (BuildKit parses them for every stage), named contexts.
    for (index, unresolved) in pending.into_iter().enumerate() {
        if let Some(name) = unresolved {
            let stage = &mut stages[index];
            stage.base = resolver.named(df, &name, stage.from.span, stage.platform.as_ref())?;
        }
    }

    let mut graph = BuildGraph {
        dockerfile: dockerfile.clone(),
        stages,
        target,
        order: Vec::new(),
        source_date_epoch: options
            .build_args
            .get("SOURCE_DATE_EPOCH")
            .cloned()
            .or_else(|| global.get("SOURCE_DATE_EPOCH").map(str::to_owned))
            .filter(|v| !v.is_empty()),
        global_args: global,
        meta_args,
        build_args: options.build_args.clone(),
        proxy_env: proxy_env(&options.build_args),
        frontend_options: options
            .build_args
            .iter()
            .filter(|(k, _)| k.starts_with("BUILDKIT_"))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
        unused_build_args: Vec::new(),
        build_platform: options.build_platform.clone(),
        target_platform,
        named_contexts: options.named_contexts.clone(),
    };
    // 6 and 7.
    graph.settle(&mut vec![false; graph.stages.len()])?;
    Ok(graph)
}

impl BuildGraph {
    /// Adds the ONBUILD triggers of stage `stage`'s base image (`triggers`: the image config's `OnBuild`
    /// list; `image`: its name, for diagnostics) as the first steps of the stage, as BuildKit does once it
    /// has resolved the image. Call it once per stage, before dispatching the stage.
    ///
    /// A trigger may read other stages (`COPY --from`), so the set of needed stages can grow: returns
    /// whether it did (then [`BuildGraph::order`] has new entries to build first).
    pub fn apply_onbuild(
        &mut self,
        stage: usize,
        image: &str,
        triggers: &[String],
    ) -> Result<bool, PlanError> {
        if stage >= self.stages.len() {
            return Err(PlanError::NoSuchStage(stage));
        }
        if triggers.is_empty() {
            return Ok(false);
        }
        let by_name = self.names();
        let resolver = Resolver {
            by_name: &by_name,
            count: self.stages.len(),
            contexts: &self.named_contexts,
            platform: &self.target_platform,
        };
        let mut steps = Vec::with_capacity(triggers.len());
        for trigger in triggers {
            let file = parse_trigger(image, trigger)?;
            let inst = file.instructions[1].clone();
            let file = Arc::new(file);
            let origin = Some(TriggerOrigin::Image(image.to_owned()));
            steps.push(resolver.step(&file, &inst, origin, &self.build_args, &self.global_args)?);
        }
        let s = &mut self.stages[stage];
        steps.append(&mut s.steps);
        s.steps = steps;
        let before = self.order.clone();
        let mut done: Vec<bool> = self.stages.iter().map(|s| s.needed).collect();
        self.settle(&mut done)?;
        Ok(self.order != before)
    }

    /// Lower-cased stage name → index of the last stage with that name.
    fn names(&self) -> BTreeMap<String, usize> {
        self.stages.iter().filter_map(|s| s.name.clone().map(|n| (n, s.index))).collect()
    }

    /// Prunes to what the target reaches, adding base-stage ONBUILD triggers to reached stages (`done`
    /// marks stages whose triggers were added) until nothing new is reached; then checks that every needed
    /// stage reads only earlier stages, and computes the build order and the unused build args.
    fn settle(&mut self, done: &mut [bool]) -> Result<(), PlanError> {
        let by_name = self.names();
        loop {
            let reached = self.reachable();
            let mut grew = false;
            for i in 0..self.stages.len() {
                if !reached[i] || done[i] {
                    continue;
                }
                done[i] = true;
                let Input::Stage(base) = self.stages[i].base else { continue };
                if self.stages[i].replaced_by.is_some() {
                    continue;
                }
                let resolver = Resolver {
                    by_name: &by_name,
                    count: self.stages.len(),
                    contexts: &self.named_contexts,
                    platform: &self.target_platform,
                };
                let mut triggers = Vec::new();
                for step in self.stages[base].steps.iter().filter(|s| s.trigger.is_none()) {
                    let Command::Onbuild(inner) = &step.instruction.command else { continue };
                    let origin = Some(TriggerOrigin::Stage(base));
                    triggers.push(resolver.step(
                        &step.file,
                        inner,
                        origin,
                        &self.build_args,
                        &self.global_args,
                    )?);
                }
                grew |= triggers.iter().any(|t| t.inputs.iter().any(|i| matches!(i.input, Input::Stage(_))));
                let stage = &mut self.stages[i];
                triggers.append(&mut stage.steps);
                stage.steps = triggers;
            }
            if !grew {
                for (stage, needed) in self.stages.iter_mut().zip(reached) {
                    stage.needed = needed;
                }
                break;
            }
        }
        self.check_defined_before()?;
        self.order = self.stages.iter().filter(|s| s.needed).map(|s| s.index).collect();
        self.unused_build_args = self.unused_args();
        Ok(())
    }

    /// Which stages the target reaches through bases and stage inputs.
    fn reachable(&self) -> Vec<bool> {
        let mut seen = vec![false; self.stages.len()];
        let mut todo = vec![self.target];
        while let Some(i) = todo.pop() {
            if std::mem::replace(&mut seen[i], true) {
                continue;
            }
            todo.extend(self.stages[i].dependencies().iter().map(|d| d.stage).filter(|&s| !seen[s]));
        }
        seen
    }

    /// BuildKit dispatches needed stages in file order and refuses to read one not dispatched yet.
    fn check_defined_before(&self) -> Result<(), PlanError> {
        for stage in self.stages.iter().filter(|s| s.needed && s.replaced_by.is_none()) {
            for step in &stage.steps {
                for input in &step.inputs {
                    let Input::Stage(j) = input.input else { continue };
                    if j < stage.index {
                        continue;
                    }
                    let message = match input.usage {
                        InputUse::CopyFrom => format!(
                            "cannot copy from stage {:?}, it needs to be defined before current stage {:?}",
                            input.written,
                            stage.display_name()
                        ),
                        InputUse::Mount(m) => format!(
                            "cannot mount from stage {:?} to {:?}, stage needs to be defined before current command",
                            input.written,
                            run_mount_target(&step.instruction, m)
                        ),
                    };
                    return Err(step.file.error_at(message, step.instruction.span).into());
                }
            }
        }
        Ok(())
    }

    fn unused_args(&self) -> Vec<String> {
        let mut declared: BTreeSet<&str> = self.meta_args.iter().map(|(n, _)| n.as_str()).collect();
        for stage in self.stages.iter().filter(|s| s.needed && s.replaced_by.is_none()) {
            declared.extend(stage.steps.iter().flat_map(|s| &s.args).map(|a| a.name.as_str()));
        }
        self.build_args
            .keys()
            .filter(|k| !declared.contains(k.as_str()) && !is_builtin_arg(k))
            .cloned()
            .collect()
    }
}

fn stage_name_of(inst: &Instruction) -> Option<String> {
    match &inst.command {
        Command::From(f) => f.stage.as_ref().map(|s| s.name.clone()),
        _ => None,
    }
}

/// BuildKit's `buildMetaArgs`: each meta ARG takes its `--build-arg`, else its default expanded with the
/// scope so far, else stays unset.
fn meta_args(
    df: &Dockerfile,
    meta: &[&Instruction],
    build_args: &BTreeMap<String, String>,
    global: &mut GlobalArgs,
) -> Result<Vec<(String, Option<String>)>, PlanError> {
    let mut out = Vec::new();
    for inst in meta {
        let Command::Arg(arg) = &inst.command else { continue };
        for def in &arg.args {
            let name = def.key.value.clone();
            let value = match (build_args.get(&name), &def.value) {
                (Some(v), _) => Some(v.clone()),
                (None, Some(default)) => Some(expand_token(df, default, &*global)?),
                (None, None) => None,
            };
            if let Some(v) = &value {
                global.set(&name, v.clone());
            }
            out.push((name, value));
        }
    }
    Ok(out)
}

/// A stage from its FROM line: name, expanded base, platform, a base stage registered before it, and the
/// named context replacing it. The second value is a base name still to resolve as an image or context.
fn stage_header(
    df: &Dockerfile,
    index: usize,
    inst: &Instruction,
    global: &GlobalArgs,
    by_name: &BTreeMap<String, usize>,
    target_platform: &Platform,
    options: &PlanOptions,
) -> Result<(Stage, Option<String>), PlanError> {
    let Command::From(from) = &inst.command else {
        return Err(df.error_at("expected a FROM instruction", inst.span).into());
    };
    let expanded = df.expand(inst, global)?;
    let Command::From(x) = expanded.command else {
        return Err(df.error_at("expected a FROM instruction", inst.span).into());
    };
    let platform = match (&from.platform, &x.platform) {
        (Some(raw), Some(value)) => Some(parse_platform(df, raw, &value.value)?),
        _ => None,
    };
    let name = from.stage.as_ref().map(|s| s.name.clone());
    let base_name = x.image.value;
    let replaced_by = name.as_deref().and_then(|n| {
        let p = platform.as_ref().unwrap_or(target_platform);
        context_key(&options.named_contexts, n, p)
    });
    let (base, unresolved) = match by_name.get(&base_name) {
        Some(&i) => (Input::Stage(i), None),
        None if base_name == "scratch" => (Input::Scratch, None),
        None => (Input::Scratch, Some(base_name.clone())),
    };
    let stage = Stage {
        index,
        name,
        from: inst.clone(),
        base_name,
        base,
        platform,
        replaced_by,
        steps: Vec::new(),
        needed: false,
    };
    Ok((stage, unresolved))
}

fn parse_platform(df: &Dockerfile, raw: &Token, value: &str) -> Result<Platform, PlanError> {
    if value.is_empty() {
        return Err(df
            .error_at(format!("empty platform value from expression {}", raw.value), raw.span)
            .into());
    }
    Platform::parse(value).map_err(|e| {
        df.error_at(format!("failed to parse platform {}: {}: {}", raw.value, e.input, e.reason), raw.span)
            .into()
    })
}

/// The `--build-context` key matching `name` (BuildKit's `NamedContext`: the familiar form of the
/// normalized reference without `:latest`, first with `::<platform>`, then alone).
fn context_key(contexts: &BTreeSet<String>, name: &str, platform: &Platform) -> Option<String> {
    if contexts.is_empty() {
        return None;
    }
    let r = Reference::parse(name).ok()?;
    let familiar = r.familiar();
    let key = familiar.strip_suffix(":latest").unwrap_or(&familiar);
    let with_platform = format!("{key}::{platform}");
    [with_platform.as_str(), key].into_iter().find(|k| contexts.contains(*k)).map(str::to_owned)
}

/// Resolves names in steps: stages by name or index, else images and named contexts.
struct Resolver<'a> {
    by_name: &'a BTreeMap<String, usize>,
    count: usize,
    contexts: &'a BTreeSet<String>,
    /// The platform named contexts are looked up for when the name has no platform of its own.
    platform: &'a Platform,
}

impl Resolver<'_> {
    /// One instruction as a step: ARG bindings and the inputs of `COPY --from` / `RUN --mount from=`.
    fn step(
        &self,
        file: &Arc<Dockerfile>,
        inst: &Instruction,
        trigger: Option<TriggerOrigin>,
        build_args: &BTreeMap<String, String>,
        global: &GlobalArgs,
    ) -> Result<Step, PlanError> {
        let mut args = Vec::new();
        let mut inputs = Vec::new();
        match &inst.command {
            Command::Arg(a) => {
                for def in &a.args {
                    let name = def.key.value.clone();
                    let value = match (build_args.get(&name), &def.value, global.get(&name)) {
                        (Some(v), _, _) => ArgValue::BuildArg(v.clone()),
                        (None, Some(d), _) => ArgValue::Default(d.clone()),
                        (None, None, Some(g)) => ArgValue::Global(g.to_owned()),
                        (None, None, None) => ArgValue::Unset,
                    };
                    args.push(ArgBinding { name, value });
                }
            }
            Command::Copy(c) => {
                if let Some(from) = &c.from {
                    let input = self.copy_from(file, from, inst)?;
                    inputs.push(StepInput { usage: InputUse::CopyFrom, written: from.value.clone(), input });
                }
            }
            Command::Run(r) => {
                for (k, m) in r.mounts.iter().enumerate() {
                    let from = mount_from(&m.spec.value).unwrap_or_default();
                    if from.is_empty() {
                        continue;
                    }
                    let input = match self.by_name.get(&from.to_lowercase()) {
                        Some(&i) => Input::Stage(i),
                        None => self.named(file, &from, inst.span, None)?,
                    };
                    inputs.push(StepInput { usage: InputUse::Mount(k), written: from, input });
                }
            }
            _ => {}
        }
        Ok(Step { instruction: inst.clone(), file: file.clone(), trigger, args, inputs })
    }

    /// BuildKit's `toCommand` for `COPY --from`: no variables; a number is a stage index; a stage name
    /// (anywhere in the file); else an image or named context.
    fn copy_from(&self, file: &Dockerfile, from: &Token, inst: &Instruction) -> Result<Input, PlanError> {
        let lex = Lexer::new(file.escape());
        if lex.process_word(&from.value, &EmptyEnv).map(|e| e.value).as_deref() != Ok(from.value.as_str()) {
            return Err(file
                .error_at(
                    "variable expansion is not supported for --from, define a new stage with FROM using ARG from global scope as a workaround",
                    from.span,
                )
                .into());
        }
        if let Some(index) = go_atoi(&from.value) {
            return match usize::try_from(index) {
                Ok(i) if i < self.count => Ok(Input::Stage(i)),
                _ => Err(file.error_at(format!("invalid stage index {index}"), inst.span).into()),
            };
        }
        match self.by_name.get(&from.value.to_lowercase()) {
            Some(&i) => Ok(Input::Stage(i)),
            None => self.named(file, &from.value, inst.span, None),
        }
    }

    /// A name that is not a stage: `scratch`, a named context, or an image reference.
    fn named(
        &self,
        file: &Dockerfile,
        name: &str,
        span: Span,
        platform: Option<&Platform>,
    ) -> Result<Input, PlanError> {
        if name == "scratch" {
            return Ok(Input::Scratch);
        }
        let reference = Reference::parse(name).map_err(|e| {
            PlanError::from(file.error_at(format!("failed to parse stage name {name:?}: {}", e.reason), span))
        })?;
        Ok(match context_key(self.contexts, name, platform.unwrap_or(self.platform)) {
            Some(key) => Input::Context(key),
            None => Input::Image(reference),
        })
    }
}

/// Go's `strconv.Atoi`: optional sign and decimal digits fitting in 64 bits.
fn go_atoi(s: &str) -> Option<i64> {
    let digits = s.strip_prefix(['+', '-']).unwrap_or(s);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// BuildKit's `validateCircularDependency`: a depth-first walk over the `COPY --from` / `RUN --mount`
/// edges (bases cannot loop: they only name earlier stages).
fn check_cycles(df: &Dockerfile, stages: &[Stage]) -> Result<(), PlanError> {
    fn visit(
        stages: &[Stage],
        i: usize,
        visited: &mut [bool],
        path: &mut [bool],
        first: Option<(usize, usize)>,
    ) -> Option<(usize, usize)> {
        if std::mem::replace(&mut visited[i], true) {
            return None;
        }
        path[i] = true;
        for (si, step) in stages[i].steps.iter().enumerate() {
            for input in &step.inputs {
                let Input::Stage(dep) = input.input else { continue };
                let here = first.or(Some((i, si)));
                if path[dep] {
                    return here;
                }
                if let Some(found) = visit(stages, dep, visited, path, here) {
                    return Some(found);
                }
            }
        }
        path[i] = false;
        None
    }
    let mut visited = vec![false; stages.len()];
    let mut path = vec![false; stages.len()];
    for stage in stages {
        if let Some((s, step)) = visit(stages, stage.index, &mut visited, &mut path, None) {
            let span = stages[s].steps[step].instruction.span;
            let message = format!("circular dependency detected on stage: {}", stage.display_name());
            return Err(df.error_at(message, span).into());
        }
    }
    Ok(())
}

/// The proxy `--build-arg`s as RUN sees them: each kind under both its upper- and lower-case name, the
/// value of the last spelling in sorted order winning (BuildKit's `proxyEnvFromBuildArgs` + `proxyEnvList`).
fn proxy_env(build_args: &BTreeMap<String, String>) -> Vec<(String, String)> {
    let mut kinds: BTreeMap<String, String> = BTreeMap::new();
    for (k, v) in build_args.iter().filter(|(k, _)| is_proxy_arg(k)) {
        kinds.insert(k.to_uppercase(), v.clone());
    }
    let order = crate::args::PROXY_ARGS;
    let mut out = Vec::new();
    for kind in order {
        if let Some(v) = kinds.get(kind).filter(|v| !v.is_empty()) {
            out.push((kind.to_owned(), v.clone()));
            out.push((kind.to_lowercase(), v.clone()));
        }
    }
    out
}

/// The `target` of `--mount` number `m` of a RUN, as written (for a message).
fn run_mount_target(inst: &Instruction, m: usize) -> String {
    let Command::Run(r) = &inst.command else { return String::new() };
    r.mounts.get(m).and_then(|mount| mount_target(&mount.spec.value)).unwrap_or_default()
}

/// Parses an image's ONBUILD trigger on its own, as BuildKit re-parses the expression.
fn parse_trigger(image: &str, trigger: &str) -> Result<Dockerfile, PlanError> {
    let invalid = |message: String| PlanError::InvalidTrigger {
        image: image.to_owned(),
        trigger: trigger.to_owned(),
        message,
    };
    // kiln-dockerfile parses whole Dockerfiles, which must start with FROM; the trigger is line 2.
    let text = format!("FROM scratch\n{trigger}\n");
    let file =
        kiln_dockerfile::parse_named(&format!("{image} ONBUILD"), &text).map_err(|e| invalid(e.message()))?;
    match file.instructions.get(1).map(|i| &i.command) {
        Some(Command::From(_)) => Err(invalid("FROM is not a command".into())),
        Some(_) if file.instructions.len() == 2 => Ok(file),
        _ => Err(invalid("onbuild trigger should be a single expression".into())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atoi_like_go() {
        assert_eq!(go_atoi("0"), Some(0));
        assert_eq!(go_atoi("+1"), Some(1));
        assert_eq!(go_atoi("-1"), Some(-1));
        assert_eq!(go_atoi("007"), Some(7));
        assert_eq!(go_atoi("1a"), None);
        assert_eq!(go_atoi(""), None);
        assert_eq!(go_atoi("99999999999999999999"), None);
    }

    #[test]
    fn proxy_env_has_both_spellings() {
        let mut args = BTreeMap::new();
        args.insert("HTTP_PROXY".to_owned(), "upper".to_owned());
        args.insert("http_proxy".to_owned(), "lower".to_owned());
        args.insert("no_proxy".to_owned(), "localhost".to_owned());
        args.insert("OTHER".to_owned(), "x".to_owned());
        let env = proxy_env(&args);
        let pairs: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        assert_eq!(
            pairs,
            [
                ("HTTP_PROXY", "lower"),
                ("http_proxy", "lower"),
                ("NO_PROXY", "localhost"),
                ("no_proxy", "localhost")
            ]
        );
    }
}
