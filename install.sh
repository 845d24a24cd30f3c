#!/usr/bin/env bash
# Installs `migrate` from this checkout: the client libraries its PostgreSQL
# and MariaDB/MySQL drivers link against (SQLite is bundled), then the binary
# with `cargo install`. Safe to run again.
set -euo pipefail
cd "$(dirname "$0")"

have_libs() {
    command -v pkg-config >/dev/null &&
        pkg-config --exists libpq && { pkg-config --exists libmariadb || pkg-config --exists mysqlclient; }
}

if ! have_libs; then
    if command -v apt-get >/dev/null; then
        sudo=""; [ "$(id -u)" -ne 0 ] && sudo="sudo"
        echo "installing libpq-dev, libmariadb-dev and pkg-config with apt-get" >&2
        $sudo apt-get update -qq
        $sudo apt-get install -y -qq libpq-dev libmariadb-dev pkg-config >/dev/null
    elif command -v brew >/dev/null; then
        echo "installing libpq and mariadb-connector-c with brew" >&2
        brew install libpq mariadb-connector-c pkg-config
    else
        echo "error: install the PostgreSQL client library (libpq) and the MariaDB/MySQL client library, then run this again" >&2
        exit 2
    fi
fi

if ! command -v cargo >/dev/null; then
    echo "error: cargo not found; install Rust from https://rustup.rs and run this again" >&2
    exit 2
fi

cargo install --locked --path . --quiet
echo "installed: $(command -v migrate || echo "$HOME/.cargo/bin/migrate (add ~/.cargo/bin to PATH)")" >&2
