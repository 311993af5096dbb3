#!/usr/bin/env bash
# For `git bisect run`: build the checked-out commit, then test it with `fastpath bisect run`.
#
#   cd /path/to/linux
#   git bisect start; git bisect good $GOOD_SHA; git bisect bad $BAD_SHA
#   git bisect run /path/to/fastpath/scripts/execute_bisection.sh /path/to/bisection_context.yaml
#
# Exit status for git: 0 GOOD, 1 BAD, 125 SKIP (also: the build failed), 128 ERROR (stop the
# bisection: SUT unreachable, store unwritable, bad usage). Nothing else, ever: any other
# status of a step is mapped to 128, since git would read 2..127 as BAD.
set -uo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
CTX="${1:-}"
[ -n "$CTX" ] && [ -f "$CTX" ] || { echo "execute_bisection.sh: usage: execute_bisection.sh CONTEXT.yaml (got '${CTX}')" >&2; exit 128; }
CTX="$(cd "$(dirname "$CTX")" && pwd)/$(basename "$CTX")"
FASTPATH="${FASTPATH:-fastpath}"
command -v "${FASTPATH%% *}" >/dev/null 2>&1 || FASTPATH="python3 -m fastpath"
ENV_FILE="${FASTPATH_ENV_FILE:-$(pwd)/scripts/.env}"
export FASTPATH_ENV_FILE="$ENV_FILE"

rm -f "$ENV_FILE"
if ! "$HERE/build_local_kernel.sh" --context "$CTX"; then
    echo "Result: SKIP: commit $(git rev-parse --short=12 HEAD) does not build."
    echo "fastpath bisect run exited with status 125"
    exit 125
fi
# shellcheck disable=SC1090
. "$ENV_FILE"
echo "Executing benchmark for bisect-${GITSHA:0:12}..."
$FASTPATH bisect run --context "$CTX" --kernel "$KERNEL_PATH" ${MODULES_PATH:+--modules "$MODULES_PATH"} --gitsha "$GITSHA"
status=$?
case "$status" in
    0|1|125|128) ;;
    *) echo "execute_bisection.sh: fastpath bisect run exited with unexpected status $status; stopping the bisection" >&2
       status=128 ;;
esac
echo "fastpath bisect run exited with status $status"
exit "$status"
