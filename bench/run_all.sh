#!/usr/bin/env bash
# `make bench`: the speed and scaling benchmarks one after another, each with
# its PyTorch peer in the same run (the quality ones train for minutes to
# hours and are run by name: lm_quality.sh, tag_quality.sh, pipe_converge.sh).
set -uo pipefail
cd "$(dirname "$0")/.."
failed=()
for b in "fmnist_speed.sh" "models_speed.sh" "memory.sh" "pipe_util.sh cnn" "mpi_scale.sh" \
         "onnx_import.sh" "rdu_compile.sh" "rdu_simulate.sh"; do
  echo "=== bench/$b"
  # shellcheck disable=SC2086
  bench/$b || failed+=("$b")
  echo
done
[[ ${#failed[@]} -eq 0 ]] || { echo "failed: ${failed[*]}" >&2; exit 1; }
