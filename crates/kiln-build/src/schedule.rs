//! Runs a DAG of stages with as much parallelism as the dependencies allow, stopping at the first failure.
//!
//! The scheduler knows nothing about Dockerfiles: a stage is an index with a list of prerequisite indexes,
//! and `run` turns a stage plus its prerequisites' outputs into an output. Stages whose prerequisites are
//! all done start at once on their own thread (bounded by `max_parallel`); when one fails, the shared
//! [`Cancel`] flag is raised so running stages can stop early, no new stage starts, and the first error is
//! returned.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, mpsc};

/// A cancellation flag shared by every running stage; raised on the first failure or on interruption.
#[derive(Debug, Clone, Default)]
pub(crate) struct Cancel(Arc<AtomicBool>);

impl Cancel {
    /// A new, lowered flag.
    pub(crate) fn new() -> Self {
        Self::default()
    }

    /// The flag itself (what the sandbox polls).
    pub(crate) fn flag(&self) -> &AtomicBool {
        &self.0
    }

    /// Raises the flag.
    pub(crate) fn cancel(&self) {
        self.0.store(true, Ordering::SeqCst);
    }

    /// True once the flag is raised.
    pub(crate) fn is_cancelled(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}

/// Why the scheduler stopped without finishing every stage.
#[derive(Debug)]
pub(crate) enum ScheduleError<E> {
    /// A stage failed; its error is the first one seen.
    Stage(E),
    /// The graph names a prerequisite that is not a stage, or has a cycle.
    InvalidGraph(String),
    /// The cancel flag was raised from outside before every stage finished.
    Cancelled,
}

/// Runs every stage in `deps` (stage → prerequisites) and returns each stage's output.
///
/// `run(stage, inputs, cancel)` receives the outputs of the stage's prerequisites by index. It is called on a
/// scoped thread, at most `max_parallel` at a time.
pub(crate) fn run_stages<T, E, F>(
    deps: &BTreeMap<usize, Vec<usize>>,
    max_parallel: usize,
    cancel: &Cancel,
    run: F,
) -> Result<BTreeMap<usize, T>, ScheduleError<E>>
where
    T: Clone + Send + Sync,
    E: Send,
    F: Fn(usize, &BTreeMap<usize, T>, &Cancel) -> Result<T, E> + Sync,
{
    for (stage, prereqs) in deps {
        if let Some(missing) = prereqs.iter().find(|p| !deps.contains_key(p)) {
            return Err(ScheduleError::InvalidGraph(format!(
                "stage {stage} depends on unknown stage {missing}"
            )));
        }
    }
    let max_parallel = max_parallel.max(1);
    let mut done: BTreeMap<usize, T> = BTreeMap::new();
    let mut running = 0usize;
    let mut started: Vec<usize> = Vec::new();
    let mut first_error = None;
    let (tx, rx) = mpsc::channel::<(usize, Result<T, E>)>();

    std::thread::scope(|scope| {
        loop {
            if first_error.is_none() && !cancel.is_cancelled() {
                let ready: Vec<usize> = deps
                    .iter()
                    .filter(|(s, prereqs)| {
                        !started.contains(s) && prereqs.iter().all(|p| done.contains_key(p))
                    })
                    .map(|(s, _)| *s)
                    .collect();
                for stage in ready {
                    if running >= max_parallel {
                        break;
                    }
                    let inputs: BTreeMap<usize, T> =
                        deps[&stage].iter().map(|p| (*p, done[p].clone())).collect();
                    let tx = tx.clone();
                    let run = &run;
                    started.push(stage);
                    running += 1;
                    scope.spawn(move || {
                        let result = run(stage, &inputs, cancel);
                        // The receiver outlives every sender inside this scope.
                        let _ = tx.send((stage, result));
                    });
                }
            }
            if running == 0 {
                break;
            }
            let Ok((stage, result)) = rx.recv() else { break };
            running -= 1;
            match result {
                Ok(output) => {
                    done.insert(stage, output);
                }
                Err(e) => {
                    cancel.cancel();
                    first_error.get_or_insert(e);
                }
            }
        }
    });

    if let Some(e) = first_error {
        return Err(ScheduleError::Stage(e));
    }
    if done.len() < deps.len() {
        if cancel.is_cancelled() {
            return Err(ScheduleError::Cancelled);
        }
        return Err(ScheduleError::InvalidGraph("the stage graph has a cycle".to_owned()));
    }
    Ok(done)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;
    use std::time::Duration;

    fn graph(edges: &[(usize, &[usize])]) -> BTreeMap<usize, Vec<usize>> {
        edges.iter().map(|(s, d)| (*s, d.to_vec())).collect()
    }

    #[test]
    fn runs_in_dependency_order_and_passes_outputs() {
        let deps = graph(&[(0, &[]), (1, &[0]), (2, &[0, 1])]);
        let out = run_stages::<String, String, _>(&deps, 4, &Cancel::new(), |s, inputs, _| {
            let joined: Vec<String> = inputs.values().cloned().collect();
            Ok(format!("{s}({})", joined.join(",")))
        })
        .unwrap();
        assert_eq!(out[&2], "2(0(),1(0()))");
    }

    #[test]
    fn independent_stages_overlap_in_time() {
        let deps = graph(&[(0, &[]), (1, &[]), (2, &[])]);
        let active = Mutex::new((0usize, 0usize)); // (now, max)
        run_stages::<(), (), _>(&deps, 3, &Cancel::new(), |_, _, _| {
            {
                let mut a = active.lock().unwrap();
                a.0 += 1;
                a.1 = a.1.max(a.0);
            }
            std::thread::sleep(Duration::from_millis(200));
            active.lock().unwrap().0 -= 1;
            Ok(())
        })
        .unwrap();
        assert_eq!(active.lock().unwrap().1, 3, "all three stages ran at the same time");
    }

    #[test]
    fn parallelism_is_bounded() {
        let deps = graph(&[(0, &[]), (1, &[]), (2, &[]), (3, &[])]);
        let active = Mutex::new((0usize, 0usize));
        run_stages::<(), (), _>(&deps, 2, &Cancel::new(), |_, _, _| {
            {
                let mut a = active.lock().unwrap();
                a.0 += 1;
                a.1 = a.1.max(a.0);
            }
            std::thread::sleep(Duration::from_millis(20));
            active.lock().unwrap().0 -= 1;
            Ok(())
        })
        .unwrap();
        assert_eq!(active.lock().unwrap().1, 2);
    }

    #[test]
    fn first_failure_cancels_the_rest_and_skips_dependents() {
        let deps = graph(&[(0, &[]), (1, &[]), (2, &[0])]);
        let ran = Mutex::new(Vec::new());
        let err = run_stages::<(), String, _>(&deps, 2, &Cancel::new(), |s, _, cancel| {
            ran.lock().unwrap().push(s);
            if s == 0 {
                return Err("stage 0 failed".into());
            }
            while !cancel.is_cancelled() {
                std::thread::sleep(Duration::from_millis(5));
            }
            Ok(())
        })
        .unwrap_err();
        assert!(matches!(err, ScheduleError::Stage(ref e) if e == "stage 0 failed"));
        assert!(!ran.lock().unwrap().contains(&2), "a dependent of a failed stage never starts");
    }

    #[test]
    fn cycles_and_unknown_stages_are_reported() {
        let cyc = graph(&[(0, &[1]), (1, &[0])]);
        let err = run_stages::<(), (), _>(&cyc, 2, &Cancel::new(), |_, _, _| Ok(())).unwrap_err();
        assert!(matches!(err, ScheduleError::InvalidGraph(ref m) if m.contains("cycle")));
        let unknown = graph(&[(0, &[7])]);
        let err = run_stages::<(), (), _>(&unknown, 2, &Cancel::new(), |_, _, _| Ok(())).unwrap_err();
        assert!(matches!(err, ScheduleError::InvalidGraph(ref m) if m.contains("unknown stage 7")));
    }
}
