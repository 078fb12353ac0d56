#!/usr/bin/env bash
# Vendor KaTeX into paperboy/web/static/katex/ so the site serves math rendering itself (no CDN, CSP script-src
# 'self'). Run it again only to move to another pinned version: change VERSION and INTEGRITY together, taking the
# integrity from `npm view katex@VERSION dist.integrity`. The tarball is checked against that pinned sha512 before
# anything is copied, so a changed or tampered package fails the script instead of landing in the repo.
set -euo pipefail

VERSION="0.16.47"
INTEGRITY="sha512-Eeo8Ys1doU1z+x8AZsPpQu+p/QcZBI5PeOo7QGQdy2x2m0MU/hYagBbGOmXwr5KVbEfVuWv9LpnQWeehogurjg=="

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DEST="$ROOT/paperboy/web/static/katex"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT

cd "$WORK"
registry="$(npm view "katex@$VERSION" dist.integrity)"
if [ "$registry" != "$INTEGRITY" ]; then
  echo "the registry's integrity for katex@$VERSION ($registry) is not the pinned one ($INTEGRITY)" >&2
  exit 1
fi
npm pack --silent "katex@$VERSION" >/dev/null
tarball="katex-$VERSION.tgz"
actual="sha512-$(openssl dgst -sha512 -binary "$tarball" | base64 -w0)"
if [ "$actual" != "$INTEGRITY" ]; then
  echo "$tarball has integrity $actual, expected $INTEGRITY: not vendoring it" >&2
  exit 1
fi
tar -xzf "$tarball"

rm -rf "$DEST"
mkdir -p "$DEST/contrib" "$DEST/fonts"
cp package/dist/katex.min.js package/dist/katex.min.css "$DEST/"
cp package/dist/contrib/auto-render.min.js "$DEST/contrib/"
cp package/dist/fonts/*.woff2 "$DEST/fonts/"  # every browser that runs KaTeX reads woff2; the CSS lists it first
cp package/LICENSE "$DEST/LICENSE"
echo "$VERSION" > "$DEST/VERSION"
echo "vendored katex $VERSION into ${DEST#"$ROOT"/}"
