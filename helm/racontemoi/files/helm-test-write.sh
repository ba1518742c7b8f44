#!/bin/sh
# `helm test`'s write check, run by the front image's busybox (sh, wget, nc, timeout): through the
# front, as the page does, delete a test student an interrupted run may have left, create it, read
# it back (from whichever back replica answers) and delete it. Any other answer fails the test.
# FRONT_URL (http://host[:port]), STUDENTS_API_PREFIX, API_USERNAME_FILE and API_PASSWORD_FILE come
# from the pod.
set -eu
name=helm-test-write-check
students="$FRONT_URL$STUDENTS_API_PREFIX/students"
auth="Authorization: Basic $(printf '%s:%s' "$(cat "$API_USERNAME_FILE")" "$(cat "$API_PASSWORD_FILE")" \
    | base64 | tr -d '\n')"

# busybox wget sends GET and POST only: DELETE goes over nc, and prints the answer's status code.
# nc's input stays open (an empty line a second, which HTTP lets a server skip) until the answer
# has come and nc has quit: closing it at once would tell nginx that the client went away, and
# nginx drops such a request.
delete() {
    authority=${FRONT_URL#http://}
    host=${authority%:*}
    port=${authority##*:}
    [ "$port" != "$authority" ] || port=80
    {
        printf 'DELETE %s/%s HTTP/1.1\r\nHost: %s\r\n%s\r\nConnection: close\r\n\r\n' \
            "$STUDENTS_API_PREFIX/students" "$name" "$authority" "$auth"
        while sleep 1; do printf '\r\n'; done
    } | timeout 10 nc "$host" "$port" | head -n 1 | cut -d ' ' -f 2
}

fail() {
    echo "write check: $*" >&2
    exit 1
}

status=$(delete) || true
case "$status" in
    204 | 404) ;;
    *) fail "DELETE of a leftover $name answered ${status:-nothing}" ;;
esac
# Each request within 10 s (busybox's timeout: wget -T crashes Debian's static busybox 1.35).
timeout 10 wget -q -O /dev/null --header "$auth" --header 'Content-Type: application/json' \
    --post-data "{\"name\":\"$name\",\"age\":7}" "$students" || fail "creating $name failed"
body=$(timeout 10 wget -q -O - --header "$auth" "$students/$name") || fail "reading $name back failed"
case "$body" in
    *"\"name\":\"$name\",\"age\":7"*) ;;
    *) fail "reading $name back answered $body" ;;
esac
status=$(delete) || true
[ "$status" = 204 ] || fail "deleting $name answered ${status:-nothing}"
echo "write check: $name created, read back and deleted through $FRONT_URL"
