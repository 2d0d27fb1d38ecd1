#!/usr/bin/env bash
# Installs, only when missing, every Debian package that lore's build, tests and
# reports need. Idempotent: a second run installs nothing and exits 0.
# Works as root or through sudo; prints what it installs.
#
#   scripts/install-deps.sh [--quiet] [--peers]
#
# --peers also installs what the optional peer adapters run on (PyTorch for
# scripts/peers/torch_encoder.py, FAISS and hnswlib for faiss_index.py and
# hnswlib_index.py). The build and the tests never need it.
set -euo pipefail

quiet=0
peers=0
for arg in "$@"; do
    case "$arg" in
    --quiet) quiet=1 ;;
    --peers) peers=1 ;;
    *)
        echo "install-deps: unknown option '$arg' (use --quiet, --peers)" >&2
        exit 2
        ;;
    esac
done

packages=(
    build-essential cmake pkg-config git
    libopenblas-dev libsqlite3-dev libcjson-dev libcmocka-dev
    libpapi-dev libsde1 papi-tools
    libutf8proc-dev libxxhash-dev
    gnuplot-nox valgrind python3
)
if [ "$peers" -eq 1 ]; then
    packages+=(python3 python3-torch python3-numpy python3-faiss python3-hnswlib)
fi

missing=()
for p in "${packages[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
        missing+=("$p")
    fi
done

if [ ${#missing[@]} -eq 0 ]; then
    [ "$quiet" -eq 1 ] || echo "install-deps: all packages present"
    exit 0
fi

if [ "$(id -u)" -eq 0 ]; then
    sudo=()
elif command -v sudo >/dev/null 2>&1; then
    sudo=(sudo)
else
    echo "install-deps: missing packages (${missing[*]}) and not root, no sudo" >&2
    exit 1
fi

echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
