# PostgreSQL for the compose test, from Debian (bookworm: PostgreSQL 15) in place of
# compose.yaml's postgres:16.15-bookworm. The entrypoint does the part of the official image's that
# compose.yaml uses; its server listens on TCP from the start, as compose.yaml's health check asks.
FROM voxq-base:bookworm
# No "main" cluster at install: the entrypoint makes one in the volume on first start.
RUN mkdir -p /etc/postgresql-common/createcluster.d \
 && echo "create_main_cluster = false" > /etc/postgresql-common/createcluster.d/no-main.conf \
 && apt-get update \
 && apt-get install -y --no-install-recommends postgresql-15 \
 && rm -rf /var/lib/apt/lists/*
ENV PATH=/usr/lib/postgresql/15/bin:$PATH PGDATA=/var/lib/postgresql/data LANG=C.UTF-8
COPY images/postgres-entrypoint.sh /usr/local/bin/postgres-entrypoint.sh
ENTRYPOINT ["/bin/sh", "/usr/local/bin/postgres-entrypoint.sh"]
