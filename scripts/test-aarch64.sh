#!/usr/bin/env bash
# Build the workspace for aarch64-unknown-linux-gnu and run the whole test suite
# (unit tests, the file-driven suite in every mode, the JIT) under qemu-user
# emulation on an x86-64 Debian/Ubuntu host. Needs root for apt and binfmt_misc.
#
#   scripts/test-aarch64.sh                 # everything
#   scripts/test-aarch64.sh --test programs # extra arguments go to `cargo test`
#
# The file-driven suite (tests/programs.rs) starts the `bp` binary directly, so
# the kernel must know how to run aarch64 executables: the script registers
# qemu-aarch64 with binfmt_misc (mounting it if needed) and sets QEMU_LD_PREFIX
# so that the emulated dynamic loader finds the aarch64 libc.
set -euo pipefail
cd "$(dirname "$0")/.."

TARGET=aarch64-unknown-linux-gnu
SYSROOT=/usr/aarch64-linux-gnu

need_apt=0
command -v qemu-aarch64-static >/dev/null 2>&1 || need_apt=1
command -v aarch64-linux-gnu-gcc >/dev/null 2>&1 || need_apt=1
[ -d "$SYSROOT/lib" ] || need_apt=1
if [ "$need_apt" = 1 ]; then
    apt-get update
    DEBIAN_FRONTEND=noninteractive apt-get install -y qemu-user-static gcc-aarch64-linux-gnu libc6-dev-arm64-cross
fi

rustup target add "$TARGET"

# binfmt_misc: let the kernel run aarch64 binaries through qemu.
if [ ! -e /proc/sys/fs/binfmt_misc/register ]; then
    mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc || true
fi
if [ -e /proc/sys/fs/binfmt_misc/register ] && [ ! -e /proc/sys/fs/binfmt_misc/qemu-aarch64 ]; then
    conf=""
    for f in /usr/lib/binfmt.d/qemu-aarch64.conf /usr/lib/binfmt.d/qemu-aarch64-static.conf; do
        [ -f "$f" ] && conf="$f" && break
    done
    if [ -n "$conf" ]; then
        # The conf file holds the registration string; drop the 'P' (preserve
        # argv[0]) flag handling differences by using it as shipped.
        grep -v '^#' "$conf" | head -1 > /proc/sys/fs/binfmt_misc/register || true
    fi
fi
if [ ! -e /proc/sys/fs/binfmt_misc/qemu-aarch64 ]; then
    echo "warning: qemu-aarch64 is not registered with binfmt_misc;" \
         "tests that start the bp binary will fail" >&2
fi

export QEMU_LD_PREFIX="$SYSROOT"
export CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER=aarch64-linux-gnu-gcc
export CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_RUNNER="qemu-aarch64-static -L $SYSROOT"
export CC_aarch64_unknown_linux_gnu=aarch64-linux-gnu-gcc
export AR_aarch64_unknown_linux_gnu=aarch64-linux-gnu-ar
# A separate target directory keeps the host build intact.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-target/aarch64}"

echo "host: $(uname -m); testing $TARGET under $(qemu-aarch64-static --version | head -1)"
cargo test --target "$TARGET" --no-fail-fast "$@"
