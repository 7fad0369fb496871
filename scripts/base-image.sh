#!/usr/bin/env bash
# The Debian base the image's FROM names, made locally when it is missing: debootstrap of bookworm (minbase) from
# Debian's mirror, imported into podman's store under that name. No image registry is needed.
#   scripts/base-image.sh [image-name]   (default docker.io/library/debian:bookworm)
set -euo pipefail
name=${1:-docker.io/library/debian:bookworm}
suite=bookworm
mirror=${DYSCO_DEBIAN_MIRROR:-http://deb.debian.org/debian}
security=${DYSCO_DEBIAN_SECURITY_MIRROR:-http://deb.debian.org/debian-security}
say() { printf 'base-image: %s\n' "$*" >&2; }

if podman image exists "$name"; then
  say "$name is there"
  exit 0
fi
rootfs=$(mktemp -d /var/tmp/dysco-rootfs.XXXXXX)
trap 'rm -rf "$rootfs"' EXIT
say "debootstrap $suite from $mirror"
debootstrap --variant=minbase "$suite" "$rootfs" "$mirror" >&2
cat > "$rootfs/etc/apt/sources.list" <<SOURCES
deb $mirror $suite main
deb $mirror $suite-updates main
deb $security $suite-security main
SOURCES
# what a container never uses: the package caches and lists (apt-get update fetches fresh ones)
rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/cache/apt/*.bin "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/log/*.log
tar --numeric-owner -C "$rootfs" -c . | podman import --change 'CMD ["/bin/bash"]' - "$name" >&2
say "imported $name ($(podman image inspect --format '{{.Size}}' "$name") bytes)"
