#!/usr/bin/env bash
# Idempotent set-up: Debian packages, npm dependencies, native addon and TypeScript build.
# Safe to run before every demo, test and benchmark; each step is skipped when already done.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf 'bootstrap: %s\n' "$*" >&2; }

# Debian packages the datapath, the testbed, the tests and the benchmarks use.
packages=(
  dpdk libdpdk-dev pkg-config build-essential python3 libnetfilter-conntrack-dev libmnl-dev
  iproute2 ethtool iperf3 iputils-ping curl tcpdump procps psmisc
  valgrind iptables conntrack nginx-light haproxy
  spin libnetfilter-queue-dev clang libclang-rt-14-dev
  podman runc debootstrap etcd-server etcd-client
)

missing=()
for p in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  [[ "$status" == "install ok installed" ]] || missing+=("$p")
done

if ((${#missing[@]})); then
  cmd="apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ${missing[*]}"
  if [[ $(id -u) -ne 0 ]]; then
    say "missing Debian packages: ${missing[*]}"
    say "run as root: $cmd"
    exit 1
  fi
  say "installing ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# npm dependencies: reinstall only when the lock file changed since the last install.
stamp=node_modules/.dysco-lock-stamp
if [[ ! -f "$stamp" ]] || ! cmp -s package-lock.json "$stamp"; then
  say "npm ci"
  npm ci --no-audit --no-fund --loglevel=error >&2
  cp package-lock.json "$stamp"
else
  # incremental native build; a new or removed source file, or a changed binding.gyp, needs gyp to configure again
  node scripts/gen-codes.mjs
  sources=$( (find native -name '*.cc' | sort; cat binding.gyp) | sha1sum)
  if [[ -f build/Makefile && -f build/.dysco-sources ]] && [[ "$sources" == "$(cat build/.dysco-sources)" ]]; then
    npx --no-install node-gyp build -j 2 >/dev/null 2>&1 || npx --no-install node-gyp rebuild -j 2 >&2
  else
    npx --no-install node-gyp rebuild -j 2 >&2
  fi
  echo "$sources" > build/.dysco-sources
fi

npx --no-install tsc -p tsconfig.json >&2

# The tests' packet reorderer (test/tools/nfq-reorder.c, for kernels without netem): rebuilt when its source changes.
if [[ ! -x dist/tools/nfq-reorder || test/tools/nfq-reorder.c -nt dist/tools/nfq-reorder ]]; then
  mkdir -p dist/tools
  cc -O2 -Wall -Wextra -o dist/tools/nfq-reorder test/tools/nfq-reorder.c -lnetfilter_queue
fi
