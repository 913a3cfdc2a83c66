#!/bin/sh
# Installs a Compose implementation so that the tests can validate
# docker-compose.yml statically (`docker compose config -q` or
# `docker-compose config -q`); no Docker engine is needed for that.
# Idempotent: returns at once when either command already works.
# Installs the Debian package `docker-compose` with apt-get when missing.
# Called by `make deps`.
set -eu

if command -v docker >/dev/null 2>&1 && docker compose version >/dev/null 2>&1; then
	echo "docker compose plugin already installed"
	exit 0
fi
if command -v docker-compose >/dev/null 2>&1 && docker-compose version >/dev/null 2>&1; then
	echo "docker-compose already installed"
	exit 0
fi
command -v apt-get >/dev/null 2>&1 || {
	echo "install-compose: apt-get not found; install docker-compose (or the docker compose plugin) by hand" >&2
	exit 1
}
sudo=""
if [ "$(id -u)" -ne 0 ]; then
	command -v sudo >/dev/null 2>&1 || { echo "install-compose: run as root or install sudo" >&2; exit 1; }
	sudo="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
if ! $sudo apt-get install -y --no-install-recommends docker-compose; then
	$sudo apt-get update
	$sudo apt-get install -y --no-install-recommends docker-compose
fi
docker-compose version
