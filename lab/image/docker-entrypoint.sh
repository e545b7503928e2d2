#!/bin/bash
# Entrypoint of the lab's postgres image. It behaves like the official postgres image's entrypoint
# in the ways PKS and pksplay can observe:
#   - "postgres" (or a first argument starting with "-") starts the server, anything else is exec'd;
#   - started as root, it fixes ownership of PGDATA and the socket directory, then drops to postgres;
#   - an empty PGDATA is initialised with initdb, the superuser password from POSTGRES_PASSWORD
#     (or POSTGRES_PASSWORD_FILE), listen_addresses = '*', local connections trusted and
#     "host all all all scram-sha-256" appended to pg_hba.conf;
#   - POSTGRES_USER, POSTGRES_DB, POSTGRES_INITDB_ARGS, POSTGRES_HOST_AUTH_METHOD and
#     /docker-entrypoint-initdb.d/*.{sh,sql,sql.gz} work as documented for the official image;
#   - the server is exec'd, so it is pid 1 and the image's STOPSIGNAL (SIGINT) is a fast shutdown.
set -Eeo pipefail

# VAR_FILE holds the value of VAR (docker secrets).
file_env() {
    local var=$1 fileVar="${1}_FILE" def=${2:-}
    if [[ -n ${!var:-} && -n ${!fileVar:-} ]]; then
        echo "error: both $var and $fileVar are set (but are exclusive)" >&2
        exit 1
    fi
    local val=$def
    if [[ -n ${!var:-} ]]; then
        val=${!var}
    elif [[ -n ${!fileVar:-} ]]; then
        val=$(<"${!fileVar}")
    fi
    export "$var"="$val"
    unset "$fileVar"
}

wants_help() {
    local arg
    for arg; do
        case $arg in -'?' | --help | --describe-config | -V | --version) return 0 ;; esac
    done
    return 1
}

prepare_directories() {
    mkdir -p "$PGDATA"
    chmod 00700 "$PGDATA" 2>/dev/null || :
    mkdir -p /var/run/postgresql
    chmod 03775 /var/run/postgresql 2>/dev/null || :
    if [[ $(id -u) == 0 ]]; then
        find "$PGDATA" \! -user postgres -exec chown postgres: '{}' +
        find /var/run/postgresql \! -user postgres -exec chown postgres: '{}' +
    fi
}

init_database() {
    if [[ -z ${POSTGRES_PASSWORD:-} && ${POSTGRES_HOST_AUTH_METHOD:-} != trust ]]; then
        cat >&2 <<'MSG'
Error: Database is uninitialized and superuser password is not specified.
       You must specify POSTGRES_PASSWORD to a non-empty value for the
       superuser. For example, "-e POSTGRES_PASSWORD=password" on "docker run".
MSG
        exit 1
    fi
    # shellcheck disable=SC2086
    initdb --username="$POSTGRES_USER" --pwfile=<(printf '%s\n' "$POSTGRES_PASSWORD") \
        $POSTGRES_INITDB_ARGS
    sed -ri "s!^#?(listen_addresses)\s*=\s*\S+.*!\1 = '*'!" "$PGDATA/postgresql.conf"
    printf '\nhost all all all %s\n' "${POSTGRES_HOST_AUTH_METHOD:-scram-sha-256}" >>"$PGDATA/pg_hba.conf"

    # A server for the init scripts only, reachable through the socket and nothing else.
    PGUSER=$POSTGRES_USER pg_ctl -D "$PGDATA" -o "-c listen_addresses='' -p 5432" -w start
    local psql=(psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --no-password --no-psqlrc)
    if [[ $POSTGRES_DB != postgres ]]; then
        "${psql[@]}" --dbname postgres --set db="$POSTGRES_DB" <<<'CREATE DATABASE :"db" ;'
    fi
    local f
    for f in /docker-entrypoint-initdb.d/*; do
        [[ -e $f ]] || continue
        case $f in
            *.sh)
                # shellcheck disable=SC1090
                if [[ -x $f ]]; then echo "$0: running $f"; "$f"; else echo "$0: sourcing $f"; . "$f"; fi ;;
            *.sql) echo "$0: running $f"; "${psql[@]}" --dbname "$POSTGRES_DB" -f "$f" ;;
            *.sql.gz) echo "$0: running $f"; gunzip -c "$f" | "${psql[@]}" --dbname "$POSTGRES_DB" ;;
            *) echo "$0: ignoring $f" ;;
        esac
    done
    PGUSER=$POSTGRES_USER pg_ctl -D "$PGDATA" -m fast -w stop
    echo
    echo 'PostgreSQL init process complete; ready for start up.'
    echo
}

main() {
    if [[ ${1:0:1} == - ]]; then
        set -- postgres "$@"
    fi
    if [[ $1 == postgres ]] && ! wants_help "$@"; then
        file_env POSTGRES_PASSWORD
        file_env POSTGRES_USER postgres
        file_env POSTGRES_DB "$POSTGRES_USER"
        file_env POSTGRES_INITDB_ARGS
        prepare_directories
        if [[ $(id -u) == 0 ]]; then
            exec setpriv --reuid=postgres --regid=postgres --init-groups "${BASH_SOURCE[0]}" "$@"
        fi
        if [[ -s $PGDATA/PG_VERSION ]]; then
            echo
            echo 'PostgreSQL Database directory appears to contain a database; Skipping initialization'
            echo
        else
            init_database
        fi
    fi
    exec "$@"
}

main "$@"
