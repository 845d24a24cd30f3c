#!/usr/bin/env bash
# Installs `migrate` from this checkout. With the client libraries its
# PostgreSQL and MariaDB/MySQL drivers link against (SQLite is compiled in)
# found, or installed with apt-get or Homebrew, it runs `cargo install`.
# Without them and without a package manager (or with `--bundled`), it builds
# libpq and OpenSSL from source (the `bundled` feature: needs a C compiler,
# perl and make) and installs a binary for PostgreSQL and SQLite that links
# only the C runtime; MariaDB/MySQL is then left out (see README). Safe to run
# again.
set -euo pipefail
cd "$(dirname "$0")"

bundled=0
for arg in "$@"; do
    case "$arg" in
        --bundled) bundled=1 ;;
        *) echo "error: unknown argument \`$arg\` (usage: ./install.sh [--bundled])" >&2; exit 2 ;;
    esac
done

have_libs() {
    command -v pkg-config >/dev/null &&
        pkg-config --exists libpq && { pkg-config --exists libmariadb || pkg-config --exists mysqlclient; }
}

if ! command -v cargo >/dev/null; then
    echo "error: cargo not found; install Rust from https://rustup.rs and run this again" >&2
    exit 2
fi

if [ "$bundled" -eq 0 ] && ! have_libs; then
    if command -v apt-get >/dev/null; then
        sudo=""; [ "$(id -u)" -ne 0 ] && sudo="sudo"
        echo "installing libpq-dev, libmariadb-dev and pkg-config with apt-get" >&2
        $sudo apt-get update -qq
        $sudo apt-get install -y -qq libpq-dev libmariadb-dev pkg-config >/dev/null
    elif command -v brew >/dev/null; then
        echo "installing libpq and mariadb-connector-c with brew" >&2
        brew install libpq mariadb-connector-c pkg-config
    else
        echo "no client libraries and no apt-get or brew: building libpq and OpenSSL from source (feature \`bundled\`; PostgreSQL and SQLite only)" >&2
        bundled=1
    fi
fi

if [ "$bundled" -eq 1 ]; then
    missing=""
    command -v cc >/dev/null || command -v gcc >/dev/null || command -v clang >/dev/null || missing="$missing a C compiler (cc),"
    command -v perl >/dev/null || missing="$missing perl,"
    command -v make >/dev/null || missing="$missing make,"
    if [ -n "$missing" ]; then
        echo "error: building the client libraries from source needs${missing%,}; install them and run this again" >&2
        exit 2
    fi
    cargo install --locked --path . --quiet --no-default-features --features postgres,sqlite,cli,bundled
else
    cargo install --locked --path . --quiet
fi
installed="${CARGO_INSTALL_ROOT:-${CARGO_HOME:-$HOME/.cargo}}/bin/migrate"
if [ "$(command -v migrate)" = "$installed" ]; then
    echo "installed: $installed" >&2
else
    echo "installed: $installed (add $(dirname "$installed") to PATH)" >&2
fi
