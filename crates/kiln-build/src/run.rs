//! RUN: the command line BuildKit would run (shell or exec form, heredoc scripts), its cache key, and its
//! execution in the sandbox over the stage's snapshots; the overlay upper directory becomes the layer.
//!
//! A command that exits non-zero fails the step with its status and the last lines of its output, and
//! commits nothing (the upper directory is removed).

use std::collections::{BTreeMap, VecDeque};

use kiln_dockerfile::CommandLine;
use kiln_dockerfile::instruction::{Network, Run, RunScript, Security};
use kiln_layer::TreeSource;
use kiln_plan::Step;
use kiln_sandbox::{Mount, Rootfs, RunSpec, User};

use crate::error::{BuildError, OUTPUT_TAIL_LINES, RunFailure};
use crate::events::BuildEvent;
use crate::key::Ingredients;
use crate::request::NetworkMode;
use crate::stage::{Op, Shared, StageOutput, argv};
use crate::state::{StageState, commit_layer, remove_tree};

/// BuildKit's `runCommandString`: `|N K=V ... argv` when build args are declared.
fn run_history(argv: &[String], state: &StageState) -> String {
    let mut pairs: Vec<(String, String)> = Vec::new();
    for (name, value) in &state.args {
        let v = state.env_var(name).map(str::to_owned).or_else(|| value.clone()).unwrap_or_default();
        match pairs.iter_mut().find(|(k, _)| k == name) {
            Some(p) => p.1 = v,
            None => pairs.push((name.clone(), v)),
        }
    }
    let mut parts: Vec<String> = Vec::new();
    if !pairs.is_empty() {
        parts.push(format!("|{}", pairs.len()));
        parts.extend(pairs.into_iter().map(|(k, v)| format!("{k}={v}")));
    }
    parts.extend(argv.iter().cloned());
    format!("RUN {}", parts.join(" "))
}

/// Runs (or takes from the cache) one RUN step.
pub(crate) fn run_step(
    sh: &Shared<'_>,
    state: &mut StageState,
    stage: usize,
    index: usize,
    step: &Step,
    run: &Run,
    done: &BTreeMap<usize, StageOutput>,
) -> Result<(), BuildError> {
    if run.security == Security::Insecure {
        return Err(BuildError::Invalid(
            "RUN --security=insecure is not supported: kiln's sandbox has no privileged mode".into(),
        ));
    }
    if let Some(d) = run.devices.first() {
        return Err(BuildError::Invalid(format!(
            "RUN --device={} is not supported: kiln has no CDI devices",
            d.name
        )));
    }
    let mut extra = Vec::new();
    let command = match run.script() {
        RunScript::Plain => argv(&run.command, state),
        RunScript::Shebang { name, data } => {
            let target = format!("/dev/pipes/{name}");
            extra.push(Mount::File {
                target: target.clone(),
                contents: data.into_bytes(),
                mode: 0o755,
                uid: 0,
                gid: 0,
            });
            argv(&CommandLine::Shell(target), state)
        }
        RunScript::Body(body) | RunScript::Script(body) => argv(&CommandLine::Shell(body), state),
    };
    let network = match run.network {
        Network::Default => sh.req.network,
        Network::None => NetworkMode::None,
        Network::Host => NetworkMode::Host,
    };

    let mut ingredients = Ingredients::default();
    ingredients.add("command", serde_json::to_string(&command).unwrap_or_default());
    for m in &extra {
        if let Mount::File { target, contents, .. } = m {
            ingredients.add(format!("heredoc {target}"), contents);
        }
    }
    let declared: Vec<&str> = state.args.iter().map(|(k, _)| k.as_str()).collect();
    for (k, v) in &state.env {
        let name = if declared.contains(&k.as_str()) { format!("build arg {k}") } else { format!("env {k}") };
        ingredients.add(name, v);
    }
    ingredients
        .add("user", state.user())
        .add("workdir", state.workdir())
        .add("network", format!("{network:?}"));
    let prepared = crate::mounts::prepare(sh, state, step, &run.mounts, &mut ingredients, done)?;
    extra.extend(prepared.mounts.iter().cloned());
    let history = run_history(&command, state);

    let vertex = sh.vertices.steps.get(&(stage, index));
    let op = Op {
        kind: "RUN",
        ingredients,
        files: Vec::new(),
        stage,
        step: index,
        vertex,
        history,
        suffix: true,
        detached: false,
    };
    sh.cached_op(state, op, |state| {
        let lower =
            sh.lease.lower_dirs(state.diff_ids()).map_err(BuildError::store("preparing the rootfs"))?;
        let dir = sh.scratch_dir("run");
        let (upper, work) = (dir.join("upper"), dir.join("work"));
        for d in [&upper, &work] {
            crate::state::mkdirs(d)?;
        }
        let mut env: Vec<String> = state.env.iter().map(|(k, v)| format!("{k}={v}")).collect();
        for (k, v) in &sh.graph.proxy_env {
            if state.env_var(k).is_none() {
                env.push(format!("{k}={v}"));
            }
        }
        env.extend(prepared.env.iter().map(|(k, v)| format!("{k}={v}")));
        let mut spec = RunSpec::new(
            Rootfs::Overlay { lower, upper: upper.clone(), work: work.clone() },
            command.clone(),
        );
        spec.env = env;
        spec.cwd = state.workdir();
        spec.user = User::Spec(state.user());
        spec.network = match network {
            NetworkMode::Host => kiln_sandbox::Network::Host,
            NetworkMode::None => kiln_sandbox::Network::None,
        };
        let mut mounts = extra.clone();
        mounts.sort_by_key(|m| m.target().matches('/').count());
        spec.mounts = mounts;
        let step_id = vertex.map_or(0, |v| v.id);
        let mut tail: VecDeque<String> = VecDeque::new();
        sh.runs.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let outcome = sh.sandbox.run(&spec, sh.cancel.flag(), &mut |line: &[u8]| {
            let line = String::from_utf8_lossy(line).into_owned();
            if tail.len() == OUTPUT_TAIL_LINES {
                tail.pop_front();
            }
            tail.push_back(line.clone());
            sh.emit(BuildEvent::Log { step_id, line });
        });
        drop(prepared);
        let outcome = match outcome {
            Ok(o) => o,
            Err(e) => {
                remove_tree(&dir);
                return Err(e.into());
            }
        };
        if !outcome.status.success() {
            remove_tree(&dir);
            let (status, exit_code) = match outcome.status {
                kiln_sandbox::ExitStatus::Code(c) => (format!("exit code: {c}"), Some(c)),
                kiln_sandbox::ExitStatus::Signal(s) => (format!("signal: {s}"), None),
            };
            return Err(BuildError::RunFailed(Box::new(RunFailure {
                command: command.join(" "),
                status,
                exit_code,
                output_tail: tail.into_iter().collect(),
            })));
        }
        remove_tree(&work);
        let diff_id =
            commit_layer(sh.lease, &upper, TreeSource::OverlayUpper, sh.epoch, state.chain.as_ref());
        remove_tree(&dir);
        diff_id
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use kiln_oci::{Digest, ImageConfig};

    #[test]
    fn history_lists_declared_args_like_buildkit() {
        let mut s = StageState {
            config: ImageConfig::default(),
            env: vec![("PATH".into(), "/bin".into()), ("V".into(), "2".into())],
            args: vec![("V".into(), Some("1".into())), ("EMPTY".into(), None)],
            key: Digest::sha256_of(b""),
            chain: None,
            layer_times: Vec::new(),
            base_history: Vec::new(),
            cmd_set: false,
            parent: String::new(),
        };
        let argv = vec!["/bin/sh".to_owned(), "-c".to_owned(), "make".to_owned()];
        assert_eq!(run_history(&argv, &s), "RUN |2 V=2 EMPTY= /bin/sh -c make");
        s.args.clear();
        assert_eq!(run_history(&argv, &s), "RUN /bin/sh -c make");
    }
}
