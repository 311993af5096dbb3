#!/usr/bin/env bash
# Make sure the MariaDB and PostgreSQL servers the store tests use are running on loopback.
# MariaDB: 127.0.0.1:3306, root, empty password, database `test`.
# PostgreSQL: 127.0.0.1:5432, trust auth, database `test`.
set -uo pipefail
up() { timeout 1 bash -c "</dev/tcp/127.0.0.1/$1" 2>/dev/null; }
wait_port() { for _ in $(seq 1 60); do up "$1" && return 0; sleep 0.5; done; echo "port $1 did not open" >&2; return 1; }
if ! up 3306; then
    start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd || true
    wait_port 3306
fi
if ! up 5432; then
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -1)" main start || true
    wait_port 5432
fi
mariadb -uroot -h127.0.0.1 -e 'CREATE DATABASE IF NOT EXISTS test' || true
psql -h 127.0.0.1 -U postgres -tc "SELECT 1 FROM pg_database WHERE datname='test'" | grep -q 1 \
    || psql -h 127.0.0.1 -U postgres -c 'CREATE DATABASE test' || true
echo "MariaDB and PostgreSQL are up"
