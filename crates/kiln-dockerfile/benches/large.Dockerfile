# syntax=docker/dockerfile:1.7
# check=error=true

# A representative multi-stage build: a Go API, a Node front end, a Python worker and a slim runtime.
ARG GO_VERSION=1.22
ARG NODE_VERSION=20
ARG PYTHON_VERSION=3.12
ARG DEBIAN_RELEASE=bookworm
ARG APP_UID=10001

FROM --platform=$BUILDPLATFORM golang:${GO_VERSION}-${DEBIAN_RELEASE} AS go-base
ARG TARGETOS
ARG TARGETARCH
ENV CGO_ENABLED=0 \
    GOFLAGS="-trimpath -mod=readonly" \
    GOPATH=/go
WORKDIR /src
RUN --mount=type=cache,target=/var/cache/apt,sharing=locked \
    --mount=type=cache,target=/var/lib/apt,sharing=locked \
    apt-get update && apt-get install -y --no-install-recommends \
        ca-certificates \
        git \
        make \
    && rm -rf /var/lib/apt/lists/*

FROM go-base AS go-deps
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod \
    --mount=type=secret,id=netrc,target=/root/.netrc,required=false \
    go mod download -x

FROM go-deps AS go-build
COPY --link cmd/ ./cmd/
COPY --link internal/ ./internal/
COPY --link pkg/ ./pkg/
ARG VERSION=dev
ARG COMMIT=unknown
# Build both binaries in one layer; the caches keep rebuilds incremental.
RUN --mount=type=cache,target=/go/pkg/mod \
    --mount=type=cache,target=/root/.cache/go-build \
    GOOS=$TARGETOS GOARCH=$TARGETARCH \
    go build -ldflags "-s -w -X main.version=${VERSION} -X main.commit=${COMMIT}" \
        -o /out/api ./cmd/api && \
    GOOS=$TARGETOS GOARCH=$TARGETARCH \
    go build -ldflags "-s -w" -o /out/migrate ./cmd/migrate

FROM go-build AS go-test
RUN --mount=type=cache,target=/go/pkg/mod \
    --mount=type=cache,target=/root/.cache/go-build \
    go vet ./... && go test -race -count=1 ./...

FROM node:${NODE_VERSION}-${DEBIAN_RELEASE}-slim AS web-deps
WORKDIR /web
ENV NPM_CONFIG_UPDATE_NOTIFIER=false \
    NPM_CONFIG_FUND=false
COPY web/package.json web/package-lock.json ./
RUN --mount=type=cache,target=/root/.npm \
    npm ci --no-audit --prefer-offline

FROM web-deps AS web-build
COPY web/ ./
ARG PUBLIC_URL=/
ENV NODE_ENV=production PUBLIC_URL=${PUBLIC_URL}
RUN npm run build && \
    find dist -name '*.map' -delete && \
    du -sh dist

FROM python:${PYTHON_VERSION}-slim-${DEBIAN_RELEASE} AS py-build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1
WORKDIR /worker
RUN python -m venv /opt/venv
ENV PATH="/opt/venv/bin:${PATH}"
COPY worker/requirements.txt .
RUN --mount=type=cache,target=/root/.cache/pip \
    pip install --requirement requirements.txt
COPY worker/ .
RUN <<EOF
set -eux
python -m compileall -q .
python - <<'PY'
import sys
print("python", sys.version)
PY
EOF

FROM debian:${DEBIAN_RELEASE}-slim AS runtime-base
ARG APP_UID
ARG DEBIAN_FRONTEND=noninteractive
RUN --mount=type=cache,target=/var/cache/apt,sharing=locked \
    --mount=type=cache,target=/var/lib/apt,sharing=locked \
    apt-get update \
    && apt-get install -y --no-install-recommends \
        ca-certificates \
        curl \
        libpq5 \
        tini \
        tzdata \
    && apt-get clean \
    && rm -rf /var/lib/apt/lists/* /tmp/* /var/tmp/*
RUN groupadd --system --gid ${APP_UID} app && \
    useradd --system --uid ${APP_UID} --gid app --home-dir /srv/app --shell /usr/sbin/nologin app
COPY <<-"EOT" /etc/app/defaults.env
	LOG_LEVEL=info
	LISTEN_ADDR=:8080
	WORKER_CONCURRENCY=4
EOT

FROM runtime-base AS api
LABEL org.opencontainers.image.title="api" \
      org.opencontainers.image.description="HTTP API" \
      org.opencontainers.image.source="https://example.com/repo" \
      org.opencontainers.image.licenses="Apache-2.0"
WORKDIR /srv/app
COPY --from=go-build --chown=app:app --chmod=0555 /out/api /usr/local/bin/api
COPY --from=go-build --chown=app:app /out/migrate /usr/local/bin/migrate
COPY --from=web-build --chown=app:app --exclude=*.map /web/dist ./public
ENV GIN_MODE=release \
    TZ=UTC
EXPOSE 8080/tcp 9090
USER app:app
HEALTHCHECK --interval=30s --timeout=3s --start-period=10s --start-interval=2s --retries=3 \
    CMD ["curl", "-fsS", "http://127.0.0.1:8080/healthz"]
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/bin/tini", "--", "/usr/local/bin/api"]
CMD ["--config", "/etc/app/defaults.env"]

FROM runtime-base AS worker
LABEL org.opencontainers.image.title="worker"
WORKDIR /srv/worker
COPY --from=py-build /opt/venv /opt/venv
COPY --from=py-build --chown=app:app /worker ./
ENV PATH="/opt/venv/bin:${PATH}" \
    PYTHONUNBUFFERED=1
VOLUME ["/srv/worker/data"]
USER ${APP_UID}
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
HEALTHCHECK NONE
ENTRYPOINT ["/usr/bin/tini", "--"]
CMD python -m worker --concurrency "${WORKER_CONCURRENCY:-4}"

FROM scratch AS artifacts
COPY --from=go-build /out/ /
COPY --from=web-build /web/dist /web

FROM api
ONBUILD COPY config/ /etc/app/
ONBUILD RUN /usr/local/bin/migrate --check
