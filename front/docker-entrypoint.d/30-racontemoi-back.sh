#!/bin/sh
# Run by the official /docker-entrypoint.sh after the templates are rendered, before nginx starts:
# chooses how nginx finds the back (the servers of its upstream, one of the rendered variants of
# templates/racontemoi-back/), so that a back name that does not resolve never stops the front:
# - an IP address, or a name of /etc/hosts (which nginx's resolver does not read): fixed.conf;
# - nginx 1.27.3 and newer: resolve.conf, nginx resolves the name at run time, again every 5 s
#   (it starts at once; the proxied routes answer the JSON 502 until the name has an address);
# - older nginx (Debian's 1.22, which the tests run) resolves a name only when it starts or
#   reloads, and stops when it cannot. So this step waits, BACK_RESOLVE_TIMEOUT seconds at most,
#   for the name, then starts nginx with fixed.conf, or with unresolved.conf (the JSON 502) if
#   it still does not resolve; and it leaves a watcher behind that looks the name up every 5 s
#   and reloads nginx when its addresses change: once it resolves, and when it moves.
# Every lookup is bounded by `timeout`: musl's resolver takes about 10 s to give up on a DNS
# server that does not answer.
set -eu

ME=$(basename "$0")
name=${FRONT_BACK_HOSTNAME:?}
timeout=${BACK_RESOLVE_TIMEOUT:-20}
variants="${NGINX_ENVSUBST_OUTPUT_DIR:?}/racontemoi-back"
upstream=${FRONT_BACK_UPSTREAM:?}
interval=5  # seconds between two lookups of the watcher, as resolve.conf's valid=5s

# use VARIANT: makes the rendered variant the upstream's servers (replaced whole, never half).
use() {
    cp "$variants/$1.conf" "$upstream.tmp"
    mv -f "$upstream.tmp" "$upstream"
}

# addresses SECONDS: the back's addresses (sorted, one line) as the C library resolves them, as
# nginx older than 1.27.3 resolves them; empty when the name does not resolve within SECONDS.
addresses() {
    { timeout "$1" getent hosts "$name" 2>/dev/null || true; } | awk '{ print $1 }' | sort | paste -s -d ' ' -
}

# version_at_least VERSION MINIMUM: both dotted numbers.
version_at_least() {
    [ "$(printf '%s\n%s\n' "$2" "$1" | sort -t. -k1,1n -k2,2n -k3,3n | head -n 1)" = "$2" ]
}

# watch CURRENT: every $interval seconds, looks the name up and, when its addresses differ from
# CURRENT (those nginx was given), switches the upstream's variant and reloads nginx. Runs in
# the background for the container's life; stops when the rendered upstream is gone.
watch() {
    current=$1
    while sleep "$interval" && [ -f "$upstream" ]; do
        found=$(addresses "$interval")
        [ "$found" != "$current" ] || continue
        if [ -n "$found" ]; then use fixed; else use unresolved; fi
        if said=$(nginx -s reload 2>&1); then
            echo "$ME: $name (BACK_URL) now resolves to ${found:-nothing}; nginx reloaded"
        else
            echo "$ME: $name (BACK_URL) now resolves to ${found:-nothing}; nginx not reloaded: $said"
        fi
        current=$found
    done
}

case "$name" in
    *:*) use fixed; exit 0 ;;  # an IPv6 address
    *[!0-9.]*) ;;              # a host name
    *) use fixed; exit 0 ;;    # an IPv4 address
esac
if [ -r /etc/hosts ] && awk -v name="$name" '
        !/^[ \t]*#/ { for (i = 2; i <= NF && $i !~ /^#/; i++) if (tolower($i) == tolower(name)) found = 1 }
        END { exit !found }' /etc/hosts; then
    use fixed
    echo "$ME: $name (BACK_URL) is in /etc/hosts: nginx resolves it when it starts"
    exit 0
fi

version=$(nginx -v 2>&1 || true)
version=${version##*nginx/}
version=${version%% *}
if version_at_least "$version" 1.27.3 && [ -n "${FRONT_BACK_RESOLVER:-}" ]; then
    use resolve
    echo "$ME: nginx $version resolves ${FRONT_BACK_RESOLVE_SERVER%:*} (BACK_URL) at run time, every ${interval}s, through $FRONT_BACK_RESOLVER"
    exit 0
fi
if ! command -v getent >/dev/null 2>&1; then
    use fixed
    echo "$ME: no getent: nginx $version resolves $name (BACK_URL) when it starts"
    exit 0
fi

# nginx older than 1.27.3 (or no DNS server known): wait for the name, bounded.
# Each lookup gets 2 s at most (1 s when less is left): a DNS server that answers does so in
# milliseconds, and the first failure is logged then, not after the whole wait.
started=$(date +%s)
waited=0
while :; do
    found=$(addresses "$((timeout - waited >= 2 ? 2 : 1))")
    waited=$(($(date +%s) - started))
    [ -z "$found" ] || break
    [ "$timeout" -eq 0 ] && break
    [ -n "${logged:-}" ] || echo "$ME: $name (BACK_URL) does not resolve yet; waiting up to ${timeout}s"
    logged=1
    if [ "$waited" -ge "$timeout" ]; then
        echo "$ME: WARNING: $name (BACK_URL) still does not resolve after ${waited}s; nginx starts answering 502 to the proxied routes and follows the name once it resolves" >&2
        break
    fi
    sleep 1
    waited=$(($(date +%s) - started))
done
if [ -n "$found" ]; then
    use fixed
    echo "$ME: $name (BACK_URL) resolves to $found$([ "$waited" -eq 0 ] || echo " after ${waited}s"); nginx $version follows it by reloading when it moves"
else
    use unresolved
fi
watch "$found" </dev/null &
echo $! >"$variants/watch.pid"
