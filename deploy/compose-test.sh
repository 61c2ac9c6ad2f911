#!/usr/bin/env bash
# docker-compose on the test stack: compose.yaml with the compose.test.yaml override, rendered
# into one file with the GPU reservations dropped (an override cannot remove them; see
# compose.test.yaml). Arguments go to docker-compose, e.g.
#   VOXQ_REDIS_PASSWORD=pw VOXQ_REDIS_WORKER_PASSWORD=wpw VOXQ_POSTGRES_PASSWORD=pw VOXQ_FLOWER_PASSWORD=pw VOXQ_METRICS_TOKEN=tok \
#     deploy/compose-test.sh up -d
#   deploy/compose-test.sh down -v
# VOXQ_TEST_PROJECT names the project (default voxq-test); VOXQ_TEST_COMPOSE_FILE is where the
# rendered file goes (it holds the secrets: it is made readable by its owner only).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
rendered=${VOXQ_TEST_COMPOSE_FILE:-$here/../var/docker/compose.rendered.yaml}
mkdir -p "$(dirname "$rendered")"
umask 077
# /usr/bin/python3: Debian's docker-compose runs on it, so its PyYAML is there wherever Compose v1 is.
docker-compose -f "$here/compose.yaml" -f "$here/compose.test.yaml" config \
    | /usr/bin/python3 -c '
import sys, yaml
config = yaml.safe_load(sys.stdin)
for service in config["services"].values():
    service.pop("deploy", None)  # GPU reservations (the test has no GPU) and nothing else
yaml.safe_dump(config, sys.stdout, sort_keys=False)
' >"$rendered.part"
mv "$rendered.part" "$rendered"
exec docker-compose -p "${VOXQ_TEST_PROJECT:-voxq-test}" -f "$rendered" "$@"
