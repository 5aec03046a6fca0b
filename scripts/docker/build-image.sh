#!/usr/bin/env bash
# Build the project image: scripts/docker/build-image.sh [TAG [DOCKER BUILD ARGS…]]
# TAG defaults to bakeoff:<version>; for example: … bakeoff:0.1.0-mlflow --build-arg EXTRAS=k8s,mlflow
#
# With the legacy builder (DOCKER_BUILDKIT=0; Debian's docker.io has no buildx), which takes the
# base image from the local engine without pulling; and on the host network, so pip inside the
# build reaches the package index the way the host does. If the host's pip uses a mirror
# (PIP_INDEX_URL / PIP_EXTRA_INDEX_URL, or pip's config), it is passed as a build argument at
# build time and never written into a committed file. file:// indexes are dropped: a build
# cannot see the host's folders. With BAKEOFF_PIN_VENV=DIR, the image's libraries are pinned to
# that venv's versions (CI: results in the container must equal results in the process).
# Prints the image size last.
set -euo pipefail
cd "$(dirname "$0")/../.."

version=$(sed -n 's/^version = "\(.*\)"$/\1/p' pyproject.toml | head -n 1)
image=${1:-bakeoff:$version}
shift $(($# > 0 ? 1 : 0))
pip=.venv/bin/pip  # only to read the host's pip config

pip_setting() {  # the environment first, then pip's own config files
  local env_value=$1 key=$2
  if [ -n "$env_value" ]; then echo "$env_value"; return; fi
  if [ -x "$pip" ]; then "$pip" config get "global.$key" 2>/dev/null || true; fi
}
http_only() { local u; for u in $1; do case $u in http://*|https://*) printf '%s ' "$u" ;; esac; done; }

index=$(http_only "$(pip_setting "${PIP_INDEX_URL:-}" index-url)")
extra=$(http_only "$(pip_setting "${PIP_EXTRA_INDEX_URL:-}" extra-index-url)")
args=(--build-arg "BAKEOFF_VERSION=$version"
      --build-arg "VCS_REF=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)")
args+=("$@")
[ -z "$index" ] || args+=(--build-arg "PIP_INDEX_URL=${index% }")
[ -z "$extra" ] || args+=(--build-arg "PIP_EXTRA_INDEX_URL=${extra% }")
if [ -n "${BAKEOFF_PIN_VENV:-}" ]; then
  pins=$("$BAKEOFF_PIN_VENV/bin/pip" freeze --exclude-editable | grep -E '^[A-Za-z0-9._-]+==' | tr '\n' ' ')
  args+=(--build-arg "PINS=${pins% }")
fi

# The build stage gets a tag of its own, so its slow dependency layer stays cached; then the
# layers of earlier builds, now untagged, are pruned so a reused machine's cache does not grow.
export DOCKER_BUILDKIT=0
docker build --network=host "${args[@]}" --target build -t "$image-build" . >&2
docker build --network=host "${args[@]}" -t "$image" . >&2
docker image prune -f >/dev/null
echo "image $image: $(docker image inspect -f '{{.Size}}' "$image" | awk '{printf "%.0f MB", $1/1e6}')"
