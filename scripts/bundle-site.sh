#!/usr/bin/env bash
# Binds the compiled hydrate crate into the site's pkg/ directory with fingerprinted names,
# so browsers may cache every file for a year:
#
#   scripts/bundle-site.sh <hydrate.wasm> <pkg-dir> [--release]
#
# Writes guildhall.<hash>.js, guildhall.<hash>.wasm and guildhall.<hash>.css, a gzip copy of
# each (and a brotli copy when `brotli` is installed), and hash.txt, which the server reads
# to name them in every page. `--release` first shrinks the wasm with wasm-opt (npm
# `binaryen`; Debian's is too old). Files of earlier builds are removed.
set -euo pipefail
wasm=${1:?usage: scripts/bundle-site.sh <hydrate.wasm> <pkg-dir> [--release]}
pkg=${2:?usage: scripts/bundle-site.sh <hydrate.wasm> <pkg-dir> [--release]}
release=${3:-}
cd "$(dirname "$0")/.."

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
wasm-bindgen --target web --no-typescript --out-dir "$work" --out-name guildhall "$wasm"
if [ "$release" = "--release" ]; then
  wasm_opt=${WASM_OPT:-$(command -v wasm-opt || true)}
  if [ -z "$wasm_opt" ]; then
    echo "wasm-opt is missing: npm install -g binaryen (or set WASM_OPT)" >&2
    exit 1
  fi
  "$wasm_opt" -Oz --enable-bulk-memory --enable-nontrapping-float-to-int \
    --enable-sign-ext --enable-mutable-globals --enable-reference-types \
    "$work/guildhall_bg.wasm" -o "$work/guildhall_bg.opt.wasm"
  mv "$work/guildhall_bg.opt.wasm" "$work/guildhall_bg.wasm"
fi
cp style/main.css "$work/guildhall.css"

hash() { sha256sum "$1" | cut -c1-16; }
js_hash=$(hash "$work/guildhall.js")
wasm_hash=$(hash "$work/guildhall_bg.wasm")
css_hash=$(hash "$work/guildhall.css")

mkdir -p "$pkg"
rm -f "$pkg"/guildhall.* "$pkg"/guildhall_bg.* "$pkg"/hash.txt
mv "$work/guildhall.js" "$pkg/guildhall.$js_hash.js"
mv "$work/guildhall_bg.wasm" "$pkg/guildhall.$wasm_hash.wasm"
mv "$work/guildhall.css" "$pkg/guildhall.$css_hash.css"
if [ -d "$work/snippets" ]; then
  rm -rf "$pkg/snippets"
  mv "$work/snippets" "$pkg/snippets"
fi

for file in "$pkg"/guildhall.*.{js,wasm,css}; do
  gzip -9 -k -f -n "$file"
  if command -v brotli >/dev/null 2>&1; then
    brotli -f -q 11 "$file"
  fi
done

# The format Leptos reads (`hash_files`): one `kind: hash` line per file.
printf 'js: %s\nwasm: %s\ncss: %s\n' "$js_hash" "$wasm_hash" "$css_hash" >"$pkg/hash.txt"
printf '==> site bundle in %s: %s\n' "$pkg" "$(cd "$pkg" && du -ch guildhall.*.wasm guildhall.*.js guildhall.*.css | tail -n 1 | cut -f1) (gzip: $(cd "$pkg" && du -ch guildhall.*.gz | tail -n 1 | cut -f1))"
