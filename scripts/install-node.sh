#!/bin/sh
# Installs kafkajs from npm into a private prefix with `npm ci`, from the
# package.json and package-lock.json kept in integration/testdata/node.
#
#   scripts/install-node.sh [dest]     (default: <repo>/.cache/node)
#
# Tests run their scripts with NODE_PATH=dest/node_modules. Idempotent: when
# dest holds the same lock file nothing is done.
set -eu

repo=$(cd "$(dirname "$0")/.." && pwd)
src="$repo/integration/testdata/node"
dest="${1:-$repo/.cache/node}"

if [ -f "$dest/.complete" ] && cmp -s "$src/package-lock.json" "$dest/.complete" && [ -d "$dest/node_modules/kafkajs" ]; then
	echo "kafkajs already installed in $dest"
	exit 0
fi
command -v npm >/dev/null 2>&1 || { echo "install-node: npm (Node.js) is required" >&2; exit 1; }

rm -rf "$dest"
mkdir -p "$dest"
cp "$src/package.json" "$src/package-lock.json" "$dest/"
npm ci --prefix "$dest" --no-audit --no-fund --loglevel=error
cp "$src/package-lock.json" "$dest/.complete"
echo "kafkajs $(node -p "require('$dest/node_modules/kafkajs/package.json').version") installed in $dest"
