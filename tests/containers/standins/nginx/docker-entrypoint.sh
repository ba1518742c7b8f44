#!/bin/sh
# The official nginx image's entrypoint contract: when the command is nginx or nginx-debug, run
# /docker-entrypoint.d/ in version order (executable *.envsh sourced, executable *.sh run, anything
# else ignored), stop at the first failure, then exec the command. Run by busybox ash, as the
# alpine image runs it. STANDIN_ENTRYPOINT_DIR (not the official image's) points it at another
# directory of steps: the front tests (tests/front/harness.py) run it on the host.
set -e

steps=${STANDIN_ENTRYPOINT_DIR:-/docker-entrypoint.d}

log() {
    [ -n "${NGINX_ENTRYPOINT_QUIET_LOGS:-}" ] || echo "$@"
}

if [ "$1" = nginx ] || [ "$1" = nginx-debug ]; then
    if [ -n "$(find "$steps/" -mindepth 1 -maxdepth 1 -type f -print -quit 2>/dev/null)" ]; then
        log "$0: $steps/ is not empty, will attempt to perform configuration"
        find "$steps/" -follow -type f -print | sort -V | while read -r f; do
            case "$f" in
                *.envsh)
                    # shellcheck source=/dev/null
                    if [ -x "$f" ]; then log "$0: Sourcing $f"; . "$f"
                    else log "$0: Ignoring $f, not executable"; fi ;;
                *.sh)
                    if [ -x "$f" ]; then log "$0: Launching $f"; "$f"
                    else log "$0: Ignoring $f, not executable"; fi ;;
                *) log "$0: Ignoring $f" ;;
            esac
        done
        log "$0: Configuration complete; ready for start up"
    else
        log "$0: No files found in $steps/, skipping configuration"
    fi
fi

exec "$@"
