//! Lints the files or directories given and prints hadolint-shaped JSON (a development aid for
//! `bench/lint-compare.sh` without building the whole CLI).

#![allow(clippy::print_stdout)]

fn main() {
    let paths: Vec<std::path::PathBuf> = std::env::args_os().skip(1).map(Into::into).collect();
    let files = kiln_lint::batch::discover(&paths).unwrap_or_default();
    let config = kiln_lint::Config::default();
    let reports: Vec<kiln_lint::Report> =
        kiln_lint::batch::lint_files(&files, None, &config, &kiln_lint::batch::ContextMode::None)
            .into_iter()
            .filter_map(Result::ok)
            .collect();
    print!(
        "{}",
        kiln_lint::format::render(
            kiln_lint::format::Format::Json,
            &reports,
            kiln_lint::format::TtyOptions::default()
        )
    );
}
