#!/usr/bin/env bash
# `make test-aarch64`: the engine and HailoRT-binding tests on arm64, the robots' architecture
# (Raspberry Pi 5, Jetson), under user-mode emulation on this x86_64 machine (issue 13 item 6).
#
#   tools/test_aarch64.sh [STEP...]     STEP: rootfs venv engine hailo record (default: all)
#
# 1. rootfs  an arm64 Debian root file system in build/aarch64/rootfs, made by Debian's
#            `debootstrap --arch=arm64 --foreign` and its second stage run inside the rootfs
#            under qemu-aarch64-static (binfmt_misc). Cached: build/aarch64/rootfs.stamp holds
#            the recipe, a second run with the same recipe reuses the rootfs.
# 2. venv    /opt/feagi-venv inside the rootfs: aarch64 wheels from PyPI (--only-binary, so
#            nothing is compiled under emulation) of the pins in requirements/common.txt that
#            the engine and the binding need (PY_PACKAGES). No ROS wheels. Cached by
#            build/aarch64/venv.stamp (the pins); another pin rebuilds the venv.
# 3. engine  pytest feagi_hailo_ros/test/engine inside the rootfs; tests that need the ROS
#            layer skip themselves there (rclpy is absent).
# 4. hailo   pytest feagi_hailo_ros/test/hailo inside the rootfs; the libhailort stand-ins are
#            compiled by the rootfs' own aarch64 gcc.
# 5. record  `feagi-hailo run obstacle_avoidance --bursts 200 --input-rate 0.05 --seed 1
#            --record` on the host (x86_64, $HOST_PYTHON) and in the rootfs (aarch64); the two
#            JSON-lines records must be identical byte for byte.
#
# Needs root (debootstrap, chroot, mount). Installs debootstrap, qemu-user-static and
# binfmt-support with apt-get when they are missing. Every step prints its wall time; the last
# lines are a summary. Exit status is non-zero when any step fails.
#
# Environment: HOST_PYTHON (the x86 venv's python, default .venv/jazzy/bin/python),
# AARCH64_BUILD (default build/aarch64), AARCH64_SUITE (default bookworm, Python 3.11),
# AARCH64_MIRROR (default http://deb.debian.org/debian), AARCH64_PYTEST_ARGS (extra pytest args).
#
# Why binfmt and chroot rather than `qemu-aarch64-static -L ROOTFS python`: -L only redirects the
# first program's loader and file look-ups; every program it starts (debootstrap's second stage,
# gcc for the stand-ins, pytest's subprocesses) would be exec'd as an x86 binary and fail. With
# binfmt_misc the kernel hands any aarch64 ELF to qemu, inside the chroot too. Debian registers
# qemu-aarch64 with the F flag (interpreter opened at registration), so the chroot needs no copy
# of qemu; one is still copied into the rootfs for kernels registered without F.

set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${AARCH64_BUILD:-$ROOT/build/aarch64}
ROOTFS=$BUILD/rootfs
SUITE=${AARCH64_SUITE:-bookworm}
MIRROR=${AARCH64_MIRROR:-http://deb.debian.org/debian}
HOST_PYTHON=${HOST_PYTHON:-$ROOT/.venv/jazzy/bin/python}
VENV=/opt/feagi-venv
# Debian packages of the rootfs: the interpreter, venv/pip, gcc for the stand-ins, TLS roots
# for PyPI.
DEB_PACKAGES=python3,python3-venv,gcc,libc6-dev,ca-certificates
# PyPI packages of the venv, pinned by requirements/common.txt: what the engine and the binding
# import, their test tools, and the optional ONNX pair (a robot may run the onnxruntime
# integrator; without them those engine tests would only skip).
PY_PACKAGES=(numpy numba llvmlite PyYAML pytest hypothesis onnx onnxruntime)
RECORD_ARGS=(run obstacle_avoidance --bursts 200 --input-rate 0.05 --seed 1 --quiet)

STEPS=("$@")
[ ${#STEPS[@]} -eq 0 ] && STEPS=(rootfs venv engine hailo record)
declare -A RESULT TIME
ORDER=()

# colcon, ament and catkin_pkg (what rosdep crawls with) skip a folder holding COLCON_IGNORE, so
# no workspace tool walks the arm64 root file system (its /proc is mounted while tests run: a
# crawl of the checkout, e.g. test_standins.py's, never ended).
mkdir -p "$BUILD" && touch "$BUILD/COLCON_IGNORE"

die() { echo "test_aarch64: error: $*" >&2; exit 1; }
log() { echo "== test_aarch64: $*"; }
want() { local s; for s in "${STEPS[@]}"; do [ "$s" = "$1" ] && return 0; done; return 1; }
for s in "${STEPS[@]}"; do
    case $s in rootfs|venv|engine|hailo|record) ;; *) die "unknown step '$s' (rootfs venv engine hailo record)";; esac
done

# ---- prerequisites -------------------------------------------------------------------------
[ "$(id -u)" -eq 0 ] || die "needs root (debootstrap, chroot and mount); run it as root or with sudo"
[ "$(uname -m)" = x86_64 ] || die "meant for an x86_64 host (this is $(uname -m)); on arm64 run pytest directly"

if want record; then  # fail now, not after the tests
    [ -x "$HOST_PYTHON" ] || die "no host python at $HOST_PYTHON for the x86 record (run make setup, or set HOST_PYTHON)"
fi

missing=()
command -v debootstrap >/dev/null || missing+=(debootstrap)
command -v qemu-aarch64-static >/dev/null || missing+=(qemu-user-static)
command -v update-binfmts >/dev/null || missing+=(binfmt-support)
if [ ${#missing[@]} -gt 0 ]; then
    command -v apt-get >/dev/null || die "missing ${missing[*]} and no apt-get to install them"
    log "installing ${missing[*]} with apt-get"
    apt-get update -qq || die "apt-get update failed"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null \
        || die "apt-get install ${missing[*]} failed"
    for tool in debootstrap qemu-aarch64-static update-binfmts; do
        command -v $tool >/dev/null || die "$tool is still missing after apt-get install ${missing[*]}"
    done
fi

BINFMT=/proc/sys/fs/binfmt_misc
if [ ! -e $BINFMT/register ]; then
    mount -t binfmt_misc binfmt_misc $BINFMT 2>/dev/null \
        || die "binfmt_misc is not mounted and cannot be mounted here ($BINFMT); the rootfs cannot run"
fi
if [ -e $BINFMT/qemu-aarch64 ]; then
    # Registered but switched off (update-binfmts --enable takes that for "already enabled").
    grep -qx enabled $BINFMT/qemu-aarch64 || echo 1 > $BINFMT/qemu-aarch64 || true
else
    update-binfmts --enable qemu-aarch64 >/dev/null 2>&1 || true
fi
grep -qx enabled $BINFMT/qemu-aarch64 2>/dev/null \
    || die "no enabled binfmt_misc entry qemu-aarch64 (try: update-binfmts --enable qemu-aarch64)"

# ---- mounts inside the rootfs, always undone ---------------------------------------------
MOUNTED=()
unmount_all() {
    local i
    for ((i = ${#MOUNTED[@]} - 1; i >= 0; i--)); do
        umount "${MOUNTED[i]}" 2>/dev/null || umount -l "${MOUNTED[i]}" 2>/dev/null || true
    done
    MOUNTED=()
}
trap unmount_all EXIT
trap 'exit 130' INT TERM

mounts_under() { awk -v p="$1" '$2 == p || index($2, p "/") == 1 {print $2}' /proc/mounts; }

enter_rootfs() {
    # /proc for Python (os.cpu_count, /proc/self) and numba; /dev/shm for multiprocessing.
    # /dev itself is not bound: debootstrap made its device nodes in the rootfs, and a bound
    # host /dev under build/ would be at the mercy of an `rm -rf build`.
    if ! mountpoint -q "$ROOTFS/proc"; then
        mount -t proc proc "$ROOTFS/proc"; MOUNTED+=("$ROOTFS/proc")
    fi
    # /sys stays empty on purpose: with the host's sysfs there, onnxruntime's cpuinfo reads the
    # x86 host's CPU description and the import dies with SIGSEGV under qemu (seen with 1.32.0);
    # without it onnxruntime prints "Error in cpuinfo" warnings and runs.
    mkdir -p "$ROOTFS/dev/shm"
    if ! mountpoint -q "$ROOTFS/dev/shm"; then
        mount -t tmpfs -o size=256m shm "$ROOTFS/dev/shm"; MOUNTED+=("$ROOTFS/dev/shm")
    fi
    cp -L /etc/resolv.conf "$ROOTFS/etc/resolv.conf"  # for pip
    # pip in the rootfs trusts what the host trusts (a CI's TLS-inspecting proxy adds its CA to
    # the host's bundle, not to Debian's fresh one in the rootfs).
    cp -L "${SSL_CERT_FILE:-/etc/ssl/certs/ca-certificates.crt}" "$ROOTFS/etc/host-ca-bundle.crt"
}

# Run a command in the rootfs with a clean environment.
in_rootfs() {
    chroot "$ROOTFS" /usr/bin/env -i HOME=/root LANG=C.UTF-8 TERM=dumb \
        PATH=$VENV/bin:/usr/local/bin:/usr/bin:/bin \
        NUMBA_CACHE_DIR=/var/cache/numba PYTHONDONTWRITEBYTECODE=1 \
        ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST "$@"
}

# run_step NAME CMD...: run, time, record the result; a failure is reported and the script goes on
# to the next independent step (it exits non-zero at the end).
run_step() {
    local name=$1; shift
    local t0=$SECONDS rc=0
    log "step $name"
    "$@" || rc=$?
    TIME[$name]=$((SECONDS - t0))
    if [ $rc -eq 0 ]; then RESULT[$name]=ok; else RESULT[$name]="FAILED (exit $rc)"; fi
    ORDER+=("$name")
    log "step $name: ${RESULT[$name]} in ${TIME[$name]} s"
    return $rc
}

# ---- 1. rootfs -----------------------------------------------------------------------------
ROOTFS_RECIPE="suite=$SUITE mirror=$MIRROR packages=$DEB_PACKAGES"
build_rootfs() {
    if [ -f "$BUILD/rootfs.stamp" ] && [ "$(cat "$BUILD/rootfs.stamp")" = "$ROOTFS_RECIPE" ]; then
        log "rootfs cached ($BUILD/rootfs.stamp)"
        return 0
    fi
    [ -z "$(mounts_under "$ROOTFS")" ] || die "something is still mounted under $ROOTFS; unmount it first"
    rm -rf "$ROOTFS" "$BUILD/rootfs.stamp" "$BUILD/venv.stamp"
    mkdir -p "$BUILD"
    log "debootstrap --foreign $SUITE arm64 (first stage, host)"
    debootstrap --arch=arm64 --foreign --variant=minbase --include="$DEB_PACKAGES" \
        "$SUITE" "$ROOTFS" "$MIRROR" > "$BUILD/debootstrap.log" 2>&1 \
        || { tail -20 "$BUILD/debootstrap.log"; die "debootstrap first stage failed (log: $BUILD/debootstrap.log)"; }
    cp /usr/bin/qemu-aarch64-static "$ROOTFS/usr/bin/"
    log "debootstrap --second-stage (inside the rootfs, emulated)"
    chroot "$ROOTFS" /debootstrap/debootstrap --second-stage >> "$BUILD/debootstrap.log" 2>&1 \
        || { tail -20 "$BUILD/debootstrap.log"; die "debootstrap second stage failed (log: $BUILD/debootstrap.log)"; }
    # The second stage mounts /proc (and /sys) itself; leave nothing behind under build/.
    local m
    for m in $(mounts_under "$ROOTFS" | sort -r); do umount "$m" || umount -l "$m"; done
    [ "$(chroot "$ROOTFS" /usr/bin/uname -m)" = aarch64 ] || die "the rootfs does not run as aarch64"
    echo "$ROOTFS_RECIPE" > "$BUILD/rootfs.stamp"
}

# ---- 2. venv -------------------------------------------------------------------------------
pins() {
    local p line
    for p in "${PY_PACKAGES[@]}"; do
        line=$(grep -i "^$p==" "$ROOT/requirements/common.txt") || die "no pin for $p in requirements/common.txt"
        echo "$line"
    done
}
build_venv() {
    local wanted; wanted=$(pins | tr '\n' ' ')
    if [ -f "$BUILD/venv.stamp" ] && [ "$(cat "$BUILD/venv.stamp")" = "$wanted" ] \
            && [ -x "$ROOTFS$VENV/bin/python" ]; then
        log "venv cached ($BUILD/venv.stamp: $wanted)"
        return 0
    fi
    rm -rf "${ROOTFS:?}$VENV" "$BUILD/venv.stamp"
    # (set -e does not act inside a function run under `||`: each command checks itself.)
    in_rootfs /usr/bin/python3 -m venv $VENV || return 1
    # shellcheck disable=SC2086
    in_rootfs ${https_proxy:+https_proxy=$https_proxy} ${HTTPS_PROXY:+HTTPS_PROXY=$HTTPS_PROXY} \
        PIP_CERT=/etc/host-ca-bundle.crt $VENV/bin/python -m pip install --quiet \
        --disable-pip-version-check --only-binary=:all: $wanted || return 1
    in_rootfs $VENV/bin/python -c 'import platform, numpy, numba, llvmlite, yaml, onnx, onnxruntime; print("venv:", platform.machine(), "python", platform.python_version(), "numpy", numpy.__version__, "numba", numba.__version__)' \
        || return 1
    echo "$wanted" > "$BUILD/venv.stamp"
}

# The working tree (not only committed files) into /src, fresh each run.
copy_source() {
    rm -rf "${ROOTFS:?}/src"
    mkdir -p "$ROOTFS/src"
    tar -C "$ROOT" --exclude=__pycache__ --exclude=.pytest_cache --exclude=.hypothesis \
        --exclude='*.egg-info' -cf - pytest.ini conftest.py feagi_hailo_ros | tar -C "$ROOTFS/src" -xf -
}

# shellcheck disable=SC2086
run_pytest() {
    in_rootfs /bin/sh -c "cd /src && PYTHONPATH=/src/feagi_hailo_ros python -m pytest -q \
        -p no:cacheprovider $* ${AARCH64_PYTEST_ARGS:-}"
}

# ---- 5. record -----------------------------------------------------------------------------
compare_records() {
    [ -x "$HOST_PYTHON" ] || die "no host python at $HOST_PYTHON (run make setup, or set HOST_PYTHON)"
    local x86=$BUILD/record.x86_64.jsonl arm=$BUILD/record.aarch64.jsonl
    rm -f "$x86" "$arm"
    (cd "$ROOT/feagi_hailo_ros" && PYTHONPATH=$ROOT/feagi_hailo_ros \
        "$HOST_PYTHON" -m feagi_hailo_ros.cli "${RECORD_ARGS[@]}" --record "$x86") \
        || { echo "the x86_64 run failed"; return 1; }
    in_rootfs /bin/sh -c "cd /src/feagi_hailo_ros && PYTHONPATH=/src/feagi_hailo_ros \
        python -m feagi_hailo_ros.cli ${RECORD_ARGS[*]} --record /tmp/record.jsonl" \
        || { echo "the aarch64 run failed"; return 1; }
    cp "$ROOTFS/tmp/record.jsonl" "$arm" || return 1
    [ -s "$x86" ] || { echo "empty x86 record"; return 1; }
    echo "x86_64:  $(wc -l < "$x86") lines, sha256 $(sha256sum < "$x86" | cut -c1-16)"
    echo "aarch64: $(wc -l < "$arm") lines, sha256 $(sha256sum < "$arm" | cut -c1-16)"
    cmp "$x86" "$arm" && echo "records identical byte for byte"
}

# ---- run -----------------------------------------------------------------------------------
failed=0
if want rootfs; then run_step rootfs build_rootfs || exit 1; fi
if want venv || want engine || want hailo || want record; then
    [ -f "$BUILD/rootfs.stamp" ] || die "no rootfs yet: run the rootfs step first"
    enter_rootfs
fi
if want venv; then run_step venv build_venv || exit 1; fi
if want engine || want hailo || want record; then
    [ -f "$BUILD/venv.stamp" ] || die "no venv yet: run the venv step first"
    copy_source
fi
if want engine; then run_step engine run_pytest feagi_hailo_ros/test/engine || failed=1; fi
if want hailo; then run_step hailo run_pytest feagi_hailo_ros/test/hailo || failed=1; fi
if want record; then run_step record compare_records || failed=1; fi

echo
echo "== test_aarch64 summary ($SUITE arm64 under $(qemu-aarch64-static --version | head -1))"
for s in "${ORDER[@]}"; do printf '   %-7s %-18s %6d s\n' "$s" "${RESULT[$s]}" "${TIME[$s]}"; done
exit $failed
