#!/bin/sh
# Installs kcat from the Debian packages when it is not on PATH already.
# Works as root on a fresh machine (apt-get update once, then install) and
# through sudo otherwise.
#
#   scripts/install-kcat.sh
set -eu

if command -v kcat >/dev/null 2>&1; then
	echo "kcat already installed: $(command -v kcat)"
	exit 0
fi
command -v apt-get >/dev/null 2>&1 || { echo "install-kcat: kcat is missing and apt-get is not available; install kcat by hand" >&2; exit 1; }

sudo=""
if [ "$(id -u)" != 0 ]; then
	command -v sudo >/dev/null 2>&1 || { echo "install-kcat: not root and no sudo; install kcat by hand" >&2; exit 1; }
	sudo="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends kcat >/dev/null
echo "kcat installed: $(command -v kcat) ($(kcat -V 2>&1 | head -1))"
