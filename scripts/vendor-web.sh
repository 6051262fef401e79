#!/usr/bin/env bash
# Re-vendors the web app's view library from the npm registry into web/vendor/:
# Preact (with its hooks) and htm, as standard ES modules the browser loads directly.
# Run by hand when upgrading; the app needs no JavaScript toolchain otherwise.
#
#   bash scripts/vendor-web.sh            # the versions pinned below
#
# Two edits are made to the published files, both recorded in web/vendor/README.md:
# hooks import `./preact.mjs` instead of the bare specifier `preact` (a browser without
# an import map cannot resolve a bare name, and an import map would need an inline
# script the app's CSP forbids), and the `sourceMappingURL` comments are dropped (the
# maps are not shipped, so a browser's developer tools would only ask for a missing file).
set -euo pipefail

PREACT=11.2.0
HTM=3.1.1

cd "$(dirname "$0")/.."
out=web/vendor
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

(cd "$work" && npm pack --silent "preact@$PREACT" "htm@$HTM" >/dev/null)
mkdir -p "$work/preact" "$work/htm"
tar xzf "$work/preact-$PREACT.tgz" -C "$work/preact"
tar xzf "$work/htm-$HTM.tgz" -C "$work/htm"

strip_map() { sed -e '/^\/\/# sourceMappingURL=/d'; }
strip_map <"$work/preact/package/dist/preact.mjs" >"$out/preact.mjs"
strip_map <"$work/preact/package/hooks/dist/hooks.mjs" | sed -e 's#from"preact"#from"./preact.mjs"#g' >"$out/hooks.mjs"
strip_map <"$work/htm/package/dist/htm.mjs" >"$out/htm.mjs"
cp "$work/preact/package/LICENSE" "$out/LICENSE-preact"
cp "$work/htm/package/LICENSE" "$out/LICENSE-htm"

if grep -q 'from"preact"' "$out/hooks.mjs"; then
    echo "hooks.mjs still imports the bare specifier 'preact'" >&2
    exit 1
fi
sha256sum "$out"/*.mjs
