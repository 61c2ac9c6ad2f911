"""deploy/compose.yaml read as a file, without Docker (test_compose.py runs it): the pinned Redis
and Postgres are past their known holes, Redis asks for a password that every URL carries, the
health checks ask as the clients do, every long-running service comes back after a crash, a
stopped worker has the shutdown grace its Kubernetes pod has, and nothing prints a secret."""

import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

from shared.config import Settings
from tests.deploy.test_compose import SECRETS

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
COMPOSE = DEPLOY / "compose.yaml"
TEST_OVERRIDE = DEPLOY / "compose.test.yaml"
MIN_REDIS = (7, 4, 6)  # CVE-2025-49844: remote code execution through a Lua script
MIN_POSTGRES = (16, 11)  # the 16.10 and 16.11 security fixes; 16, the data volume's major version
DIGEST = re.compile(r"@sha256:[0-9a-f]{64}$")
# Compose's ${VAR}, ${VAR:?message}, ${VAR?message}, ${VAR:-default}, ${VAR-default}.
VARIABLE = re.compile(r"\$\{(\w+)(?:(:?[?-])([^}]*))?\}")
# What the compose.yaml of the services that run on their own must never be without.
RESTARTS = {"unless-stopped", "always"}

Service = dict[str, Any]


def interpolate(value: Any, env: dict[str, str]) -> Any:
    """The file's values as Compose reads them with `env` set (a required variable unset fails)."""
    if isinstance(value, dict):
        return {key: interpolate(item, env) for key, item in value.items()}
    if isinstance(value, list):
        return [interpolate(item, env) for item in value]
    if not isinstance(value, str):
        return value

    def one(match: re.Match[str]) -> str:
        name, kind, rest = match.groups()
        if name in env:
            return env[name]
        assert kind not in (":?", "?"), f"{name} is required: {rest}"
        return rest if kind in (":-", "-") else ""

    return VARIABLE.sub(one, value)


def references(value: Any) -> list[re.Match[str]]:
    """Every variable the file's values (not its comments) refer to."""
    if isinstance(value, dict):
        return [match for item in value.values() for match in references(item)]
    if isinstance(value, list):
        return [match for item in value for match in references(item)]
    return list(VARIABLE.finditer(value)) if isinstance(value, str) else []


def services() -> dict[str, Service]:
    """Every service, the gpu1 profile's too, with the test's secrets set."""
    config = yaml.safe_load(COMPOSE.read_text())
    found: dict[str, Service] = interpolate(config["services"], SECRETS)
    return found


def environment(service: Service) -> dict[str, str]:
    env = service.get("environment", {})
    assert isinstance(env, dict), "environment as a mapping"
    return {name: str(value) for name, value in env.items()}


def image_version(image: str) -> tuple[int, ...]:
    """The version in an image's tag: redis:7.4.11-bookworm@sha256:... -> (7, 4, 11)."""
    tag = image.split("@")[0].rsplit(":", 1)[1]
    match = re.match(r"(\d+(?:\.\d+)*)", tag)
    assert match, f"{image}: no version in the tag"
    return tuple(int(part) for part in match.group(1).split("."))


def seconds(duration: str) -> float:
    """A Compose duration ("90s", "1m30s", "1930s") in seconds."""
    parts = re.findall(r"(\d+(?:\.\d+)?)(h|ms|m|s|us)", duration)
    assert parts and "".join(number + unit for number, unit in parts) == duration, duration
    scale = {"h": 3600, "m": 60, "s": 1, "ms": 1e-3, "us": 1e-6}
    return sum(float(number) * scale[unit] for number, unit in parts)


def is_worker(service: Service) -> bool:
    return service.get("command", [])[:2] == ["voxq", "worker"]


def kubernetes_workers() -> dict[str, tuple[float, float]]:
    """Each pool's (shutdown grace, terminationGracePeriodSeconds) in deploy/k8s."""
    pools = {}
    for path in sorted((DEPLOY / "k8s").glob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            if not doc or doc["kind"] != "Deployment":
                continue
            spec = doc["spec"]["template"]["spec"]
            for container in spec["containers"]:
                if container.get("command", [])[:2] == ["voxq", "worker"]:
                    env = {e["name"]: e.get("value") for e in container.get("env", [])}
                    grace = float(env.get("VOXQ_WORKER_SHUTDOWN_GRACE_S") or default_grace())
                    pools[container["command"][2]] = (grace, float(spec["terminationGracePeriodSeconds"]))
    return pools


def default_grace() -> float:
    return float(Settings.model_fields["worker_shutdown_grace_s"].default)


# --- images --------------------------------------------------------------------------------------


def test_redis_and_postgres_are_past_their_known_holes_and_pinned_by_digest() -> None:
    redis, postgres = services()["redis"]["image"], services()["postgres"]["image"]

    assert redis.startswith("redis:") and image_version(redis) >= MIN_REDIS and image_version(redis)[:2] == (7, 4)
    assert postgres.startswith("postgres:") and image_version(postgres)[0] == MIN_POSTGRES[0]
    assert image_version(postgres) >= MIN_POSTGRES
    assert DIGEST.search(redis) and DIGEST.search(postgres)


def test_every_image_is_pinned_and_voxqueues_base_by_digest() -> None:
    """A version tag, never `latest`; upstream images by digest too, or the file says why not
    (none recorded). VoxQueue's own image is built here, from a base pinned by digest."""
    images = {service["image"] for service in services().values()}
    lines = COMPOSE.read_text().splitlines()
    (base,) = re.findall(r"^FROM\s+(\S+)", (DEPLOY / "Dockerfile").read_text(), flags=re.MULTILINE)

    assert [image for image in images if ":" not in image.split("@")[0].rsplit("/", 1)[-1]] == []
    assert [image for image in images if ":latest" in image] == []
    for image in images:
        if not DIGEST.search(image) and not image.startswith("voxqueue:"):
            (line,) = [line for line in lines if line.strip().startswith(f"image: {image}")]
            assert "digest not recorded" in line, f"{image}: pinned by tag only, and the file does not say why"
    assert DIGEST.search(base), f"deploy/Dockerfile: FROM {base}"


# --- Redis and Postgres --------------------------------------------------------------------------


def test_every_secret_is_required_and_has_no_default() -> None:
    """`${VAR:?}`: Compose refuses to start without it; never a password anyone could guess."""
    secrets = [m for m in references(yaml.safe_load(COMPOSE.read_text())) if re.search(r"PASSWORD|TOKEN", m.group(1))]

    assert {m.group(1) for m in secrets} >= {
        "VOXQ_REDIS_PASSWORD",
        "VOXQ_REDIS_WORKER_PASSWORD",
        "VOXQ_POSTGRES_PASSWORD",
    }
    assert [m.group(0) for m in secrets if m.group(2) != ":?"] == []


def worker_services(every: dict[str, Service]) -> set[str]:
    return {name for name, s in every.items() if s.get("command", [])[:2] == ["voxq", "worker"]}


def test_redis_asks_for_the_password_that_every_redis_url_carries() -> None:
    """requirepass from VOXQ_REDIS_PASSWORD; every VoxQueue process's URL but the workers'
    (Flower's broker too) carries it; the health check authenticates (REDISCLI_AUTH) and looks
    for PONG, since redis-cli exits 0 on an error reply such as NOAUTH."""
    every = services()
    redis = every["redis"]
    password = SECRETS["VOXQ_REDIS_PASSWORD"]
    command = redis["command"]
    urls = {name: environment(s)["VOXQ_REDIS_URL"] for name, s in every.items() if "VOXQ_REDIS_URL" in environment(s)}
    workers = worker_services(every)

    assert command[0] == "redis-server" and command[command.index("--requirepass") + 1] == password
    assert environment(redis)["REDISCLI_AUTH"] == password
    assert redis["healthcheck"]["test"][0] == "CMD-SHELL" and "grep -q PONG" in redis["healthcheck"]["test"][1]
    assert {name for name, s in every.items() if s["image"].startswith("voxqueue:")} <= set(urls)
    assert {name for name, url in urls.items() if name not in workers and urlsplit(url).password != password} == set()
    assert {urlsplit(url).hostname for url in urls.values()} == {"redis"}


def test_workers_use_a_redis_user_without_the_dangerous_commands() -> None:
    """A GPU host's worker may queue, take and record, never FLUSHALL, CONFIG or MODULE LOAD:
    the `voxq-worker` ACL user is every command but Redis's @dangerous category."""
    every = services()
    command = every["redis"]["command"]
    rule = command[command.index("--user") + 1 :]
    rule = rule[: next((i for i, word in enumerate(rule) if word.startswith("--")), len(rule))]
    workers = worker_services(every)
    urls = {urlsplit(environment(every[name])["VOXQ_REDIS_URL"]) for name in workers}

    assert {"tts-worker", "tts-worker-1", "llm-worker", "llm-worker-1", "media-worker"} <= workers
    assert rule == [
        "voxq-worker",
        "on",
        f">{SECRETS['VOXQ_REDIS_WORKER_PASSWORD']}",
        "~*",
        "&*",
        "+@all",
        "-@dangerous",
    ]
    assert {(url.username, url.password) for url in urls} == {("voxq-worker", SECRETS["VOXQ_REDIS_WORKER_PASSWORD"])}


def test_the_postgres_health_check_asks_over_tcp() -> None:
    """As the clients connect: the image's first-start server listens on its socket alone."""
    test = services()["postgres"]["healthcheck"]["test"]

    assert "pg_isready" in test and test[test.index("-h") + 1] == "127.0.0.1"


def test_the_test_override_keeps_the_hardening_of_redis_and_postgres() -> None:
    """It swaps the images only: the test runs compose.yaml's commands and health checks, and
    gives every variable compose.yaml requires."""
    override = yaml.safe_load(TEST_OVERRIDE.read_text())["services"]
    required = {m.group(1) for m in references(yaml.safe_load(COMPOSE.read_text())) if m.group(2) in (":?", "?")}

    assert set(override["redis"]) == set(override["postgres"]) == {"image", "build"}
    assert required <= set(SECRETS)
    for name in ("VOXQ_REDIS_PASSWORD", "VOXQ_REDIS_WORKER_PASSWORD"):
        assert re.fullmatch(r"[0-9a-f]{32,}", SECRETS[name])  # made per run, safe in a URL


# --- restarts, shutdowns, the migration ---------------------------------------------------------


def test_every_long_running_service_restarts_and_the_migration_on_failure() -> None:
    every = services()

    assert every["migrate"]["restart"] == "on-failure"
    assert {
        name: s.get("restart") for name, s in every.items() if name != "migrate" and s.get("restart") not in RESTARTS
    } == {}


def test_a_stopped_worker_has_the_shutdown_grace_of_its_kubernetes_pod() -> None:
    """The worker finishes its running job within VOXQ_WORKER_SHUTDOWN_GRACE_S; Compose kills it
    after stop_grace_period, the pod's terminationGracePeriodSeconds."""
    on_kubernetes = kubernetes_workers()
    checked = set()
    for name, service in services().items():
        if not is_worker(service):
            continue
        pool = service["command"][2]
        grace = float(environment(service).get("VOXQ_WORKER_SHUTDOWN_GRACE_S", default_grace()))
        stop = seconds(service["stop_grace_period"])
        checked.add(pool)

        assert (grace, stop) == on_kubernetes[pool], name
        assert stop > grace, name
    assert checked == set(on_kubernetes) == {"tts", "llm", "media"}


def test_the_migration_prints_no_secret_and_runs_what_the_kubernetes_job_runs() -> None:
    """`voxq migrate` prints the database URL and a new key; the script is run on Postgres by
    tests/deploy/test_k8s.py."""
    command = services()["migrate"]["command"]
    job = yaml.safe_load((DEPLOY / "k8s" / "migrate.yaml").read_text())
    (container,) = job["spec"]["template"]["spec"]["containers"]

    assert command[:2] != ["voxq", "migrate"]
    assert command == container["command"]
