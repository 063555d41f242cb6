# One image for the simulator, the collector and the dashboard (the compose stack).
FROM python:3.11.10-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

RUN groupadd --system --gid 10001 shopfloor \
    && useradd --system --uid 10001 --gid shopfloor --home-dir /app --shell /usr/sbin/nologin shopfloor

WORKDIR /app
COPY pyproject.toml README.md requirements.lock ./
COPY shopfloor ./shopfloor
COPY simulator ./simulator
COPY collector ./collector
COPY dashboard ./dashboard
# Before the install: the example plants ship in the package (shopfloor.plants is config/).
COPY config ./config
# The lock's versions, the ones CI tests (pyproject's ranges alone would take the newest).
RUN pip install -c requirements.lock . && rm -rf build *.egg-info

# Stores, spools and dead letters go here (a volume in compose).
RUN mkdir -p /app/data && chown shopfloor:shopfloor /app/data
USER shopfloor
ENTRYPOINT ["shopfloor"]
CMD ["--help"]
