# Cadence as one container: `cadence serve` (dashboard on 8501, webhook + /metrics + /readyz on 8502).
# Warehouse, cadence.toml and exports live in the one volume /data. Build: docker build -t cadence .
# Run: see compose.yaml and docs/operations.md. Linted by hadolint (tests/service/test_deploy_files.py).

# -- build: a virtual environment with the runtime dependencies only (no test tools) ---------------
FROM python:3.11-slim-bookworm AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 PYTHONDONTWRITEBYTECODE=1
WORKDIR /app
COPY pyproject.toml README.md app.py ./
COPY .streamlit ./.streamlit
COPY cadence ./cadence
COPY collectors ./collectors
COPY metrics ./metrics
COPY pages ./pages
COPY warehouse ./warehouse
# Editable into /opt/venv: the dashboard finds app.py and pages/ beside the package in /app, which
# the runtime stage copies to the same path. Bytecode is compiled here, once: the runtime user cannot
# write /app, so without it every `cadence` command in the container would recompile the modules.
RUN python -m venv /opt/venv \
    && /opt/venv/bin/pip install --no-cache-dir -e /app \
    && find /app -name '__pycache__' -prune -exec rm -rf {} + \
    && /opt/venv/bin/python -m compileall -q /app/cadence /app/collectors /app/metrics /app/warehouse /app/pages /app/app.py

# -- runtime ---------------------------------------------------------------------------------------
FROM python:3.11-slim-bookworm
RUN groupadd --system --gid 10001 cadence \
    && useradd --system --uid 10001 --gid cadence --home-dir /data --no-create-home --shell /usr/sbin/nologin cadence \
    && mkdir -p /data \
    && chown cadence:cadence /data
COPY --from=build /opt/venv /opt/venv
COPY --from=build /app /app
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    HOME=/data \
    CADENCE_DB=/data/cadence.duckdb \
    CADENCE_CONFIG=/data/cadence.toml \
    CADENCE_WEBHOOK_PORT=8502
WORKDIR /data
USER 10001:10001
VOLUME ["/data"]
EXPOSE 8501 8502
# Ready = the warehouse opens, migrations applied, no scheduled source overdue (docs/operations.md).
# `cadence serve` takes its webhook port from CADENCE_WEBHOOK_PORT too, so the check follows it.
HEALTHCHECK --interval=30s --timeout=10s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/readyz' % os.environ.get('CADENCE_WEBHOOK_PORT', '8502'), timeout=8)"]
# The dashboard binds beyond loopback only with sign-in (CADENCE_OIDC_* in the env file) or --no-auth.
ENTRYPOINT ["cadence", "serve"]
CMD ["--host", "0.0.0.0", "--port", "8501", "--webhook-host", "0.0.0.0"]
