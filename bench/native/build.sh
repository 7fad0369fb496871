#!/usr/bin/env bash
# Builds the standalone native benchmarks into bench/native/build/ (not part of the addon):
#   flow_table_bench       FlowTable and the parallel-array layout, no DPDK
#   flow_table_bench_dpdk  the same plus DPDK's rte_hash in the same run (needs libdpdk via pkg-config)
#   pipeline_bench         SessionPipeline on synthetic packets (bench/pipeline.ts runs it), no DPDK
#   pipeline_bench_callgrind  the same without AVX-512 (valgrind does not decode it), for instruction counts
#   mac_bench              the MAC candidates of native/core/mac.h (HMAC-SHA-256, SipHash-2-4), no DPDK
#   mac_bench_callgrind    the same without AVX-512, for instruction counts
# Run: bench/native/build/flow_table_bench_dpdk [--quick]
# Only some targets: bench/native/build.sh pipeline_bench pipeline_bench_callgrind
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
out=$here/build
mkdir -p "$out"
cxx=${CXX:-g++}
flags=(-std=gnu++20 -O3 -march=native -fno-exceptions -Wall -Wextra -I"$root/native")
sources=("$here/flow_table_bench.cc" "$root/native/core/flow_table.cc" "$root/native/core/table_memory.cc")
targets=("$@")
[[ ${#targets[@]} -gt 0 ]] || targets=(flow_table_bench flow_table_bench_dpdk pipeline_bench pipeline_bench_callgrind mac_bench mac_bench_callgrind)
wants() { [[ " ${targets[*]} " == *" $1 "* ]]; }

# The pipeline and the whole of native/core (no DPDK, no N-API: the linker proves it here too).
pipeline_sources=("$here/pipeline_bench.cc" "$root"/native/core/*.cc)
# The two pipeline builds run side by side.
pids=()
if wants pipeline_bench; then
  "$cxx" "${flags[@]}" -g "${pipeline_sources[@]}" -o "$out/pipeline_bench" &
  pids+=($!)
fi
if wants pipeline_bench_callgrind; then
  "$cxx" "${flags[@]}" -mno-avx512f -g "${pipeline_sources[@]}" -o "$out/pipeline_bench_callgrind" &
  pids+=($!)
fi
for pid in "${pids[@]}"; do wait "$pid"; done
wants pipeline_bench && echo "built $out/pipeline_bench"
wants pipeline_bench_callgrind && echo "built $out/pipeline_bench_callgrind"

mac_sources=("$here/mac_bench.cc" "$root/native/core/mac.cc")
if wants mac_bench; then
  "$cxx" "${flags[@]}" "${mac_sources[@]}" -o "$out/mac_bench"
  echo "built $out/mac_bench"
fi
if wants mac_bench_callgrind; then
  "$cxx" "${flags[@]}" -mno-avx512f -g "${mac_sources[@]}" -o "$out/mac_bench_callgrind"
  echo "built $out/mac_bench_callgrind"
fi

if wants flow_table_bench; then
  "$cxx" "${flags[@]}" "${sources[@]}" -o "$out/flow_table_bench"
  echo "built $out/flow_table_bench"
fi

if ! wants flow_table_bench_dpdk; then
  :
elif pkg-config --exists libdpdk; then
  # shellcheck disable=SC2046
  "$cxx" "${flags[@]}" -DDYSCO_BENCH_RTE_HASH -Wno-volatile -DALLOW_EXPERIMENTAL_API $(pkg-config --cflags libdpdk) \
    "${sources[@]}" -o "$out/flow_table_bench_dpdk" $(pkg-config --libs libdpdk)
  echo "built $out/flow_table_bench_dpdk"
else
  echo "libdpdk not found by pkg-config: skipping flow_table_bench_dpdk" >&2
fi
