#!/bin/sh
# The stand-in's entrypoint, with the official postgres image's contract (its docker-entrypoint.sh):
# for a `postgres` command, as root, own PGDATA and re-run as the postgres user; on the first start
# (no PG_VERSION in PGDATA), initdb with POSTGRES_USER (default postgres) and POSTGRES_PASSWORD
# (required unless POSTGRES_HOST_AUTH_METHOD=trust), password logins from anywhere
# (host all all all scram-sha-256), listen on every address, create POSTGRES_DB (default: the
# user's name), run /docker-entrypoint-initdb.d/*.sh and *.sql on a server listening on its unix
# socket only; then exec the command. Like the official one, it owns PGDATA and
# /var/run/postgresql (a tmpfs on a read-only root) before it drops root.
set -eu

if [ "${1#-}" != "$1" ]; then
    set -- postgres "$@"
fi

if [ "$1" = postgres ]; then
    # The data directory and the socket's directory (a tmpfs on a read-only root), owned by postgres.
    mkdir -p "$PGDATA" /var/run/postgresql
    chmod 700 "$PGDATA" || :
    chmod 3775 /var/run/postgresql || :
    if [ "$(id -u)" = 0 ]; then
        find "$PGDATA" /var/run/postgresql \! -user postgres -exec chown postgres:postgres '{}' +
        exec setpriv --reuid=postgres --regid=postgres --init-groups "$0" "$@"
    fi
fi

if [ "$1" = postgres ] && [ ! -s "$PGDATA/PG_VERSION" ]; then
    user=${POSTGRES_USER:-postgres}
    database=${POSTGRES_DB:-$user}
    auth=${POSTGRES_HOST_AUTH_METHOD:-scram-sha-256}
    if [ -z "${POSTGRES_PASSWORD:-}" ] && [ "$auth" != trust ]; then
        echo "Error: Database is uninitialized and superuser password is not specified." >&2
        echo "       You must specify POSTGRES_PASSWORD to a non-empty value for the superuser." >&2
        exit 1
    fi
    pwfile=$(mktemp)
    printf '%s\n' "${POSTGRES_PASSWORD:-}" >"$pwfile"
    # shellcheck disable=SC2086 # POSTGRES_INITDB_ARGS is a list of arguments, as in the official image
    initdb --username="$user" --pwfile="$pwfile" ${POSTGRES_INITDB_ARGS:-}
    rm -f "$pwfile"
    printf '\nhost all all all %s\n' "$auth" >>"$PGDATA/pg_hba.conf"
    printf "\nlisten_addresses = '*'\n" >>"$PGDATA/postgresql.conf"

    pg_ctl -D "$PGDATA" -o "-c listen_addresses=''" -w start
    if [ "$database" != postgres ]; then
        # psql quotes the name (:"db"); it interpolates variables on its input, not in -c.
        echo 'CREATE DATABASE :"db";' \
            | psql -v ON_ERROR_STOP=1 --username "$user" --dbname postgres --set db="$database"
    fi
    for script in /docker-entrypoint-initdb.d/*; do
        case "$script" in
            *.sh)
                echo "running $script"
                # shellcheck disable=SC1090 # the user's init scripts, sourced as the official image does
                . "$script"
                ;;
            *.sql) echo "running $script"; psql -v ON_ERROR_STOP=1 --username "$user" --dbname "$database" -f "$script" ;;
            *) ;;
        esac
    done
    pg_ctl -D "$PGDATA" -m fast -w stop
    echo "PostgreSQL init process complete; ready for start up."
fi

exec "$@"
