#!/usr/bin/env bash
# Builds the standalone native benchmarks into bench/native/build/ (not part of the addon):
#   flow_table_bench       FlowTable and the parallel-array layout, no DPDK
#   flow_table_bench_dpdk  the same plus DPDK's rte_hash in the same run (needs libdpdk via pkg-config)
# Run: bench/native/build/flow_table_bench_dpdk [--quick]
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
out=$here/build
mkdir -p "$out"
cxx=${CXX:-g++}
flags=(-std=gnu++20 -O3 -march=native -fno-exceptions -Wall -Wextra -I"$root/native")
sources=("$here/flow_table_bench.cc" "$root/native/core/flow_table.cc")

"$cxx" "${flags[@]}" "${sources[@]}" -o "$out/flow_table_bench"
echo "built $out/flow_table_bench"

if pkg-config --exists libdpdk; then
  # shellcheck disable=SC2046
  "$cxx" "${flags[@]}" -DDYSCO_BENCH_RTE_HASH -Wno-volatile -DALLOW_EXPERIMENTAL_API $(pkg-config --cflags libdpdk) \
    "${sources[@]}" -o "$out/flow_table_bench_dpdk" $(pkg-config --libs libdpdk)
  echo "built $out/flow_table_bench_dpdk"
else
  echo "libdpdk not found by pkg-config: skipping flow_table_bench_dpdk" >&2
fi
