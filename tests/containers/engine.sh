# shellcheck shell=bash
# Sourced by scripts/setup/containers.sh and scripts/stages/containers.sh.
# Picks the docker client and makes sure a Docker engine answers.

# Debian's client (/usr/bin/docker) matches Debian's engine and builds with BuildKit without buildx;
# a newer client elsewhere on PATH may lack buildx. DOCKER overrides the choice.
if [ -z "${DOCKER:-}" ]; then
    if [ -x /usr/bin/docker ]; then DOCKER=/usr/bin/docker; else DOCKER=$(command -v docker || echo docker); fi
fi
export DOCKER
export DOCKER_BUILDKIT=1

engine_answers() {
    "$DOCKER" info >/dev/null 2>&1
}

# Starts dockerd in the background when no engine answers (no systemd here), then waits for it.
engine_up() {
    engine_answers && return 0
    if ! command -v dockerd >/dev/null 2>&1; then
        echo "engine: no Docker engine answers and dockerd is not installed (run scripts/setup/containers.sh)" >&2
        return 1
    fi
    echo "engine: starting dockerd (log: /var/log/dockerd.log)"
    # Without the caller's other descriptors: under `flock /tmp/racontemoi-docker.lock ...` the
    # daemon would inherit the lock's descriptor and hold the lock for as long as it runs.
    (
        for fd in /proc/"$BASHPID"/fd/*; do
            fd=${fd##*/}
            if [ "$fd" -gt 2 ] 2>/dev/null; then eval "exec $fd>&-"; fi
        done
        exec nohup dockerd >>/var/log/dockerd.log 2>&1
    ) &
    local i
    for i in $(seq 1 60); do
        engine_answers && { echo "engine: up after ${i}s"; return 0; }
        sleep 1
    done
    echo "engine: dockerd did not answer within 60s; last log lines:" >&2
    tail -n 20 /var/log/dockerd.log >&2 || true
    return 1
}
