# Redis for the compose test, from Debian (bookworm: Redis 7.0) in place of compose.yaml's
# redis:7.4.11-bookworm. compose.yaml's command (--requirepass ...) and health check (redis-cli with
# REDISCLI_AUTH) run on it as they are.
FROM voxq-base:bookworm
RUN apt-get update \
 && apt-get install -y --no-install-recommends redis-server \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /data
# Run with no config file, Redis refuses clients from other hosts (protected mode); the
# official image's entrypoint turns that off the same way, and compose.yaml relies on it.
ENTRYPOINT ["/bin/sh", "-c", "exec \"$@\" --protected-mode no", "--"]
CMD ["redis-server"]
