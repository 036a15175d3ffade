#!/usr/bin/env bash
# A real WordPress (Debian's package) on 127.0.0.1 with its own MariaDB, for tests and local
# trials. Nothing listens beyond loopback: MariaDB has only a unix socket, PHP's built-in server
# binds 127.0.0.1.
#
#   scripts/wordpress.sh install          apt packages (as root; apt-get update once if needed)
#   scripts/wordpress.sh start [PORT]     start (installing the blog on first start); prints the URL
#   scripts/wordpress.sh stop             stop PHP and MariaDB; nothing is left running
#   scripts/wordpress.sh status           "running URL" (exit 0) or "stopped" (exit 3)
#   scripts/wordpress.sh seed [POSTS]     sample posts, authors, categories, tags and comments
#   scripts/wordpress.sh wp CMD [ARGS]    php scripts/wordpress/wp.php CMD ... (see `wp help`)
#   scripts/wordpress.sh url              the base URL of the running instance
#
# Environment: WP_STATE_DIR (default /tmp/gazette-wp) holds the database, uploads, logs and pid
# files of one instance; several instances can run side by side with different state dirs.
# WP_PORT is the default port (8080). Remove the state dir (after stop) for a fresh blog.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
HELPERS="$HERE/wordpress"
STATE="${WP_STATE_DIR:-/tmp/gazette-wp}"
STATE="${STATE%/}"
export WP_STATE_DIR="$STATE"
SOCK="$STATE/mysqld.sock"
PACKAGES=(wordpress wordpress-theme-twentytwentyone php-cli php-mysql php-mbstring php-xml
    mariadb-server mariadb-client)

# OPcache for the command line too, with a file cache in the state dir: WordPress loads in
# ~0.1 s instead of ~0.3 s per wp.php run, and the server answers faster
PHP_OPTS=(-d opcache.enable_cli=1 -d "opcache.file_cache=$STATE/opcache")

log() { echo "wordpress.sh: $*" >&2; }
die() { log "$*"; exit 1; }

alive() { # pidfile -> 0 if that process is alive (a zombie is not)
    local pid stat
    [[ -s "$1" ]] || return 1
    pid=$(cat "$1")
    stat=$(ps -o stat= -p "$pid" 2>/dev/null) || return 1
    [[ -n $stat && $stat != Z* ]]
}

session_alive() { # pid -> 0 while a process of its session (setsid) is not yet a zombie
    ps -o stat= --sid "$1" 2>/dev/null | grep -qv '^Z'
}

cmd_install() {
    local missing=()
    for p in "${PACKAGES[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' \
            || missing+=("$p")
    done
    if ((${#missing[@]} == 0)); then
        log "packages already installed"
    else
        [[ $(id -u) == 0 ]] || die "install needs root (missing: ${missing[*]})"
        export DEBIAN_FRONTEND=noninteractive
        # an update is needed when the lists are empty, or the candidate is not known
        if ! apt-cache show wordpress >/dev/null 2>&1 \
            || [[ -z "$(ls -A /var/lib/apt/lists 2>/dev/null | grep -v -e lock -e partial)" ]]; then
            apt-get update -qq
        fi
        if ! apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null; then
            apt-get update -qq
            apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
        fi
        log "installed: ${missing[*]}"
    fi
    # Debian's packages may start a server of their own through invoke-rc.d; we use ours
    write_shim
}

# Debian's /usr/share/wordpress/wp-config.php loads /etc/wordpress/config-$WORDPRESS_CONFIG.php;
# ours (router.php and wp.php set WORDPRESS_CONFIG=gazette) loads the state dir's config.
write_shim() {
    local shim=/etc/wordpress/config-gazette.php
    local want
    want=$(cat <<'PHP'
<?php
// Written by Gazette's scripts/wordpress.sh: the instance is chosen by its state dir.
$gazette_state = defined('GAZETTE_WP_STATE') ? GAZETTE_WP_STATE : (getenv('WP_STATE_DIR') ?: '/tmp/gazette-wp');
require rtrim($gazette_state, '/') . '/wp-config.php';
PHP
)
    if [[ ! -f $shim ]] || [[ "$(cat "$shim")" != "$want" ]]; then
        [[ -d /etc/wordpress ]] || die "/etc/wordpress missing: run '$0 install'"
        printf '%s\n' "$want" >"$shim"
    fi
}

check_packages() {
    local tool
    for tool in php mariadbd mariadb-install-db mariadb; do
        command -v "$tool" >/dev/null 2>&1 || [[ -x /usr/sbin/$tool ]] \
            || die "$tool not found: run '$0 install'"
    done
    [[ -f /usr/share/wordpress/wp-load.php ]] || die "WordPress not installed: run '$0 install'"
    php -r 'exit(extension_loaded("mysqli") ? 0 : 1);' || die "php-mysql missing: run '$0 install'"
}

free_port() { # port -> 0 if nothing listens on 127.0.0.1:port
    ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

write_config() { # url
    local salt
    if [[ ! -s "$STATE/salt.php" ]]; then
        {
            echo '<?php'
            for k in AUTH_KEY SECURE_AUTH_KEY LOGGED_IN_KEY NONCE_KEY AUTH_SALT SECURE_AUTH_SALT \
                LOGGED_IN_SALT NONCE_SALT; do
                salt=$(head -c 48 /dev/urandom | base64 | tr -d '\n/+=')
                echo "define('$k', '$salt');"
            done
        } >"$STATE/salt.php"
    fi
    cat >"$STATE/wp-config.php" <<PHP
<?php
// Generated by scripts/wordpress.sh start; rewritten on every start.
define('DB_NAME', 'wordpress');
define('DB_USER', 'root'); // unix_socket authentication: PHP runs as root
define('DB_PASSWORD', '');
define('DB_HOST', 'localhost:$SOCK');
define('DB_CHARSET', 'utf8mb4');
define('WP_HOME', '$1');
define('WP_SITEURL', '$1');
define('DISABLE_WP_CRON', true);
define('WP_HTTP_BLOCK_EXTERNAL', true); // nothing beyond loopback
define('AUTOMATIC_UPDATER_DISABLED', true);
define('WP_AUTO_UPDATE_CORE', false);
define('WP_ENVIRONMENT_TYPE', 'local'); // application passwords on plain http
define('WPMU_PLUGIN_DIR', '$HELPERS/mu-plugins');
define('WP_DEBUG', false);
require __DIR__ . '/salt.php';
\$table_prefix = 'wp_';
PHP
}

start_mariadb() {
    if alive "$STATE/mariadb.pid" && [[ -S $SOCK ]]; then
        return
    fi
    if [[ ! -d "$STATE/db/mysql" ]]; then
        rm -rf "$STATE/db"
        mariadb-install-db --no-defaults --user=root --datadir="$STATE/db" \
            --auth-root-authentication-method=socket --skip-test-db >"$STATE/mariadb-install.log" 2>&1 \
            || { cat "$STATE/mariadb-install.log" >&2; die "mariadb-install-db failed"; }
    fi
    rm -f "$SOCK"
    # fast and small: a throwaway database
    setsid mariadbd --no-defaults --user=root --datadir="$STATE/db" --socket="$SOCK" \
        --skip-networking --pid-file="$STATE/mariadbd.pid" --log-error="$STATE/mariadb.log" \
        --innodb-buffer-pool-size=64M --innodb-log-file-size=16M \
        --innodb-flush-log-at-trx-commit=0 --innodb-doublewrite=0 --skip-log-bin \
        --character-set-server=utf8mb4 --collation-server=utf8mb4_unicode_ci \
        </dev/null >/dev/null 2>&1 &
    echo $! >"$STATE/mariadb.pid"
    local i
    for ((i = 0; i < 300; i++)); do
        if [[ -S $SOCK ]] && mariadb --no-defaults --socket="$SOCK" -uroot -e 'SELECT 1' >/dev/null 2>&1; then
            mariadb --no-defaults --socket="$SOCK" -uroot \
                -e 'CREATE DATABASE IF NOT EXISTS wordpress CHARACTER SET utf8mb4'
            return
        fi
        alive "$STATE/mariadb.pid" || { tail -20 "$STATE/mariadb.log" >&2; die "mariadbd exited"; }
        sleep 0.1
    done
    die "mariadbd did not come up in 30 s (see $STATE/mariadb.log)"
}

cmd_start() {
    local port="${1:-${WP_PORT:-8080}}"
    [[ $port =~ ^[0-9]+$ ]] || die "bad port: $port"
    mkdir -p "$STATE/uploads" "$STATE/opcache"
    if alive "$STATE/php.pid" && [[ -s "$STATE/url" ]]; then
        local url
        url=$(cat "$STATE/url")
        [[ "$url" == "http://127.0.0.1:$port" ]] || log "already running at $url (not $port)"
        echo "$url"
        return
    fi
    check_packages
    write_shim
    free_port "$port" || die "127.0.0.1:$port is in use"
    local url="http://127.0.0.1:$port"
    echo "$url" >"$STATE/url"
    write_config "$url"
    start_mariadb
    php "${PHP_OPTS[@]}" "$HELPERS/wp.php" install --url "$url" >"$STATE/install.json" \
        || die "WordPress install failed"
    PHP_CLI_SERVER_WORKERS=${PHP_CLI_SERVER_WORKERS:-4} setsid php "${PHP_OPTS[@]}" \
        -d display_errors=stderr -d log_errors=0 -d memory_limit=256M \
        -S "127.0.0.1:$port" -t /usr/share/wordpress "$HELPERS/router.php" \
        </dev/null >>"$STATE/php.log" 2>&1 &
    echo $! >"$STATE/php.pid"
    local i
    for ((i = 0; i < 200; i++)); do
        if curl -fsS -o /dev/null --max-time 2 "$url/wp-json/" 2>/dev/null \
            || curl -fsS -o /dev/null --max-time 2 "$url/feed/" 2>/dev/null; then
            echo "$url"
            return
        fi
        alive "$STATE/php.pid" || { tail -20 "$STATE/php.log" >&2; die "php -S exited"; }
        sleep 0.05
    done
    die "WordPress did not answer at $url in 10 s (see $STATE/php.log)"
}

stop_group() { # pidfile name
    local pidfile=$1 name=$2 pid i
    [[ -s $pidfile ]] || return 0
    pid=$(cat "$pidfile")
    if kill -0 "$pid" 2>/dev/null; then
        # setsid made it a group leader: its group holds the PHP workers too
        kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
        for ((i = 0; i < 200; i++)); do
            session_alive "$pid" || break
            sleep 0.05
        done
        if session_alive "$pid"; then
            log "$name did not stop in 10 s: killing"
            kill -KILL -- "-$pid" 2>/dev/null || true
        fi
    fi
    rm -f "$pidfile"
}

cmd_stop() {
    stop_group "$STATE/php.pid" "php"
    stop_group "$STATE/mariadb.pid" "mariadbd"
    rm -f "$SOCK"
}

cmd_status() {
    if alive "$STATE/php.pid" && alive "$STATE/mariadb.pid"; then
        echo "running $(cat "$STATE/url")"
    else
        echo "stopped"
        return 3
    fi
}

cmd_url() {
    alive "$STATE/php.pid" || die "not running (state dir $STATE)"
    cat "$STATE/url"
}

cmd_wp() {
    [[ -s "$STATE/url" ]] || die "not started (state dir $STATE)"
    php "${PHP_OPTS[@]}" "$HELPERS/wp.php" "$@"
}

cmd_seed() {
    alive "$STATE/mariadb.pid" || die "not running: '$0 start' first"
    php "${PHP_OPTS[@]}" "$HELPERS/wp.php" seed --posts "${1:-25}"
}

main() {
    local cmd="${1:-}"
    shift || true
    case "$cmd" in
        install) cmd_install "$@" ;;
        start) cmd_start "$@" ;;
        stop) cmd_stop "$@" ;;
        restart) cmd_stop && cmd_start "$@" ;;
        status) cmd_status "$@" ;;
        seed) cmd_seed "$@" ;;
        url) cmd_url "$@" ;;
        wp) cmd_wp "$@" ;;
        *) sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2 ;;
    esac
}

main "$@"
