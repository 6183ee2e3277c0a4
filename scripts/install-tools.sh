#!/usr/bin/env bash
# Install the pinned OPA and Regal binaries into .tools/bin (ignored by git).
#
# Uses a binary already on PATH when its version matches the pin; otherwise builds the
# pinned release from the Go module proxy with `go install`. If `go install` refuses
# (replace directives in the module), falls back to `go mod download` + `go build`.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=../compiler/tool_versions.env
source "$root/compiler/tool_versions.env"
bin="$root/.tools/bin"
mkdir -p "$bin"

have_version() {  # $1 = binary path, $2 = wanted version
  [ -x "$1" ] || return 1
  # A build from the module cache has no version stamped in; we record it beside it.
  [ "$(cat "$1.version" 2>/dev/null)" = "$2" ] && return 0
  "$1" version 2>/dev/null | grep -Eq "^Version: +v?$2\$"
}

install_one() {  # $1 = name, $2 = module, $3 = version
  local name=$1 module=$2 version=$3
  if have_version "$bin/$name" "$version"; then return 0; fi
  local on_path
  on_path="$(command -v "$name" || true)"
  if [ -n "$on_path" ] && have_version "$on_path" "$version"; then
    ln -sf "$on_path" "$bin/$name"
    rm -f "$bin/$name.version"
    echo "using $name $version from $on_path"
    return 0
  fi
  if ! command -v go >/dev/null; then
    echo "error: $name $version is not on PATH and Go is not installed to build it" >&2
    exit 1
  fi
  echo "building $name v$version with go install (about a minute)..."
  if ! GOBIN="$bin" GOFLAGS=-mod=mod go install "$module@v$version"; then
    echo "go install refused; building from the downloaded module instead"
    local dir
    dir="$(GOFLAGS=-mod=mod go mod download -json "$module@v$version" | sed -n 's/.*"Dir": "\(.*\)".*/\1/p')"
    (cd "$dir" && GOFLAGS= go build -o "$bin/$name" .)
  fi
  [ -x "$bin/$name" ] || { echo "error: building $name $version failed" >&2; exit 1; }
  echo "$version" > "$bin/$name.version"
  echo "installed $name $version into $bin"
}

install_one opa github.com/open-policy-agent/opa "$OPA_VERSION"
if [ "${1:-}" != "--opa-only" ]; then
  install_one regal github.com/styrainc/regal "$REGAL_VERSION"
fi
