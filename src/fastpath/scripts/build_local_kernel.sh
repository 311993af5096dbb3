#!/usr/bin/env bash
# Build the kernel checked out in the current directory (a kernel git tree) and write
# scripts/.env with KERNEL_PATH, MODULES_PATH and GITSHA, as the seed's manual loop expects:
#
#   cd /path/to/linux && /path/to/fastpath/scripts/build_local_kernel.sh [--config FILE] [--context CTX]
#   source ./scripts/.env
#
# Config: --config FILE, else the context's `kernel-config` key (when --context names one),
# else the tree's own: a fastpath lab tree builds with `fastpath lab build` (its
# fastpath_lab_defconfig), any other tree with its existing .config. A given config is copied
# to .config and completed with `make olddefconfig`. ccache is used when installed. The image
# and a modules tarball go to .fastpath-build/<sha12>/ in the tree. Exit 0 on success, 1 when
# the build fails (execute_bisection.sh maps that to 125, skip), 2 on bad usage.
set -euo pipefail

usage() { echo "usage: build_local_kernel.sh [--config FILE] [--context CTX.yaml] [-j N]" >&2; exit 2; }
CONFIG="" CONTEXT="" JOBS="$(nproc 2>/dev/null || echo 2)"
while [ $# -gt 0 ]; do
    case "$1" in
        --config) CONFIG="${2:?--config needs a file}"; shift 2 ;;
        --context) CONTEXT="${2:?--context needs a file}"; shift 2 ;;
        -j) JOBS="${2:?-j needs a number}"; shift 2 ;;
        -h|--help) sed -n '2,14p' "$0"; exit 0 ;;
        *) usage ;;
    esac
done
FASTPATH="${FASTPATH:-fastpath}"
command -v "${FASTPATH%% *}" >/dev/null 2>&1 || FASTPATH="python3 -m fastpath"
TREE="$(pwd)"
[ -f Makefile ] && [ -f Kconfig ] || { echo "build_local_kernel.sh: $TREE is not a kernel tree (no Makefile/Kconfig)" >&2; exit 2; }
ENV_FILE="${FASTPATH_ENV_FILE:-$TREE/scripts/.env}"
GITSHA="$(git rev-parse HEAD)"

if [ -z "$CONFIG" ] && [ -n "$CONTEXT" ]; then
    CONFIG="$(python3 -c 'import sys, yaml; print((yaml.safe_load(open(sys.argv[1])) or {}).get("kernel-config") or "")' "$CONTEXT")"
fi

echo "Building kernel for current commit ${GITSHA:0:12}..."
if [ -z "$CONFIG" ] && [ -f arch/x86/configs/fastpath_lab_defconfig ]; then
    # The lab's build: incremental, ccache, stamped with the commit (uname -v = #<sha12>).
    $FASTPATH lab build "$TREE" -j "$JOBS" --env > "$ENV_FILE.tmp" || { rm -f "$ENV_FILE.tmp"; exit 1; }
    mv "$ENV_FILE.tmp" "$ENV_FILE"
    echo "wrote $ENV_FILE"
    exit 0
fi

case "$(uname -m)" in
    x86_64) ARCH=x86_64; TARGET=bzImage; IMAGE=arch/x86/boot/bzImage ;;
    aarch64|arm64) ARCH=arm64; TARGET=Image.gz; IMAGE=arch/arm64/boot/Image.gz ;;
    *) echo "build_local_kernel.sh: unsupported build machine $(uname -m)" >&2; exit 2 ;;
esac
MAKE=(make -j"$JOBS" ARCH="$ARCH")
command -v ccache >/dev/null 2>&1 && MAKE+=("CC=ccache gcc")
if [ -n "$CONFIG" ]; then
    [ -f "$CONFIG" ] || { echo "build_local_kernel.sh: config $CONFIG: no such file" >&2; exit 2; }
    cp "$CONFIG" .config
elif [ ! -f .config ]; then
    echo "build_local_kernel.sh: no .config in $TREE; give --config FILE" >&2; exit 2
fi
OUT="$TREE/.fastpath-build/${GITSHA:0:12}"
mkdir -p "$OUT"
LOG="$OUT/build.log"
{
    "${MAKE[@]}" olddefconfig &&
    "${MAKE[@]}" "$TARGET" modules &&
    STAGE="$(mktemp -d)" &&
    "${MAKE[@]}" INSTALL_MOD_PATH="$STAGE" modules_install &&
    tar -cJf "$OUT/modules.tar.xz" -C "$STAGE" . &&
    rm -rf "$STAGE"
} >"$LOG" 2>&1 || { echo "build_local_kernel.sh: build failed: $(grep -m1 -E 'error:|Error ' "$LOG" || tail -n1 "$LOG") (log: $LOG)" >&2; exit 1; }
cp "$IMAGE" "$OUT/$(basename "$IMAGE")"
printf 'KERNEL_PATH=%s\nMODULES_PATH=%s\nGITSHA=%s\n' "$OUT/$(basename "$IMAGE")" "$OUT/modules.tar.xz" "$GITSHA" > "$ENV_FILE"
echo "wrote $ENV_FILE"
