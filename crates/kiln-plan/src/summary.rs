//! [`GraphSummary`]: a serializable view of a [`BuildGraph`] for people and scripts (`kiln plan`): which
//! stages run in which order, what each starts from, what it depends on and why, and what was pruned.

use serde::Serialize;

use crate::graph::{BuildGraph, Input, InputUse, Stage};

/// The build graph as `kiln plan` prints it.
#[derive(Debug, Clone, Serialize)]
pub struct GraphSummary {
    /// The Dockerfile's name.
    pub file: String,
    /// The target stage.
    pub target: StageSummary,
    /// The platform the result is for.
    pub target_platform: String,
    /// The platform the build runs on.
    pub build_platform: String,
    /// The stages to build, in build order.
    pub stages: Vec<StageSummary>,
    /// The stages not built.
    pub pruned: Vec<StageSummary>,
    /// The global args (predefined and meta ARGs) as FROM lines see them.
    pub global_args: Vec<(String, String)>,
    /// `--build-arg`s nothing consumes.
    pub unused_build_args: Vec<String>,
}

/// One stage in a [`GraphSummary`].
#[derive(Debug, Clone, Serialize)]
pub struct StageSummary {
    /// The stage index.
    pub index: usize,
    /// `AS` name, if any.
    pub name: Option<String>,
    /// `name` or `stage-N`.
    pub display_name: String,
    /// 1-based line of the FROM instruction.
    pub line: u32,
    /// What it starts from: `scratch`, `stage NAME`, `image REF`, `context NAME`.
    pub base: String,
    /// The platform it builds for.
    pub platform: String,
    /// The named context replacing the stage, if any.
    pub replaced_by: Option<String>,
    /// Number of instructions after FROM (ONBUILD triggers included).
    pub steps: usize,
    /// The stages it depends on.
    pub dependencies: Vec<DependencySummary>,
    /// Images and named contexts it reads besides its base (`COPY --from`, `RUN --mount from=`).
    pub other_inputs: Vec<String>,
}

/// One dependency in a [`StageSummary`].
#[derive(Debug, Clone, Serialize)]
pub struct DependencySummary {
    /// The stage depended on.
    pub stage: usize,
    /// Its display name.
    pub name: String,
    /// `FROM`, `COPY --from` or `RUN --mount`.
    pub via: &'static str,
    /// 1-based line of the instruction that creates the dependency.
    pub line: u32,
}

impl BuildGraph {
    /// The serializable view of the graph.
    pub fn summary(&self) -> GraphSummary {
        GraphSummary {
            file: self.dockerfile.file().to_owned(),
            target: self.stage_summary(self.target_stage()),
            target_platform: self.target_platform.to_string(),
            build_platform: self.build_platform.to_string(),
            stages: self.needed().map(|s| self.stage_summary(s)).collect(),
            pruned: self.pruned().map(|s| self.stage_summary(s)).collect(),
            global_args: self.global_args.vars().to_vec(),
            unused_build_args: self.unused_build_args.clone(),
        }
    }

    fn stage_summary(&self, stage: &Stage) -> StageSummary {
        let dependencies = stage
            .dependencies()
            .into_iter()
            .map(|d| {
                let (via, line) = match d.step.map(|i| &stage.steps[i]) {
                    None => ("FROM", stage.line()),
                    Some(step) => {
                        let mount = step.inputs.iter().any(|i| matches!(i.usage, InputUse::Mount(_)));
                        (if mount { "RUN --mount" } else { "COPY --from" }, step.line())
                    }
                };
                let name = self.stages.get(d.stage).map(Stage::display_name).unwrap_or_default();
                DependencySummary { stage: d.stage, name, via, line }
            })
            .collect();
        let other_inputs = stage
            .steps
            .iter()
            .flat_map(|s| &s.inputs)
            .filter(|i| !matches!(i.input, Input::Stage(_)))
            .map(|i| i.input.describe(self))
            .collect();
        StageSummary {
            index: stage.index,
            name: stage.name.clone(),
            display_name: stage.display_name(),
            line: stage.line(),
            base: stage.base.describe(self),
            platform: self.stage_platform(stage.index).to_string(),
            replaced_by: stage.replaced_by.clone(),
            steps: stage.steps.len(),
            dependencies,
            other_inputs,
        }
    }
}
