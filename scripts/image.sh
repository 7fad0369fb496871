#!/usr/bin/env bash
# `npm run image`: builds the agent image (docker/Dockerfile) with podman, tagged dysco:<version> and dysco:latest.
# The base comes from scripts/base-image.sh when it is missing. A proxy's CA for the build's TLS: the PEM file in
# DYSCO_EXTRA_CA_FILE, else the certificates this host added to its store (/usr/local/share/ca-certificates).
set -euo pipefail
cd "$(dirname "$0")/.."
say() { printf 'image: %s\n' "$*" >&2; }
command -v podman >/dev/null || { say "podman is missing (scripts/bootstrap.sh installs it)"; exit 1; }

version=$(node -p 'require("./package.json").version')
base=docker.io/library/debian:bookworm
bash scripts/base-image.sh "$base"

ca=$(mktemp)
trap 'rm -f "$ca"' EXIT
if [[ -n "${DYSCO_EXTRA_CA_FILE:-}" ]]; then
  cat "$DYSCO_EXTRA_CA_FILE" > "$ca"
else
  find /usr/local/share/ca-certificates -name '*.crt' -type f -print0 2>/dev/null | sort -z | xargs -0 -r cat > "$ca"
fi

say "building dysco:$version"
# runc: crun refuses the hybrid cgroup hierarchy of these kernels. The build's RUN steps use the host's network
# (the mirror and the npm registry), so no container network has to be set up for them.
podman build --runtime runc --network host --pull=never --layers \
  --build-arg BASE_IMAGE="$base" --secret id=extra-ca,src="$ca" \
  -f docker/Dockerfile -t "dysco:$version" -t dysco:latest . >&2
size=$(podman image inspect --format '{{.Size}}' "dysco:$version")
say "dysco:$version: $((size / 1000000)) MB"
printf '%s\n' "localhost/dysco:$version"
