# syntax=docker/dockerfile:1
# The Market Desk image: the web app by default (render.yaml's start command), the queue worker with
# `python -m ingestion worker` (compose.yaml). It needs DATABASE_URL: the embedded database is for development.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore \
    APP_ENV=production \
    MALLOC_ARENA_MAX=2 \
    MALLOC_MMAP_THRESHOLD_=131072 \
    PORT=8501

WORKDIR /app
# The user the processes run as (numeric below, so a runtime can verify it is not root).
RUN groupadd --gid 10001 app && useradd --create-home --uid 10001 --gid 10001 --shell /usr/sbin/nologin app

# The requirements alone first, so a code change reuses this layer; the cache mount keeps downloaded wheels
# between builds without putting them in the image.
COPY requirements.txt .
RUN --mount=type=cache,target=/root/.cache/pip \
    pip install -r requirements.txt

# The code stays root's and read-only to the process; the app writes nothing under /app with DATABASE_URL set.
COPY . .
USER 10001:10001

EXPOSE 8501
# /healthz answers from a status refreshed in the background (README, Health check); slim has no curl.
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('PORT', '8501'), timeout=4)"]
# exec: Streamlit becomes PID 1 and gets the SIGTERM that stops it (and its database connections) cleanly.
CMD ["sh", "-c", "exec streamlit run streamlit_app.py --server.port $PORT --server.address 0.0.0.0"]
