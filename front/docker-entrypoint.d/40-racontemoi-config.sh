#!/bin/sh
# Run by the official /docker-entrypoint.sh after 20-envsubst-on-templates.sh. Checks that the
# nginx server config was really rendered (the official step only logs when it cannot write),
# then renders /config.js from STORY_URL and STUDENTS_API_URL. Any failure exits non-zero, which
# stops the container: a front that would serve a wrong or missing config must not start.
set -eu

ME=$(basename "$0")

fail() {
    echo "$ME: ERROR: $*" >&2
    exit 1
}

# js_string NAME: prints the value of the environment variable NAME as a double-quoted
# JavaScript string literal. Quotes, backslashes, <, >, &, control characters and the line
# separators U+2028/U+2029 become \uXXXX escapes, so no value can end the string, the script
# or the line; every other byte (UTF-8 text included) is kept as is.
js_string() {
    LC_ALL=C awk -v name="$1" 'BEGIN {
        for (code = 1; code < 128; code++) ord[sprintf("%c", code)] = code
        value = ENVIRON[name]
        out = "\""
        for (i = 1; i <= length(value); i++) {
            c = substr(value, i, 1)
            three = substr(value, i, 3)
            if (three == "\342\200\250" || three == "\342\200\251") {
                out = out (three == "\342\200\250" ? "\\u2028" : "\\u2029")
                i += 2
                continue
            }
            code = (c in ord) ? ord[c] : 128
            if (code < 32 || code == 127 || c == "\"" || c == "\\" || c == "'\''" || c == "<" || c == ">" || c == "&")
                out = out sprintf("\\u%04x", code)
            else
                out = out c
        }
        print out "\""
    }'
}

conf="${NGINX_ENVSUBST_OUTPUT_DIR:?}/default.conf"
[ -s "$conf" ] || fail "$conf was not rendered from /etc/nginx/templates (is $NGINX_ENVSUBST_OUTPUT_DIR writable?)"
# shellcheck disable=SC2016 # a literal ${ is what an unset template variable leaves behind
if grep -q '\${' "$conf"; then
    fail "$conf still holds unset variables: $(grep -o '\${[A-Za-z0-9_]*}' "$conf" | sort -u | tr '\n' ' ')"
fi

config_js="${FRONT_CONFIG_JS:?}"
if [ -z "${STORY_URL:-}" ] || [ -z "${STUDENTS_API_URL:-}" ]; then
    fail "STORY_URL and STUDENTS_API_URL must be set"
fi
story_url=$(js_string STORY_URL) || fail "cannot encode STORY_URL"
students_api_url=$(js_string STUDENTS_API_URL) || fail "cannot encode STUDENTS_API_URL"

mkdir -p "$(dirname "$config_js")" 2>/dev/null || fail "cannot create the directory of $config_js"
# Written next to its final place and renamed, so nginx never serves half a file.
{
    echo "// Rendered by $ME when the container started. Do not edit."
    echo "window.APP_CONFIG = Object.freeze({"
    echo "  storyUrl: $story_url,"
    echo "  studentsApiUrl: $students_api_url"
    echo "});"
} 2>/dev/null >"$config_js.tmp" || fail "cannot write $config_js"
mv -f "$config_js.tmp" "$config_js" || fail "cannot write $config_js"
echo "$ME: rendered $config_js (storyUrl $story_url, studentsApiUrl $students_api_url)"
