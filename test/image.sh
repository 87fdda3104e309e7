#!/usr/bin/env bash
# test/image.sh — builds the Dockerfile's final stage with buildah, from a
# binary built here, without a Docker engine and without pulling anything
# (the final stage is FROM scratch), then runs `ankurah version` inside the
# image and checks its user, entry point and health check.
#
# The build stage (golang image) is not run: it would be pulled. Instead
# this builds the same static binary with the local Go (CGO_ENABLED=0,
# -trimpath), and the final stage's lines are taken from the Dockerfile
# with their COPY --from=build sources replaced by local files, so the
# Dockerfile stays the one description of the image.
#
# Output: image localhost/ankurah:dev in buildah's storage, and
# bin/ankurah-image.tar (docker-archive: `docker load -i` it elsewhere).
# Installs Debian's buildah when missing (root only).
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v buildah >/dev/null; then
  echo "image: installing Debian's buildah package" >&2
  [ "$(id -u)" -eq 0 ] || { echo "image: need root to apt-get install buildah" >&2; exit 1; }
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq buildah >/dev/null
fi
# vfs storage and chroot isolation: no overlay or user namespaces needed.
B=(buildah --storage-driver vfs)

CTX=$(mktemp -d /tmp/ankimg.XXXXXX)
trap 'rm -rf "$CTX"' EXIT
COMMIT=$(git rev-parse HEAD 2>/dev/null || true)
echo "image: building a static binary (CGO_ENABLED=0)" >&2
CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.commit=$COMMIT" -o "$CTX/ankurah" ./cmd/ankurah
mkdir -p "$CTX/data"
cp /etc/ssl/certs/ca-certificates.crt "$CTX/ca-certificates.crt"

# The final stage, its build-stage sources made local.
awk '/^FROM /{final=($2=="scratch")} final' Dockerfile |
  sed -E 's#^COPY --from=build (--chown=[^ ]+ )?/out/([^ ]+) #COPY \1\2 #;
          s#^COPY --from=build (--chown=[^ ]+ )?/etc/ssl/certs/ca-certificates.crt #COPY \1ca-certificates.crt #' > "$CTX/Containerfile"
if grep -q -- '--from=' "$CTX/Containerfile"; then
  echo "image: the Dockerfile's final stage copies something this script does not build:" >&2
  grep -- '--from=' "$CTX/Containerfile" >&2
  exit 1
fi

echo "image: buildah bud (final stage, FROM scratch)" >&2
"${B[@]}" bud --quiet --isolation chroot --format docker -f "$CTX/Containerfile" -t localhost/ankurah:dev "$CTX" >/dev/null

echo "image: checking it" >&2
cfg=$("${B[@]}" inspect --format '{{.Docker.Config.User}}|{{.Docker.Config.Entrypoint}}|{{.Docker.Config.Healthcheck.Test}}' localhost/ankurah:dev)
case "$cfg" in
  "65532:65532|[/ankurah]|[CMD /ankurah health]") ;;
  *) echo "image: unexpected config: $cfg" >&2; exit 1 ;;
esac
ctr=$("${B[@]}" from localhost/ankurah:dev)
trap '"${B[@]}" rm "$ctr" >/dev/null 2>&1 || true; rm -rf "$CTX"' EXIT
"${B[@]}" run --isolation chroot "$ctr" -- /ankurah version

mkdir -p bin
rm -f bin/ankurah-image.tar
"${B[@]}" push --quiet localhost/ankurah:dev docker-archive:bin/ankurah-image.tar:ankurah:dev
echo "image: localhost/ankurah:dev built; bin/ankurah-image.tar ($(du -h bin/ankurah-image.tar | cut -f1)) loads with docker load -i" >&2
