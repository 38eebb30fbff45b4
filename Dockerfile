# The service image: a build stage makes the virtualenv from uv.lock (runtime dependencies
# only); the runtime stage is the Python base + that venv + app/. Non-root, read-only-rootfs
# friendly, no capabilities needed.
#
# PYTHON_IMAGE: the official python:3.11-slim pinned by digest. Machines with no registry access
# build `make base-image` (a Debian-built stand-in) and pass it here; nothing else changes.
ARG PYTHON_IMAGE=python:3.11-slim@sha256:9c900dea9e8fb7e16277c179b555cc72d29a352dbc33cff48ad5a0412fd5bfc7

FROM ${PYTHON_IMAGE} AS build
ARG UV_VERSION=0.13.9
ENV UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=never \
    UV_PROJECT_ENVIRONMENT=/opt/venv \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1
# binutils for `strip`: wheels ship unstripped extension modules (uvloop alone is 13 MB).
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends binutils \
    && rm -rf /var/lib/apt/lists/*
# uv from PyPI (the base's Python, in its own venv: Debian's is "externally managed").
RUN python3 -m venv /opt/uv && /opt/uv/bin/pip install --no-cache-dir "uv==${UV_VERSION}"
WORKDIR /src
COPY pyproject.toml uv.lock ./
# Runtime dependencies only, exactly as locked; bytecode compiled now (the rootfs is read-only).
RUN /opt/uv/bin/uv sync --locked --no-default-groups --no-install-project --python python3 \
    && find /opt/venv -depth -type d -name tests -path '*/site-packages/*' -exec rm -rf {} + \
    && find /opt/venv -type f \( -name '*.pyx' -o -name '*.pxd' -o -name '*.c' -o -name '*.h' \) -delete \
    && find /opt/venv -type f -name '*.so' -exec strip --strip-unneeded {} + \
    && rm -rf /root/.cache
COPY app ./app
RUN /opt/venv/bin/python -m compileall -q app
# The RDS certificate bundle the service verifies the database against (docker/rds/README.md):
# vendored, so the build needs no network, and pinned, so a changed file fails the build.
ARG RDS_CA_SHA256=fefac91d6800404461cece76724bc0a2383f4f556a1c9beb0813fac6f2e1e49f
COPY docker/rds/global-bundle.pem ./rds-global-bundle.pem
RUN printf '%s  %s\n' "${RDS_CA_SHA256}" rds-global-bundle.pem > rds.sha256 \
    && sha256sum -c rds.sha256

FROM ${PYTHON_IMAGE} AS runtime
ARG GIT_SHA=unknown
ARG VERSION=0.1.0
ARG IMAGE_TAG=unknown
# The source the workflow builds from (its repository URL); TITLE: the ECR repository's name,
# which the Makefile and the workflow take from autopipe.toml's project (`make names`).
ARG SOURCE=https://github.com/auto-pipe/auto-pipe
ARG TITLE=api
LABEL org.opencontainers.image.title="${TITLE}" \
      org.opencontainers.image.description="Items API (FastAPI)" \
      org.opencontainers.image.source="${SOURCE}" \
      org.opencontainers.image.revision="${GIT_SHA}" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.licenses="MIT"
# A fixed non-root UID/GID (no passwd entry needed); HOME on the tmpfs.
ENV PATH=/opt/venv/bin:${PATH} \
    HOME=/tmp \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    ENV=production \
    HOST=0.0.0.0 \
    PORT=8080 \
    WORKERS=1 \
    LOG_FORMAT=json \
    APP_VERSION=${VERSION} \
    GIT_SHA=${GIT_SHA} \
    IMAGE_TAG=${IMAGE_TAG}
COPY --from=build /opt/venv /opt/venv
COPY --from=build /src/app /app/app
COPY --from=build /src/rds-global-bundle.pem /app/certs/rds-global-bundle.pem
WORKDIR /app
USER 10001:10001
# Not 80: a non-root process cannot bind below 1024 without a capability.
EXPOSE 8080
# Liveness from inside the container with nothing extra installed.
HEALTHCHECK --interval=10s --timeout=3s --start-period=15s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request as u; u.urlopen('http://127.0.0.1:%s/health' % os.environ.get('PORT', '8080'), timeout=2)"]
STOPSIGNAL SIGTERM
# uvicorn as PID 1 handles SIGTERM itself (drains, then exits); it starts no children with
# WORKERS=1. Use `docker run --init` / ECS initProcessEnabled when running more workers.
CMD ["python", "-m", "app"]
