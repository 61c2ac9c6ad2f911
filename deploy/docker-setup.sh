#!/usr/bin/env bash
# Docker for the compose test (tests/deploy/test_compose.py, `make docker`), on a Debian machine
# that reaches its apt mirror and PyPI but no image registry. Idempotent; a second run takes
# seconds. Needs root (apt-get, dockerd, debootstrap). It:
#   1. installs docker.io, docker-compose (Compose v1) and debootstrap where missing;
#   2. starts dockerd if no daemon answers (nothing else starts it, on a laptop or in CI);
#   3. makes the base image voxq-base:bookworm with debootstrap from this machine's Debian
#      mirror, since no registry can give us one; the root file system is kept as a tarball, so
#      a fresh daemon re-imports it instead of bootstrapping again;
#   4. builds the wheelhouse the test images install from (pip inside a container does not
#      trust the host's certificates). It uses Debian's python3, the interpreter the images
#      run (3.11.2; the project's virtualenv may be another 3.11): dependency markers such as
#      `python_full_version < "3.11.3"` must be decided for the image's Python.
set -euo pipefail
cd "$(dirname "$0")/.."

CACHE=${VOXQ_DOCKER_CACHE:-$PWD/var/docker}
BASE=voxq-base:bookworm
WHEELS=deploy/images/wheelhouse
mkdir -p "$CACHE"

missing=()
command -v dockerd >/dev/null || missing+=(docker.io)
command -v docker-compose >/dev/null || missing+=(docker-compose)
command -v debootstrap >/dev/null || missing+=(debootstrap)
/usr/bin/python3 -c "import ensurepip, venv" 2>/dev/null || missing+=(python3-venv)
if ((${#missing[@]})); then
    echo "installing ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if ! docker info >/dev/null 2>&1; then
    echo "starting dockerd (log: $CACHE/dockerd.log)"
    # setsid: the daemon outlives this script and the test that ran it.
    setsid dockerd >"$CACHE/dockerd.log" 2>&1 </dev/null &
    for _ in $(seq 120); do
        docker info >/dev/null 2>&1 && break
        sleep 0.5
    done
    docker info >/dev/null 2>&1 || { tail -20 "$CACHE/dockerd.log"; exit 1; }
fi

if ! docker image inspect "$BASE" >/dev/null 2>&1; then
    if [ ! -s "$CACHE/base-bookworm.tar" ]; then
        # The mirror apt uses here (deb822 sources or a classic sources.list line).
        mirror=${DEBIAN_MIRROR:-$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)}
        mirror=${mirror:-$(awk '$1 == "deb" && /bookworm/ {print $2; exit}' /etc/apt/sources.list 2>/dev/null || true)}
        mirror=${mirror:-http://deb.debian.org/debian}
        echo "debootstrap bookworm from $mirror"
        root=$(mktemp -d)
        debootstrap --variant=minbase bookworm "$root" "$mirror" >"$CACHE/debootstrap.log" 2>&1 \
            || { tail -20 "$CACHE/debootstrap.log"; exit 1; }
        rm -rf "$root"/var/cache/apt/archives/*.deb
        tar -C "$root" -cf "$CACHE/base-bookworm.tar.part" .
        mv "$CACHE/base-bookworm.tar.part" "$CACHE/base-bookworm.tar"
        rm -rf "$root"
    fi
    docker import - "$BASE" <"$CACHE/base-bookworm.tar" >/dev/null
    echo "imported $BASE"
fi

# The dependencies' wheels only when pyproject.toml changed (resolving them asks PyPI); the
# project's own wheel every time, in a folder of its own, so that a code change rebuilds only
# the image's last layers.
if [ ! -x "$CACHE/wheel-venv/bin/pip" ]; then
    /usr/bin/python3 -m venv "$CACHE/wheel-venv"
fi
pip=("$CACHE/wheel-venv/bin/pip" --disable-pip-version-check)
stamp=$(sha256sum pyproject.toml | cut -c1-16)
if [ "$(cat "$WHEELS/deps/.stamp" 2>/dev/null)" != "$stamp" ]; then
    echo "building the wheelhouse ($WHEELS/deps)"
    rm -rf "$WHEELS/deps" && mkdir -p "$WHEELS/deps"
    rm -rf build
    "${pip[@]}" wheel -q . -w "$WHEELS/deps"
    rm -f "$WHEELS"/deps/voxqueue-*.whl
    echo "$stamp" >"$WHEELS/deps/.stamp"
fi
rm -rf "$WHEELS/app" && mkdir -p "$WHEELS/app"
rm -rf build  # setuptools' in-tree build folder: stale files in it would go into the wheel
"${pip[@]}" wheel -q --no-deps . -w "$WHEELS/app"
rm -rf build
echo "docker ready: $(docker version --format 'server {{.Server.Version}}'), $(docker-compose version --short)"
