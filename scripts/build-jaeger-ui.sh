#!/usr/bin/env bash
# Builds Jaeger's web UI for the Jaeger that scripts/build-jaeger.sh builds, cached by version.
# Prints the assets directory (for jaeger_query's ui.assets_path) on stdout.
#
# The Go module of Jaeger carries only a placeholder page, and no package registry carries
# the UI: its built assets are attached to GitHub releases of jaegertracing/jaeger-ui, and
# its source is only in that repository. So the source comes from JAEGER_UI_SOURCE (a
# checkout of the tag, or a .tar.gz of it), else from a shallow git clone of the tag; the
# build itself is the UI's own `npm ci` + build, its dependencies from the npm registry.
# JAEGER_UI_VERSION must be the jaeger-ui tag that Jaeger's release pins as its submodule:
# v1.76.0 for Jaeger v1.76.0 / v2.13.0. Logs go to <cache>/jaeger-ui-<version>/build.log.
set -euo pipefail
version="${JAEGER_UI_VERSION:-v1.76.0}"
root="${XDG_CACHE_HOME:-$HOME/.cache}/multi-llm-otel/jaeger-ui-$version"
assets="$root/assets"
if [[ -f "$assets/index.html" ]]; then echo "$assets"; exit 0; fi

command -v npm >/dev/null || { echo "build-jaeger-ui.sh: npm is not on PATH" >&2; exit 127; }
mkdir -p "$root"
exec 9>"$root.lock"
flock 9
if [[ -f "$assets/index.html" ]]; then echo "$assets"; exit 0; fi

work="$(mktemp -d "$root/work.XXXXXX")"
trap 'rm -rf "$work"' EXIT
log="$root/build.log"
: >"$log"
src="$work/src"
source="${JAEGER_UI_SOURCE:-}"
if [[ -n "$source" && -d "$source" ]]; then
  cp -a "$source" "$src"
  rm -rf "$src/node_modules" "$src/packages/"*/node_modules
elif [[ -n "$source" && -f "$source" ]]; then
  mkdir -p "$src"
  tar -xzf "$source" -C "$src" --strip-components="${JAEGER_UI_SOURCE_STRIP:-0}"
elif [[ -n "$source" ]]; then
  echo "build-jaeger-ui.sh: JAEGER_UI_SOURCE=$source is neither a directory nor a file" >&2
  exit 2
elif ! timeout 120 git clone --quiet --depth 1 --branch "$version" \
    https://github.com/jaegertracing/jaeger-ui.git "$src" >>"$log" 2>&1; then
  cat >&2 <<EOF
build-jaeger-ui.sh: could not get the jaeger-ui $version source (git clone failed; see $log).
No package registry carries Jaeger's UI. Give a checkout of the tag, or an archive of it:
  JAEGER_UI_SOURCE=/path/to/jaeger-ui $0
EOF
  exit 3
fi

got="$(node -p "require('$src/packages/jaeger-ui/package.json').version" 2>/dev/null || true)"
if [[ "v$got" != "$version" ]]; then
  echo "build-jaeger-ui.sh: the source is jaeger-ui '${got:-?}', expected $version" >&2
  exit 4
fi

start=$SECONDS
echo "build-jaeger-ui.sh: building jaeger-ui $version (log: $log)" >&2
# --ignore-scripts: the root's prepare step installs git hooks; plexus is built explicitly.
# --engine-strict=false: the UI's .npmrc makes its "node >= 24" binding; it builds on 20.19+.
{
  cd "$src" &&
    npm ci --ignore-scripts --engine-strict=false --no-audit --no-fund --loglevel=error &&
    npm run --workspace @jaegertracing/plexus build &&
    npm run --workspace jaeger-ui build
} >>"$log" 2>&1 || {
  echo "build-jaeger-ui.sh: the build failed; tail of $log:" >&2
  tail -n 40 "$log" >&2
  exit 1
}
[[ -f "$src/packages/jaeger-ui/build/index.html" ]] || { echo "build-jaeger-ui.sh: no index.html built" >&2; exit 1; }
rm -rf "$assets.tmp"
mv "$src/packages/jaeger-ui/build" "$assets.tmp"
mv "$assets.tmp" "$assets"
echo "build-jaeger-ui.sh: built in $((SECONDS - start)) s" >&2
echo "$assets"
