# Ankurah's server in a container: `docker compose up` (docker-compose.yml)
# runs it on PostgreSQL; docs/docker.md says what this file does and what
# was checked without a Docker engine.
#
# Stage 1 builds a static binary (CGO_ENABLED=0: the embedded store is pure
# Go SQLite, so nothing needs libc). Stage 2 is an empty image with that
# binary, CA certificates (for TLS to a managed PostgreSQL), and a data
# folder owned by the unprivileged user it runs as.

FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
# Version and commit for `ankurah version` (the build context has no .git):
#   docker build --build-arg VERSION=v0.1.0 --build-arg COMMIT=$(git rev-parse HEAD) .
ARG VERSION=
ARG COMMIT=
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=${VERSION} -X main.commit=${COMMIT}" -o /out/ankurah ./cmd/ankurah \
 && mkdir -p /out/data

FROM scratch
COPY --from=build /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
COPY --from=build /out/ankurah /ankurah
COPY --from=build --chown=65532:65532 /out/data /data
# An unprivileged user (no /etc/passwd needed: numeric ids).
USER 65532:65532
ENV ANKURAH_LISTEN=0.0.0.0:9797 ANKURAH_DATA_DIR=/data
EXPOSE 9797
VOLUME /data
# The image has no curl: the binary asks its own /readyz.
HEALTHCHECK --interval=10s --timeout=5s --start-period=60s --retries=3 CMD ["/ankurah", "health"]
ENTRYPOINT ["/ankurah"]
CMD ["serve"]
