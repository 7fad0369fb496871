#!/bin/sh
# fetch-npm-tarball REGISTRY NAME VERSION INTEGRITY DIR: a package's tarball from an npm registry, checked against
# its sha512 integrity string (as `npm view NAME@VERSION dist.integrity` prints it), unpacked into DIR.
set -eu
registry=$1 name=$2 version=$3 integrity=$4 dir=$5
case "$integrity" in sha512-*) ;; *) echo "fetch-npm-tarball: $name: only sha512 integrity is accepted" >&2; exit 1 ;; esac
tarball=$(mktemp)
trap 'rm -f "$tarball"' EXIT
curl -fsSL --retry 3 -o "$tarball" "$registry/$name/-/$(basename "$name")-$version.tgz"
want=$(printf '%s' "${integrity#sha512-}" | base64 -d | od -An -v -tx1 | tr -d ' \n')
got=$(sha512sum "$tarball" | cut -d' ' -f1)
if [ "$want" != "$got" ]; then echo "fetch-npm-tarball: $name@$version does not match its integrity" >&2; exit 1; fi
mkdir -p "$dir"
tar -xzf "$tarball" -C "$dir" --strip-components=1 --no-same-owner
