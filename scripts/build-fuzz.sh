#!/usr/bin/env bash
# Builds the libFuzzer targets of test/fuzz/ into build/fuzz/ with clang, AddressSanitizer and UndefinedBehavior-
# Sanitizer (a sanitizer report aborts). native/core is compiled once into objects the targets share; only what is
# older than its source is rebuilt. Usage: scripts/build-fuzz.sh [target...] (default: every test/fuzz/fuzz_*.cc).
set -euo pipefail
cd "$(dirname "$0")/.."
cxx=${FUZZ_CXX:-clang++}
command -v "$cxx" >/dev/null || { echo "build-fuzz: $cxx not found (scripts/bootstrap.sh installs clang)" >&2; exit 2; }
out=build/fuzz
mkdir -p "$out/obj"
sanitize=(-fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer)
flags=(-std=gnu++20 -O1 -g -Wall -Wextra -Inative "${sanitize[@]}")

# native/core's objects, two compilers at a time.
stale=()
for src in native/core/*.cc; do
  obj="$out/obj/$(basename "${src%.cc}").o"
  if [[ ! -f "$obj" || "$src" -nt "$obj" ]] || [[ -n "$(find native/core -name '*.h' -newer "$obj" -o -name '*.def' -newer "$obj" | head -1)" ]]; then
    stale+=("$src")
  fi
done
if ((${#stale[@]})); then
  printf '%s\n' "${stale[@]}" | xargs -P 2 -I{} sh -c '"$0" "$@" -fsanitize=fuzzer-no-link -c {} -o "'"$out"'/obj/$(basename {} .cc).o"' "$cxx" "${flags[@]}"
fi

targets=("$@")
if ((${#targets[@]} == 0)); then
  for src in test/fuzz/fuzz_*.cc; do targets+=("$(basename "${src%.cc}")"); done
fi
for target in "${targets[@]}"; do
  src="test/fuzz/$target.cc"
  [[ -f "$src" ]] || { echo "build-fuzz: no $src" >&2; exit 2; }
  bin="$out/$target"
  if [[ ! -x "$bin" || "$src" -nt "$bin" ]] || [[ -n "$(find "$out/obj" -name '*.o' -newer "$bin" | head -1)" ]]; then
    "$cxx" "${flags[@]}" -fsanitize=fuzzer "$src" "$out"/obj/*.o -o "$bin"
    echo "build-fuzz: built $bin" >&2
  fi
done
