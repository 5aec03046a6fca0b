# Start and stop a private Docker engine (and remove_tree, for folders left with mounts in them).
# Sourced, not run: the caller needs DOCKERD_PID for its trap, and DOCKER_HOST for every docker
# client (CLI, docker-py, kfp.local) it starts afterwards.
#
# Why a private engine: CI machines have Debian's docker.io installed but not running, and no
# systemd to start it. We run `dockerd` by hand as root, with
#   - its data root in a persistent cache folder, so images (the stand-in base, build layers)
#     survive between CI runs on the same machine;
#   - its exec root and socket in a fresh temporary folder, so two runs never share a socket;
#   - no bridge and no iptables rules: every container and build here uses --network=host and
#     talks to services on 127.0.0.1, so the engine never has to touch the host's firewall.
# It is stopped by the PID we started, never by name. engine_start returns 1 when dockerd cannot
# start here (the caller skips, saying why) and 2 when another run holds the engine's cache.

BAKEOFF_DOCKER_CACHE=${BAKEOFF_DOCKER_CACHE:-/var/cache/bakeoff-docker}

engine_start() {
  local run_dir
  mkdir -p "$BAKEOFF_DOCKER_CACHE/data"
  # One engine per data root: a second dockerd on it would fight over its databases. Wait for
  # another run on this machine to finish (10 min at most) rather than fail at once.
  exec 9>"$BAKEOFF_DOCKER_CACHE/lock"
  if ! flock -w 600 9; then
    echo "another engine holds $BAKEOFF_DOCKER_CACHE/lock" >&2
    return 2
  fi
  run_dir=$(mktemp -d /tmp/bakeoff-dockerd.XXXXXX)
  DOCKERD_RUN_DIR=$run_dir
  DOCKERD_LOG=$run_dir/dockerd.log
  dockerd --data-root "$BAKEOFF_DOCKER_CACHE/data" --exec-root "$run_dir/exec" \
    --pidfile "$run_dir/dockerd.pid" -H "unix://$run_dir/docker.sock" \
    --bridge=none --iptables=false --ip-masq=false >"$DOCKERD_LOG" 2>&1 9>&- &
  DOCKERD_PID=$!
  export DOCKER_HOST="unix://$run_dir/docker.sock"
  # Ready in about 2 s; give it 30 s at most, and stop waiting at once if it died.
  local i
  for i in $(seq 1 60); do
    if docker version >/dev/null 2>&1; then
      return 0
    fi
    if ! kill -0 "$DOCKERD_PID" 2>/dev/null; then
      break
    fi
    sleep 0.5
  done
  echo "dockerd did not become ready; the end of its log:" >&2
  tail -n 20 "$DOCKERD_LOG" >&2 || true
  engine_stop
  return 1
}

engine_stop() {
  [ -n "${DOCKERD_PID:-}" ] || return 0
  if kill -0 "$DOCKERD_PID" 2>/dev/null; then
    kill -TERM "$DOCKERD_PID" 2>/dev/null || true
    # dockerd stops its containers first; 20 s is plenty, then it is killed.
    local i
    for i in $(seq 1 40); do
      kill -0 "$DOCKERD_PID" 2>/dev/null || break
      sleep 0.5
    done
    kill -KILL "$DOCKERD_PID" 2>/dev/null || true
  fi
  wait "$DOCKERD_PID" 2>/dev/null || true
  DOCKERD_PID=
  # dockerd leaves its network namespace mounted in the exec root even after a clean stop.
  remove_tree "$DOCKERD_RUN_DIR"
  exec 9>&-  # releases the lock
}

# rm -rf DIR, after unmounting whatever is mounted below it (deepest first), so that rm never
# walks into a mounted filesystem. dockerd (netns) and debootstrap (proc, sys) leave such mounts.
remove_tree() {
  local dir=${1:?} mounted
  for mounted in $(awk -v d="$dir/" 'index($2, d) == 1 {print $2}' /proc/mounts | sort -r); do
    umount "$mounted" 2>/dev/null || umount -l "$mounted" || true
  done
  rm -rf "$dir" || true
}
