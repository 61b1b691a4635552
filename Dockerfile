# syntax=docker/dockerfile:1.7
# One image for the whole suite; the command picks what runs:
#   docker run zuofeng serve intake        (or triage, accountability, evaluation, notification, gateway)
#   docker run zuofeng migrate intake      (Alembic for one service schema; with DATABASE_URL of its role)
#   docker run zuofeng dlq-replay <topic>
ARG PYTHON_VERSION=3.11

# ---- build: resolve the locked runtime dependencies into a virtualenv, then install the project -------
FROM python:${PYTHON_VERSION}-slim-bookworm AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    UV_NO_CACHE=1 \
    UV_COMPILE_BYTECODE=1
WORKDIR /src
RUN python -m venv /opt/zuofeng \
 && /opt/zuofeng/bin/pip install --no-cache-dir "uv==0.13.*"
# requirements.lock pins every package (runtime + test extras). Re-resolving pyproject.toml *constrained*
# by the lock keeps the exact locked versions while leaving the test-only packages out of the image.
COPY pyproject.toml requirements.lock ./
RUN /opt/zuofeng/bin/uv pip compile pyproject.toml --constraint requirements.lock \
        --python /opt/zuofeng/bin/python --quiet -o /tmp/runtime.txt \
 && /opt/zuofeng/bin/uv pip install --python /opt/zuofeng/bin/python -r /tmp/runtime.txt
COPY README* ./
COPY services ./services
COPY gateway ./gateway
# A regular (not editable) install: the image needs no source tree, only site-packages.
RUN /opt/zuofeng/bin/uv pip install --python /opt/zuofeng/bin/python --no-deps . \
 && /opt/zuofeng/bin/uv pip uninstall --python /opt/zuofeng/bin/python uv pip

# ---- runtime: slim, no compilers, no package manager caches, a fixed non-root uid ----------------------
FROM python:${PYTHON_VERSION}-slim-bookworm AS runtime
LABEL org.opencontainers.image.title="zuofeng" \
      org.opencontainers.image.description="Work-style supervision suite: five services and the gateway" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.source="https://github.com/zuofeng/zuofeng"
# uid/gid 10001 matches runAsUser/runAsGroup in deploy/k8s (runAsNonRoot needs a numeric USER).
RUN groupadd --system --gid 10001 zuofeng \
 && useradd --system --uid 10001 --gid zuofeng --no-create-home --home-dir /nonexistent \
        --shell /usr/sbin/nologin zuofeng \
 && install -d -o 10001 -g 10001 -m 0750 /var/lib/zuofeng
COPY --from=build /opt/zuofeng /opt/zuofeng
ENV PATH=/opt/zuofeng/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    ZUOFENG_ENV=production \
    ZUOFENG_HOST=0.0.0.0 \
    ZUOFENG_DATA_DIR=/var/lib/zuofeng \
    PORT=8000
# A read-only root filesystem works: nothing is written outside /tmp and ZUOFENG_DATA_DIR (both volumes
# in Kubernetes), and bytecode was compiled at build time.
WORKDIR /var/lib/zuofeng
USER 10001:10001
EXPOSE 8000
ENTRYPOINT ["zuofeng"]
CMD ["serve", "gateway"]
