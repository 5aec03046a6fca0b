#!/usr/bin/env bash
# Make the Dockerfile's base image (default python:3.11-slim) exist in the local engine, so the
# legacy builder uses it for FROM without pulling. In order:
#   1. it is already there (a real pull or a stand-in from an earlier run: the engine's data root
#      is a cache that outlives the run);
#   2. it can be pulled;
#   3. otherwise build a STAND-IN under the same tag from Debian packages: debootstrap bookworm
#      (python3 is 3.11 there) and `docker import`. It trusts the host's CA bundle, so pip inside
#      a build reaches the package index the way the host does. The Dockerfile stays unchanged.
# Needs DOCKER_HOST (see engine.sh); step 3 needs root and debootstrap.
set -euo pipefail

image=${1:-python:3.11-slim}
mirror=${BAKEOFF_DEBIAN_MIRROR:-}  # empty: debootstrap's default Debian mirror
host_ca=${BAKEOFF_HOST_CA:-/etc/ssl/certs/ca-certificates.crt}

if docker image inspect "$image" >/dev/null 2>&1; then
  echo "base image $image: present ($(docker image inspect -f '{{index .Config.Labels "io.bakeoff.standin"}}' "$image" | sed 's/^$/real/;s/^debootstrap.*/stand-in/'))"
  exit 0
fi
if timeout 120 docker pull -q "$image" >/dev/null 2>&1; then
  echo "base image $image: pulled"
  exit 0
fi

# Only a 3.11 tag may be stood in for: bookworm's python3 is 3.11.
case "$image" in
  python:3.11|python:3.11-*) ;;
  *) echo "base image $image: cannot be pulled, and a bookworm stand-in only fits python:3.11*" >&2; exit 1 ;;
esac
echo "base image $image: cannot be pulled; building a stand-in with debootstrap (one to two minutes)"
# shellcheck source=scripts/docker/engine.sh
source "$(dirname "$0")/engine.sh"  # for remove_tree
rootfs=$(mktemp -d /tmp/bakeoff-rootfs.XXXXXX)
trap 'remove_tree "$rootfs"; rm -f "$rootfs.log"' EXIT
debootstrap --variant=minbase --include=ca-certificates,python3,python3-venv \
  bookworm "$rootfs" ${mirror:+"$mirror"} >"$rootfs.log" 2>&1 || { tail -n 20 "$rootfs.log" >&2; exit 1; }
cp "$host_ca" "$rootfs/etc/ssl/certs/host-ca-bundle.crt"
# What a runtime image does not need: downloaded .debs, package lists, docs, man pages, locales.
rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/* \
  "$rootfs"/usr/share/doc/* "$rootfs"/usr/share/man/* "$rootfs"/usr/share/info/* "$rootfs"/usr/share/locale/*
ca=/etc/ssl/certs/host-ca-bundle.crt
tar -C "$rootfs" -c . | docker import \
  --change "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" \
  --change "ENV LANG=C.UTF-8 PIP_CERT=$ca REQUESTS_CA_BUNDLE=$ca SSL_CERT_FILE=$ca" \
  --change 'LABEL io.bakeoff.standin="debootstrap bookworm: a local stand-in for '"$image"'"' \
  --change 'CMD ["python3"]' - "$image" >/dev/null
echo "base image $image: stand-in built ($(docker image inspect -f '{{.Size}}' "$image" | awk '{printf "%.0f MB", $1/1e6}'))"
