#!/usr/bin/env bash
# SeaweedFS's S3 gateway: a real S3-compatible object store for the attachment tests (intake's S3 blob
# store), built from the Go module proxy once and cached OUTSIDE the checkout, in ZUOFENG_CACHE_DIR
# (default ~/.cache/zuofeng: about 4 GB of module and build cache and a ~230 MB binary; the first build
# takes ~13 minutes on 2 cores), so a fresh clone on the same machine (CI) does not build it again.
#
#   seaweedfs.sh bin    print the weed binary's path, building it first if it is missing (needs go)
#
# SEAWEEDFS_VERSION (a module version) picks the release; pinned so every machine tests the same server. The tests start and stop their
# own server (weed server -s3) on ports of their own.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=common.sh
source "$here/common.sh"

VERSION="${SEAWEEDFS_VERSION:-v0.0.0-20261109003541-7506e5f91cd6}"
GO_DIR="${ZUOFENG_CACHE_DIR:-$HOME/.cache/zuofeng}/go-$VERSION"
WEED="$GO_DIR/bin/weed"

build() {
  command -v go >/dev/null || die "no go toolchain (https://go.dev/dl/); the S3 tests are skipped without it"
  export GOPATH="$GO_DIR" GOCACHE="$GO_DIR/cache" GOFLAGS=-modcacherw
  local dir
  # `go install …@version` refuses modules with replace directives (SeaweedFS has them): build in the
  # downloaded module instead.
  dir="$(go mod download -json "github.com/seaweedfs/seaweedfs@$VERSION" |
    sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')"
  [ -n "$dir" ] || die "could not download github.com/seaweedfs/seaweedfs@$VERSION"
  log "seaweedfs: building $dir"
  (cd "$dir" && nice -n 10 go build -o "$WEED.tmp.$$" ./weed)
  mv -f "$WEED.tmp.$$" "$WEED"
}

case "${1:-}" in
  bin)
    [ -x "$WEED" ] || with_lock seaweedfs-build build
    echo "$WEED"
    ;;
  *) die "usage: seaweedfs.sh bin" ;;
esac
