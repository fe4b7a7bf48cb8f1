#!/usr/bin/env bash
# Two "hosts" on this machine: network namespaces weft-h0 and weft-h1, joined
# by a veth pair (10.77.0.1 and 10.77.0.2), and `weft train --backend mpi`
# across them with MPI over TCP on that link only (no shared memory between
# them: btl tcp,self). mpirun runs in weft-h0 and starts the other host's
# ranks the way it would over ssh, through a launcher that enters weft-h1
# instead. Needs root (ip netns). Cleans up after itself.
# Usage: scripts/mpi_two_hosts.sh path/to/weft [weft train flags...]
#   default flags: --model mlp --pipeline 1f1b --stages 2 --microbatches 2 --steps 200
set -euo pipefail
weft=$(realpath "${1:?usage: mpi_two_hosts.sh path/to/weft [train flags]}")
shift
flags=("$@")
[[ ${#flags[@]} -gt 0 ]] || flags=(--model mlp --pipeline 1f1b --stages 2 --microbatches 2 --steps 200)
[[ $(id -u) -eq 0 ]] || { echo "mpi_two_hosts.sh: needs root (ip netns)" >&2; exit 2; }
command -v mpirun >/dev/null || { echo "mpi_two_hosts.sh: mpirun is missing (scripts/deps.sh)" >&2; exit 2; }
work=$(mktemp -d)
cleanup() {
  ip netns del weft-h0 2>/dev/null || true
  ip netns del weft-h1 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
cleanup; work=$(mktemp -d)
ip netns add weft-h0
ip netns add weft-h1
ip link add weft-v0 type veth peer name weft-v1
ip link set weft-v0 netns weft-h0
ip link set weft-v1 netns weft-h1
for h in 0 1; do
  ip -n weft-h$h addr add 10.77.0.$((h + 1))/24 dev weft-v$h
  ip -n weft-h$h link set weft-v$h up
  ip -n weft-h$h link set lo up
done
echo "two hosts: weft-h0 10.77.0.1, weft-h1 10.77.0.2 (veth)" >&2
# mpirun's "ssh": run the command on host 10.77.0.N inside namespace weft-h(N-1).
cat >"$work/enter" <<'AGENT'
#!/bin/sh
host=$1; shift
case "$host" in 10.77.0.1) ns=weft-h0 ;; 10.77.0.2) ns=weft-h1 ;; *) echo "no host $host" >&2; exit 1 ;; esac
exec ip netns exec "$ns" /bin/sh -c "$*"
AGENT
chmod +x "$work/enter"
printf '10.77.0.1 slots=1\n10.77.0.2 slots=1\n' >"$work/hosts"
tx() { ip netns exec weft-h0 cat /sys/class/net/weft-v0/statistics/tx_bytes; }
rx() { ip netns exec weft-h0 cat /sys/class/net/weft-v0/statistics/rx_bytes; }
tx0=$(tx) rx0=$(rx)
ip netns exec weft-h0 mpirun --allow-run-as-root -np 2 --hostfile "$work/hosts" \
  --mca plm_rsh_agent "$work/enter" --mca btl tcp,self --mca btl_tcp_if_include 10.77.0.0/24 \
  --mca oob_tcp_if_include 10.77.0.0/24 --mca pml ob1 \
  "$weft" train "${flags[@]}" --backend mpi
echo "over the veth: host 0 sent $(( $(tx) - tx0 )) bytes, received $(( $(rx) - rx0 )) bytes" >&2
