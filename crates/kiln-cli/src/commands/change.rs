//! `--change` for `kiln import`: Dockerfile-style `CMD`, `ENTRYPOINT`, `ENV`, `EXPOSE`, `LABEL`,
//! `STOPSIGNAL`, `USER`, `VOLUME` and `WORKDIR` lines (the set `docker import --change` accepts), parsed and
//! expanded by kiln-dockerfile and applied to the image's container config.

use std::collections::BTreeMap;

use anyhow::{Context, bail};
use kiln_dockerfile::{Command, CommandLine};
use kiln_oci::{ContainerConfig, Empty};

/// Applies each change line to `config`, in order.
pub(crate) fn apply(changes: &[String], config: &mut ContainerConfig) -> anyhow::Result<()> {
    for line in changes {
        let source = format!("FROM scratch\n{line}\n");
        let dockerfile = kiln_dockerfile::parse_named("--change", &source)
            .map_err(|e| anyhow::anyhow!("{e}"))
            .with_context(|| format!("--change {line:?}"))?;
        for instruction in dockerfile.instructions.iter().skip(1) {
            let env: BTreeMap<String, String> = config
                .env
                .iter()
                .flatten()
                .filter_map(|e| e.split_once('=').map(|(k, v)| (k.to_owned(), v.to_owned())))
                .collect();
            let expanded = dockerfile.expand(instruction, &env).map_err(|e| anyhow::anyhow!("{e}"))?;
            apply_one(expanded.command, config).with_context(|| format!("--change {line:?}"))?;
        }
    }
    Ok(())
}

fn argv(command: CommandLine) -> Vec<String> {
    command.with_shell(&["/bin/sh".to_owned(), "-c".to_owned()])
}

fn apply_one(command: Command, config: &mut ContainerConfig) -> anyhow::Result<()> {
    match command {
        Command::Cmd(c) => config.cmd = Some(argv(c.command)),
        Command::Entrypoint(e) => config.entrypoint = Some(argv(e.command)),
        Command::Env(e) => {
            for kv in e.vars {
                config.set_env_var(&kv.key.value, &kv.value.value);
            }
        }
        Command::Label(l) => {
            let labels = config.labels.get_or_insert_with(BTreeMap::new);
            for kv in l.labels {
                labels.insert(kv.key.value, kv.value.value);
            }
        }
        Command::Expose(e) => {
            let ports = config.exposed_ports.get_or_insert_with(BTreeMap::new);
            for token in e.ports {
                for port in kiln_dockerfile::parse_port(&token.value)
                    .map_err(|e| anyhow::anyhow!("EXPOSE {}: {e}", token.value))?
                {
                    ports.insert(port, Empty {});
                }
            }
        }
        Command::User(u) => config.user = Some(u.user.value),
        Command::Workdir(w) => config.working_dir = Some(w.path.value),
        Command::Volume(v) => {
            let volumes = config.volumes.get_or_insert_with(BTreeMap::new);
            for path in v.paths {
                volumes.insert(path.value, Empty {});
            }
        }
        Command::StopSignal(s) => config.stop_signal = Some(s.signal.value),
        other => bail!(
            "{} is not allowed in --change (CMD ENTRYPOINT ENV EXPOSE LABEL STOPSIGNAL USER VOLUME WORKDIR are)",
            other.name()
        ),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changes_apply_like_docker_import() {
        let mut c = ContainerConfig::default();
        let changes = [
            r#"CMD ["/bin/sh", "-c", "echo hi"]"#,
            "ENTRYPOINT /init",
            "ENV PATH=/bin A=\"two words\"",
            "ENV B=$A",
            "EXPOSE 80 53/udp",
            "LABEL org.example=yes",
            "USER app:app",
            "WORKDIR /srv",
            "VOLUME /data",
            "STOPSIGNAL SIGTERM",
        ]
        .map(str::to_owned);
        apply(&changes, &mut c).unwrap();
        assert_eq!(c.cmd.as_deref().unwrap(), ["/bin/sh", "-c", "echo hi"]);
        assert_eq!(c.entrypoint.as_deref().unwrap(), ["/bin/sh", "-c", "/init"]);
        assert_eq!(c.env_var("A"), Some("two words"));
        assert_eq!(c.env_var("B"), Some("two words"));
        assert!(c.exposed_ports.as_ref().unwrap().contains_key("53/udp"));
        assert_eq!(c.user.as_deref(), Some("app:app"));
        let err = apply(&["RUN true".to_owned()], &mut ContainerConfig::default()).unwrap_err();
        assert!(format!("{err:#}").contains("RUN is not allowed"), "{err:#}");
    }
}
