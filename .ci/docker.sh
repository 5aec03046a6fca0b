#!/usr/bin/env bash
# CI stage "docker": the project image, built and run for real (issue 4). Called by .ci/run.
#
#   1. use the running Docker engine, or start a private one (Debian's docker.io, as root;
#      scripts/docker/engine.sh), stopped by its PID on exit;
#   2. make the base image exist: cached from an earlier run, pulled, or a debootstrap stand-in;
#   3. build the project image bakeoff:<version>, with the libraries of .venv pinned, so a
#      container and a process run the same code;
#   4-6. the tests marked `docker` in tests/test_docker.py and tests/test_kfp_docker.py, with
#      BAKEOFF_DOCKER_REQUIRED=1 (a missing engine or image fails):
#      an S3 server on 127.0.0.1, `docker run IMAGE step …`, and the compiled pipeline under
#      kfp.local's DockerRunner (host network), whose leaderboard must equal `bakeoff run`'s to
#      1e-9; and the same runner on a local-folder store. The other tests of those files need no
#      engine and have run in `make test` already.
#
# When no engine runs and none can be started (not root, Debian's packages unreachable, dockerd
# refuses to run), it prints "docker stage: SKIPPED: <why>" and exits 0; BAKEOFF_DOCKER_STRICT=1
# makes that exit 1. Everything after the engine is up must pass. Prints how long each part took.
set -euo pipefail
cd "$(dirname "$0")/.."

stage_start=$SECONDS
skip() {
  echo "docker stage: SKIPPED: $*" >&2
  [ "${BAKEOFF_DOCKER_STRICT:-0}" != 1 ] || exit 1
  exit 0
}
timed() {  # timed LABEL COMMAND…: run it, then say how long it took
  local label=$1 start=$SECONDS
  shift
  "$@" || return $?
  echo "docker stage: $label took $((SECONDS - start)) s"
}

# shellcheck source=scripts/docker/engine.sh
source scripts/docker/engine.sh
trap engine_stop EXIT
if command -v docker >/dev/null && docker info >/dev/null 2>&1; then
  echo "docker stage: using the running engine at ${DOCKER_HOST:-the default socket}"
else
  [ "$(id -u)" = 0 ] || skip "no Docker engine is running, and starting one needs root"
  if ! command -v dockerd >/dev/null || ! command -v debootstrap >/dev/null; then
    { apt-get -o DPkg::Lock::Timeout=300 update -qq \
        && DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 install -y -qq docker.io debootstrap
    } >/tmp/bakeoff-apt-docker.log 2>&1 \
      || skip "cannot install docker.io and debootstrap from Debian's packages: $(tail -n 1 /tmp/bakeoff-apt-docker.log)"
  fi
  rc=0
  timed "engine start" engine_start || rc=$?
  [ "$rc" != 1 ] || skip "dockerd did not start here (its log is above)"
  [ "$rc" = 0 ] || exit "$rc"
fi

make --quiet setup
timed "base image" scripts/docker/base-image.sh "$(sed -n 's/^ARG PYTHON_IMAGE=//p' Dockerfile)"
timed "project image" env BAKEOFF_PIN_VENV=.venv scripts/docker/build-image.sh  # bakeoff:<version>
# Only the tests marked `docker`: the others in these files need no engine and ran in `make test`.
timed "tests" env BAKEOFF_DOCKER_REQUIRED=1 \
  .venv/bin/python -m pytest -q -p no:cacheprovider -m docker tests/test_docker.py tests/test_kfp_docker.py
echo "docker stage: passed in $((SECONDS - stage_start)) s"
