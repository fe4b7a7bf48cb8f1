#!/usr/bin/env bash
# Installs what weft's build, tests and benchmarks need, with apt-get, and does
# nothing when everything is already present.
#   build:      cmake, a C compiler, OpenBLAS, zlib, cJSON
#   data:       Fashion-MNIST (Debian's dataset-fashion-mnist)
#   fixtures and peers: python3-torch, python3-numpy
set -euo pipefail
pkgs=(cmake gcc make libopenblas-dev zlib1g-dev libcjson-dev dataset-fashion-mnist
      python3-torch python3-numpy)
missing=()
for p in "${pkgs[@]}"; do
  st=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  [[ "$st" == "install ok installed" ]] || missing+=("$p")
done
[[ ${#missing[@]} -eq 0 ]] && exit 0
echo "deps: installing ${missing[*]}" >&2
sudo=""
[[ $(id -u) -ne 0 ]] && sudo="sudo"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
