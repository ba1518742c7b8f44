#!/bin/sh
# Test stand-in for the start-up of the official nginx image (written for these tests, not a copy
# of it), run with busybox applets like the alpine image: executes the front's
# docker-entrypoint.d steps in version-sort order under `set -e`, sourcing *.envsh and running
# executable *.sh, with the official 20-envsubst-on-templates.sh step in its place: envsubst of
# every *.template into NGINX_ENVSUBST_OUTPUT_DIR, limited to the defined variables whose names
# match NGINX_ENVSUBST_FILTER, and, like the official step, only a log line when that directory
# is not writable. It stops before starting nginx.
# Usage: entrypoint_standin.sh STEPS_DIR TEMPLATES_DIR
set -e

steps_dir=$1
templates_dir=$2

envsubst_on_templates() {
    output_dir=${NGINX_ENVSUBST_OUTPUT_DIR:-/etc/nginx/conf.d}
    if [ ! -w "$output_dir" ]; then
        echo "stand-in 20-envsubst-on-templates.sh: ERROR: $output_dir is not writable"
        return 0
    fi
    defined=$(awk 'END { for (name in ENVIRON) print name }' </dev/null |
        grep -E "${NGINX_ENVSUBST_FILTER:-.}" | sed 's/.*/${&}/' | tr '\n' ' ')
    for template in "$templates_dir"/*.template; do
        # shellcheck disable=SC2094 # reads the template, writes another file of the same base name
        envsubst "$defined" <"$template" >"$output_dir/$(basename "$template" .template)"
    done
}

{ ls "$steps_dir"; echo 20-envsubst-on-templates.sh; } | sort -V | while read -r step; do
    case "$step" in
        20-envsubst-on-templates.sh) envsubst_on_templates ;;
        *.envsh)
            # shellcheck disable=SC1090 # the steps are the front's own, listed at run time
            if [ -x "$steps_dir/$step" ]; then . "$steps_dir/$step"; fi
            ;;
        *.sh) if [ -x "$steps_dir/$step" ]; then "$steps_dir/$step"; fi ;;
    esac
done
