# svu-hub image: `hub worker`, `hub run` and the adapters. Multi-stage: the build stage makes
# wheels; the final stage holds the interpreter, the wheels' contents and nothing to compile with.
ARG PYTHON_IMAGE=python:3.11.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
COPY pyproject.toml README.md ./
COPY hub ./hub
RUN python -m venv /opt/venv \
 && /opt/venv/bin/pip install --upgrade pip \
 && /opt/venv/bin/pip install ".[kafka,hl7,xml]"

FROM ${PYTHON_IMAGE}
ENV PATH=/opt/venv/bin:$PATH PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
RUN groupadd --system --gid 10001 hub \
 && useradd --system --uid 10001 --gid hub --home-dir /app --shell /usr/sbin/nologin hub \
 && mkdir -p /app/var && chown hub:hub /app/var
COPY --from=build /opt/venv /opt/venv
WORKDIR /app
USER 10001:10001
EXPOSE 8000 2575 6066
ENTRYPOINT ["hub"]
CMD ["worker", "--config", "/etc/svu-hub/hub.toml"]
