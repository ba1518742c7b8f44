#!/bin/sh
# Renders every $NGINX_ENVSUBST_TEMPLATE_DIR/**/*$NGINX_ENVSUBST_TEMPLATE_SUFFIX into
# $NGINX_ENVSUBST_OUTPUT_DIR (same relative path, suffix dropped) with envsubst, replacing only the
# variables that are defined (and whose names match NGINX_ENVSUBST_FILTER, a regex, when set).
set -e

template_dir=${NGINX_ENVSUBST_TEMPLATE_DIR:-/etc/nginx/templates}
suffix=${NGINX_ENVSUBST_TEMPLATE_SUFFIX:-.template}
output_dir=${NGINX_ENVSUBST_OUTPUT_DIR:-/etc/nginx/conf.d}
filter=${NGINX_ENVSUBST_FILTER:-}

log() {
    [ -n "${NGINX_ENTRYPOINT_QUIET_LOGS:-}" ] || echo "$@"
}

[ -d "$template_dir" ] || exit 0
if [ ! -w "$output_dir" ]; then
    log "$0: ERROR: $template_dir exists, but $output_dir is not writable"
    exit 0
fi

# The "${NAME} ..." list envsubst limits itself to.
defined_envs=$(awk -v filter="$filter" \
    'END { for (name in ENVIRON) if (name ~ filter) printf "${%s} ", name }' </dev/null)

find "$template_dir" -follow -type f -name "*$suffix" -print | while read -r template; do
    relative_path=${template#"$template_dir/"}
    output_path="$output_dir/${relative_path%"$suffix"}"
    mkdir -p "$(dirname "$output_path")"
    log "$0: Running envsubst on $template to $output_path"
    envsubst "$defined_envs" <"$template" >"$output_path"
done
