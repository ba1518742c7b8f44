#!/bin/sh
# Run by the official /docker-entrypoint.sh after the template is rendered, before nginx starts.
# nginx 1.22 to 1.30 as configured here resolves the back's name once, at start, and exits with
# "[emerg] host not found in upstream" when it does not resolve: on a node whose cluster DNS is
# not serving yet, every front pod would crash-loop and wait out the restart backoff. So this step
# waits, about BACK_RESOLVE_TIMEOUT seconds at most, for FRONT_BACK_HOSTNAME (from BACK_URL) to
# resolve, and logs it; then nginx starts either way. An IP address is not waited for, nor is
# anything when BACK_RESOLVE_TIMEOUT is 0.
set -eu

ME=$(basename "$0")
name=${FRONT_BACK_HOSTNAME:?}
timeout=${BACK_RESOLVE_TIMEOUT:-20}

case "$name" in
    *:*) exit 0 ;;      # an IPv6 address
    *[!0-9.]*) ;;       # a host name
    *) exit 0 ;;        # an IPv4 address
esac
[ "$timeout" -gt 0 ] || exit 0
if ! command -v getent >/dev/null 2>&1; then
    echo "$ME: no getent: not waiting for $name to resolve"
    exit 0
fi

# Resolved by the C library, through /etc/hosts and DNS, as nginx itself resolves it.
started=$(date +%s)
waited=0
until address=$(getent hosts "$name" 2>/dev/null); do
    waited=$(($(date +%s) - started))
    if [ "$waited" -ge "$timeout" ]; then
        echo "$ME: WARNING: $name (BACK_URL) still does not resolve after ${waited}s; starting nginx anyway" >&2
        exit 0
    fi
    [ "$waited" -gt 0 ] || echo "$ME: $name (BACK_URL) does not resolve yet; waiting up to ${timeout}s"
    sleep 1
done
echo "$ME: $name (BACK_URL) resolves to ${address%% *}$([ "$waited" -eq 0 ] || echo " after ${waited}s")"
