#!/usr/bin/env bash
# Helm, to render and lint the chart (deploy/helm/zuofeng) in the tests. Debian 12 packages no helm, and
# nothing but the package registries can be fetched, so it is built from the Go module proxy once and
# cached OUTSIDE the checkout, in ZUOFENG_CACHE_DIR (default ~/.cache/zuofeng: about 1.3 GB of module and
# build cache and a 105 MB binary; ~2 minutes to download and build here on 2 shared cores), so a fresh clone
# on the same machine (CI) does not build it again. A helm already on PATH is used as it is.
#
#   helm.sh bin    print the helm binary's path, building it first if it is missing (needs go ≥ 1.24)
#
# HELM_VERSION (a module version of helm.sh/helm/v3) is pinned so every machine renders with the same helm.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=common.sh
source "$here/common.sh"

VERSION="${HELM_VERSION:-v3.22.0}"
GO_DIR="${ZUOFENG_CACHE_DIR:-$HOME/.cache/zuofeng}/go-helm-$VERSION"
HELM="$GO_DIR/bin/helm"

build() {
  command -v go >/dev/null || die "no go toolchain (https://go.dev/dl/); the Helm chart tests are skipped without it"
  export GOPATH="$GO_DIR" GOCACHE="$GO_DIR/cache" GOFLAGS=-modcacherw GOBIN="$GO_DIR/bin"
  log "helm: building helm.sh/helm/v3/cmd/helm@$VERSION"
  nice -n 10 go install "helm.sh/helm/v3/cmd/helm@$VERSION"
}

case "${1:-}" in
  bin)
    if command -v helm >/dev/null; then command -v helm; exit 0; fi
    [ -x "$HELM" ] || with_lock helm-build build
    echo "$HELM"
    ;;
  *) die "usage: helm.sh bin" ;;
esac
