"""The Kubernetes manifests (deploy/k8s) render, are valid for Kubernetes 1.32, scale each pool on
exactly the Redis lists its lanes wait in and, for the pools that take batches, on the lines its
lanes' batches still hold in the database, and give every process the settings it needs. The GPU
pools (tts, llm) each run an engine beside their worker; the media pool runs on the CPU alone.

Offline: `kubectl kustomize` renders the kustomization, `kubernetes-validate` checks the built-in
kinds against the schemas it ships, and KEDA's kinds are checked against the fields KEDA documents
(keda.sh/docs/2.16: reference/scaledobject-spec, scalers/redis-lists, scalers/postgresql,
concepts/authentication). The postgresql triggers' queries run on a fresh, migrated Postgres
database (the server the other Postgres tests use; no process is started).

And the deploy holds no known hole: every container runs unprivileged (deploy/Dockerfile's numeric
user, no capability, a read-only root) save the engines' named exceptions; every Deployment that
reads the database waits for the migration, whose Job prints neither the database URL nor an API
key (both scripts run here on Postgres); the API keeps a pod through a drain; NetworkPolicies deny
ingress but where it is meant to go; every Redis URL carries a password."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import kubernetes_validate
import psycopg
import pytest
import yaml
from psycopg.conninfo import conninfo_to_dict, make_conninfo
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from deploy.stack import fresh_pg_database, migrated
from shared.config import Settings
from shared.db import make_engine
from shared.jobs import state
from shared.jobs.lanes import BOOK_TASK, LANES, QUEUE_FOR_TASK, QUEUES, TASK_FOR_KIND, Lane, lane_list
from shared.models import Batch, JobKind, Tenant
from shared.tenants.auth import KEY_PREFIX
from tests.plugins.tiers import starts_processes
from workers.app import celery_app
from workers.books import tasks as _book_tasks  # noqa: F401  (registers BOOK_TASK with celery_app)

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
K8S = DEPLOY / "k8s"
KUBERNETES_VERSION = "1.32"  # the kubectl installed here; the manifests need 1.29+ (native sidecars)
SECRET_EXAMPLE = K8S / "secret.example.yaml"
INGRESS_EXAMPLE = K8S / "ingress.example.yaml"
MODEL_LOAD_ANNOTATION = "voxqueue/model-load-s"

Manifest = dict[str, Any]


@dataclass(frozen=True)
class SecretRef:
    """An environment variable whose value a Secret holds (unknown here, as it should be)."""

    name: str
    key: str


@dataclass(frozen=True)
class Role:
    kind: str
    name: str
    container: str
    command: tuple[str, ...]
    settings: frozenset[str]  # the VOXQ_ variables this process needs set


_STORE = {"VOXQ_REDIS_URL", "VOXQ_DATABASE_URL"}
# What the API reads to key snippets and accept work: the same values the workers use.
_JOB_SHAPE = {"VOXQ_TTS_ENGINE", "VOXQ_FISH_SPEECH_MODEL", "VOXQ_LLM_URL"}
ROLES = {
    "api": Role(
        "Deployment",
        "voxq-api",
        "api",
        ("voxq", "api", "--host", "0.0.0.0"),
        frozenset(_STORE | _JOB_SHAPE | {"VOXQ_METRICS_TOKEN"}),
    ),
    "tts-worker": Role(
        "Deployment",
        "voxq-tts-worker",
        "worker",
        ("voxq", "worker", "tts", "--concurrency", "1"),
        frozenset(
            _STORE
            | {"VOXQ_TTS_ENGINE", "VOXQ_FISH_SPEECH_URL", "VOXQ_FISH_SPEECH_MODEL", "VOXQ_WORKER_SHUTDOWN_GRACE_S"}
        ),
    ),
    "llm-worker": Role(
        "Deployment",
        "voxq-llm-worker",
        "worker",
        ("voxq", "worker", "llm"),
        frozenset(_STORE | {"VOXQ_LLM_URL", "VOXQ_LLM_MODEL", "VOXQ_WORKER_SHUTDOWN_GRACE_S"}),
    ),
    "flower": Role(
        "Deployment",
        "voxq-flower",
        "flower",
        ("voxq", "flower", "--port", "5555"),
        frozenset({"VOXQ_REDIS_URL", "VOXQ_FLOWER_PASSWORD"}),
    ),
    "media-worker": Role(
        "Deployment",
        "voxq-media-worker",
        "worker",
        # Slots given: a prefork worker's default is one per core it sees, i.e. the node's, not the pod's.
        ("voxq", "worker", "media", "--concurrency", "2"),
        frozenset(_STORE | {"VOXQ_WORKER_SHUTDOWN_GRACE_S"}),
    ),
    "reconciler": Role(
        "Deployment", "voxq-reconciler", "reconciler", ("voxq", "requeue", "--every", "10"), frozenset(_STORE)
    ),
    # A script, not `voxq migrate` (which makes a local key, shown on a terminal): what it does is
    # checked by running it (test_the_migration_prints_neither_the_database_url_nor_a_key).
    "migrate": Role("Job", "voxq-migrate", "migrate", ("python", "-c"), frozenset({"VOXQ_DATABASE_URL"})),
}
# The GPU pools: an engine (a native sidecar) on one GPU beside each worker, with a model to load.
WORKERS = {"tts": ROLES["tts-worker"], "llm": ROLES["llm-worker"]}


@dataclass(frozen=True)
class CpuPool:
    """A pool that runs on the CPU alone: no GPU, no engine, no model. Its jobs may run for as
    long as its task's hard time limit, which its scaling and shutdown must leave them."""

    role: Role
    task: str

    @property
    def longest_job_s(self) -> float:
        limit = celery_app.tasks[self.task].time_limit
        assert limit, f"{self.task} has no hard time limit"
        return float(limit)


CPU_WORKERS = {"media": CpuPool(ROLES["media-worker"], BOOK_TASK)}
POOL_ROLES = WORKERS | {pool: cpu.role for pool, cpu in CPU_WORKERS.items()}
# What a process must never run in a manifest: it prints a secret into the logs.
PRINTS_A_SECRET = {
    ("voxq", "migrate"): "on a new database a new API key (on a terminal)",
    ("voxq", "keys"): "an API key",
}
# The init container every Deployment that reads the database runs first (schema-wait.yaml).
SCHEMA_WAIT = "wait-for-schema"
SCHEMA_WAIT_CONFIG = ("voxq-schema-wait", "wait_for_schema.py")
# Flower reads Redis alone: no database URL, nothing to wait for.
NO_DATABASE = {"voxq-flower"}

# Who every container runs as, and what it may do (restricted, in the Pod Security Standards'
# terms), with the engines' named exceptions: they run as their images' user, root, and write
# where their images have them write. Each exception must name an engine sidecar.
SECURITY_FIELDS = ("runAsNonRoot", "runAsUser", "runAsGroup", "readOnlyRootFilesystem")
ENGINE_EXCEPTIONS = {
    ("voxq-tts-worker", "fish-speech"): frozenset(SECURITY_FIELDS),
    ("voxq-llm-worker", "vllm"): frozenset(SECURITY_FIELDS),
}

# Never a literal in a manifest: each comes from the Secret.
SECRET_SETTINGS = {"VOXQ_REDIS_URL", "VOXQ_DATABASE_URL", "VOXQ_METRICS_TOKEN", "VOXQ_FLOWER_PASSWORD"}
# Where one process writes and another reads: every process that sets one sets the same value.
AGREED_SETTINGS = {
    "VOXQ_TTS_ENGINE",
    "VOXQ_FISH_SPEECH_MODEL",
    "VOXQ_LLM_MODEL",
    "VOXQ_TTS_GROUP_SIZE",
    "VOXQ_LLM_GROUP_SIZE",
    "VOXQ_VISIBILITY_TIMEOUT_S",
    "VOXQ_LEASE_S",
    # What shapes a book's sound: part of a book file's key (the API) and how it is built (the media worker).
    "VOXQ_BOOK_LOUDNESS_LUFS",
    "VOXQ_BOOK_PEAK_DBFS",
    "VOXQ_BOOK_AAC_KBPS",
    "VOXQ_PAUSE_BETWEEN_CHUNKS_MS",
}

# The fields KEDA documents (2.16), by object.
SCALED_OBJECT_SPEC = {
    "scaleTargetRef",
    "pollingInterval",
    "cooldownPeriod",
    "initialCooldownPeriod",
    "idleReplicaCount",
    "minReplicaCount",
    "maxReplicaCount",
    "fallback",
    "advanced",
    "triggers",
}
SCALE_TARGET_REF = {"apiVersion", "kind", "name", "envSourceContainerName"}
ADVANCED = {"restoreToOriginalReplicaCount", "horizontalPodAutoscalerConfig", "scalingModifiers"}
HPA_CONFIG = {"name", "behavior"}
TRIGGER = {"type", "metadata", "name", "useCachedMetrics", "metricType", "authenticationRef"}
AUTHENTICATION_REF = {"name", "kind"}
REDIS_LIST_METADATA = {
    "address",
    "host",
    "port",
    "addressFromEnv",
    "hostFromEnv",
    "portFromEnv",
    "usernameFromEnv",
    "passwordFromEnv",
    "listName",
    "listLength",
    "activationListLength",
    "enableTLS",
    "unsafeSsl",
    "databaseIndex",
}
REDIS_AUTH_PARAMETERS = {"address", "host", "port", "username", "password", "tls", "ca", "cert", "key", "keyPassword"}
POSTGRESQL_METADATA = {
    "connectionFromEnv",
    "host",
    "port",
    "userName",
    "passwordFromEnv",
    "dbName",
    "sslmode",
    "query",
    "targetQueryValue",
    "activationTargetQueryValue",
}
POSTGRESQL_AUTH_PARAMETERS = {"connection", "host", "port", "userName", "password", "dbName", "sslmode"}
SCALER_METADATA = {"redis": REDIS_LIST_METADATA, "postgresql": POSTGRESQL_METADATA}
SCALER_AUTH_PARAMETERS = {"redis": REDIS_AUTH_PARAMETERS, "postgresql": POSTGRESQL_AUTH_PARAMETERS}
FALLBACK = {"failureThreshold", "replicas"}  # `behavior` only since 2.17
SECRET_TARGET_REF = {"parameter", "name", "key"}

# The kinds whose lines come in batches, and so wait in the database (batches.undispatched) until
# the dispatcher sends them. Never books: a book is one job, sent straight to the live list.
BATCH_KINDS = (JobKind.synthesis, JobKind.generation, JobKind.dialect)


def batch_kinds(pool: str) -> set[str]:
    """The kinds of batch whose lines `pool`'s workers run, as `batches.kind` holds them."""
    return {kind.value for kind in BATCH_KINDS if QUEUE_FOR_TASK[TASK_FOR_KIND[kind]] == pool}


BATCH_POOLS = tuple(pool for pool in QUEUES if batch_kinds(pool))
# Jobs the dispatcher puts in one message of each batch pool (shared/jobs/queue.py per_message).
GROUP_SIZE_SETTING = {"tts": "VOXQ_TTS_GROUP_SIZE", "llm": "VOXQ_LLM_GROUP_SIZE"}
# The processes that run the dispatcher (VOXQ_DISPATCH_IN_API, `voxq requeue --every`).
DISPATCHERS = ("api", "reconciler")


@pytest.fixture(scope="module")
def objects() -> list[Manifest]:
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.fail("kubectl (1.32, with kustomize) is needed to render deploy/k8s")
    done = subprocess.run([kubectl, "kustomize", str(K8S)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return [doc for doc in yaml.safe_load_all(done.stdout) if doc]


def find(objects: list[Manifest], kind: str, name: str) -> Manifest:
    found = [o for o in objects if o["kind"] == kind and o["metadata"]["name"] == name]
    assert len(found) == 1, f"{kind}/{name}: {len(found)} in the render"
    return found[0]


def of_kind(objects: list[Manifest], kind: str) -> list[Manifest]:
    return [o for o in objects if o["kind"] == kind]


def pod_spec(workload: Manifest) -> dict[str, Any]:
    spec: dict[str, Any] = workload["spec"]["template"]["spec"]
    return spec


def container(workload: Manifest, name: str) -> dict[str, Any]:
    found = [c for c in pod_spec(workload)["containers"] if c["name"] == name]
    assert len(found) == 1, f"{workload['metadata']['name']} has no container {name!r}"
    return found[0]


def sidecars(workload: Manifest) -> list[dict[str, Any]]:
    """Native sidecars: init containers that keep running beside the pod's containers."""
    return [c for c in pod_spec(workload).get("initContainers", []) if c.get("restartPolicy") == "Always"]


def environment(objects: list[Manifest], spec: dict[str, Any]) -> dict[str, str | SecretRef]:
    """A container's environment as Kubernetes builds it: envFrom first, then env over it."""
    values: dict[str, str | SecretRef] = {}
    for source in spec.get("envFrom", []):
        assert set(source) == {"configMapRef"}, f"only ConfigMaps are read whole, never a Secret: {source}"
        values.update(find(objects, "ConfigMap", source["configMapRef"]["name"]).get("data", {}))
    for variable in spec.get("env", []):
        ref = variable.get("valueFrom", {})
        if "secretKeyRef" in ref:
            values[variable["name"]] = SecretRef(ref["secretKeyRef"]["name"], ref["secretKeyRef"]["key"])
        elif "configMapKeyRef" in ref:
            config = find(objects, "ConfigMap", ref["configMapKeyRef"]["name"])
            values[variable["name"]] = config["data"][ref["configMapKeyRef"]["key"]]
        else:
            values[variable["name"]] = variable["value"]
    return values


def all_containers(workload: Manifest) -> list[dict[str, Any]]:
    """Init containers (the engines, the schema wait) and containers."""
    spec = pod_spec(workload)
    return [*spec.get("initContainers", []), *spec["containers"]]


def workloads(objects: list[Manifest]) -> list[Manifest]:
    return [o for o in objects if o["kind"] in ("Deployment", "Job")]


def voxq_image() -> str:
    """VoxQueue's image as the render names it (kustomization.yaml `images`)."""
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    (image,) = [i for i in kustomization["images"] if i["name"] == "voxqueue"]
    return f"{image['newName']}:{image['newTag']}"


def voxq_containers(objects: list[Manifest]) -> list[tuple[str, dict[str, Any]]]:
    """Every container of VoxQueue's image, init containers included."""
    return [
        (f"{o['metadata']['name']}/{c['name']}", c)
        for o in workloads(objects)
        for c in all_containers(o)
        if c["image"] == voxq_image()
    ]


def image_user() -> tuple[int, int]:
    """deploy/Dockerfile's USER, uid and gid, which must be numbers (the kubelet checks
    runAsNonRoot against a numeric user only) and the ones its useradd gives."""
    dockerfile = (DEPLOY / "Dockerfile").read_text()
    (user,) = re.findall(r"^USER\s+(\S+)\s*$", dockerfile, flags=re.MULTILINE)
    uid, _, gid = user.partition(":")
    assert uid.isdigit() and gid.isdigit(), f"USER {user}: not numeric uid:gid"
    assert re.search(rf"useradd\b[^\n]*--uid {uid}\b", dockerfile), "useradd gives another uid"
    assert re.search(rf"groupadd\b[^\n]*--gid {gid}\b", dockerfile), "groupadd gives another gid"
    return int(uid), int(gid)


def security(workload: Manifest, spec: dict[str, Any]) -> dict[str, Any]:
    """A container's security settings as the kubelet applies them: the pod's, then the
    container's over them (for the fields both may set)."""
    pod = pod_spec(workload).get("securityContext", {})
    both = ("runAsNonRoot", "runAsUser", "runAsGroup", "seccompProfile")
    return {key: pod[key] for key in both if key in pod} | spec.get("securityContext", {})


def redis_urls(value: Any) -> Iterator[str]:
    """Every redis:// or rediss:// URL in a manifest's strings."""
    if isinstance(value, dict):
        for item in value.values():
            yield from redis_urls(item)
    elif isinstance(value, list):
        for item in value:
            yield from redis_urls(item)
    elif isinstance(value, str):
        yield from re.findall(r"rediss?://\S+", value)


def arg(args: list[str], flag: str) -> str:
    return args[args.index(flag) + 1]


def cores(quantity: str) -> float:
    """A CPU quantity in cores: "2", "1.5" or "500m"."""
    return float(quantity[:-1]) / 1000 if quantity.endswith("m") else float(quantity)


def shutdown_grace_s(objects: list[Manifest], deployment: Manifest, container_name: str) -> float:
    env = environment(objects, container(deployment, container_name))
    default = Settings.model_fields["worker_shutdown_grace_s"].default
    return float(str(env.get("VOXQ_WORKER_SHUTDOWN_GRACE_S", default)))


def model_load_s(deployment: Manifest) -> float:
    annotations = deployment["metadata"].get("annotations", {})
    assert MODEL_LOAD_ANNOTATION in annotations, f"{deployment['metadata']['name']} states no model load time"
    return float(annotations[MODEL_LOAD_ANNOTATION])


def triggers(scaled: Manifest, kind: str) -> list[dict[str, Any]]:
    """The ScaledObject's triggers of one scaler type ("redis", "postgresql")."""
    return [t for t in scaled["spec"]["triggers"] if t["type"] == kind]


@dataclass(frozen=True)
class BacklogQuery:
    """What a postgresql trigger's query says it counts: the batch kinds and the lane."""

    kinds: frozenset[str]
    lane: str


def backlog_query(query: str) -> BacklogQuery:
    kinds = re.findall(r"\bkind\s+IN\s*\(([^)]*)\)", query, flags=re.IGNORECASE)
    lanes = re.findall(r"\blane\s*=\s*'([^']*)'", query, flags=re.IGNORECASE)
    assert len(kinds) == 1 and len(lanes) == 1, f"not one kind list and one lane: {query}"
    return BacklogQuery(frozenset(re.findall(r"'([^']*)'", kinds[0])), lanes[0])


def group_size(objects: list[Manifest], pool: str) -> int:
    """Jobs in one message the dispatcher sends for `pool`, as the processes that dispatch set it."""
    setting = GROUP_SIZE_SETTING[pool]
    default = Settings.model_fields[setting.removeprefix("VOXQ_").lower()].default
    sizes = set()
    for role in (ROLES[name] for name in DISPATCHERS):
        env = environment(objects, container(find(objects, role.kind, role.name), role.container))
        sizes.add(int(str(env.get(setting, default))))
    assert len(sizes) == 1, f"the dispatchers disagree on {setting}: {sizes}"
    return sizes.pop()


def scaled_pools(objects: list[Manifest]) -> dict[str, Manifest]:
    """Each pool's ScaledObject, by the pool its target Deployment's worker serves."""
    pools = {}
    for scaled in of_kind(objects, "ScaledObject"):
        target = find(objects, "Deployment", scaled["spec"]["scaleTargetRef"]["name"])
        commands = [
            c["command"] for c in pod_spec(target)["containers"] if c.get("command", [])[:2] == ["voxq", "worker"]
        ]
        assert len(commands) == 1, f"{scaled['metadata']['name']} scales no worker Deployment"
        pools[commands[0][2]] = scaled
    return pools


# --- the render and the built-in kinds ----------------------------------------------------------


def test_the_kustomization_renders_every_part_of_the_deployment(objects: list[Manifest]) -> None:
    kinds = Counter(o["kind"] for o in objects)

    assert kinds["Deployment"] == 6  # api, flower, reconciler, tts worker, llm worker, media worker
    assert kinds["Job"] == 1  # the migration
    assert kinds["Service"] == 2  # api, flower
    assert kinds["ScaledObject"] == len(QUEUES)
    assert kinds["TriggerAuthentication"] == 2  # Redis, Postgres
    assert kinds["ConfigMap"] == 2  # the settings, the schema wait's script
    assert kinds["PodDisruptionBudget"] == 1  # the API's
    assert kinds["NetworkPolicy"] == 5  # deny by default; the API, Flower, Redis, Postgres
    for role in ROLES.values():
        find(objects, role.kind, role.name)


def test_every_built_in_kind_is_valid_for_kubernetes_1_32(objects: list[Manifest]) -> None:
    """Strict: an unknown or misspelt field fails too, not only a wrong type."""
    errors = []
    built_in = [o for o in objects if not o["apiVersion"].startswith("keda.sh/")]
    for manifest in built_in:
        try:
            kubernetes_validate.validate(manifest, KUBERNETES_VERSION, strict=True)
        except kubernetes_validate.ValidationError as error:
            errors.append(f"{manifest['kind']}/{manifest['metadata']['name']} {list(error.path)}: {error.message}")
    assert errors == []
    assert {o["kind"] for o in built_in} >= {"Deployment", "Job", "Service", "ConfigMap"}


def test_each_process_runs_its_voxq_command(objects: list[Manifest]) -> None:
    for role in ROLES.values():
        spec = container(find(objects, role.kind, role.name), role.container)
        if role.command[0] == "voxq":
            assert tuple(spec["command"]) == role.command, role.name
        else:  # a script, run below
            assert tuple(spec["command"][:-1]) == role.command, role.name
        assert "args" not in spec, role.name


def test_no_process_prints_a_secret_into_its_log(objects: list[Manifest]) -> None:
    """A Job's or a pod's log is read by whoever may read the namespace's logs, and kept: no
    container runs a command that prints a key or a URL with its password."""
    printing = [
        f"{o['metadata']['name']}/{c['name']}: {PRINTS_A_SECRET[command]}"
        for o in workloads(objects)
        for c in all_containers(o)
        for command in PRINTS_A_SECRET
        if tuple(c.get("command", [])[:2]) == command
    ]
    scripts = [
        " ".join(c.get("command", []) + c.get("args", [])) for o in workloads(objects) for c in all_containers(o)
    ]

    assert printing == []
    assert not any(call in script for script in scripts for call in ("ensure_local_key", "create_key"))


def test_every_image_is_pinned_to_a_version(objects: list[Manifest]) -> None:
    images = [
        c["image"]
        for o in objects
        if o["kind"] in ("Deployment", "Job")
        for c in pod_spec(o)["containers"] + pod_spec(o).get("initContainers", [])
    ]
    unpinned = [image for image in images if "@sha256:" not in image and ":" not in image.rsplit("/", 1)[-1]]
    latest = [image for image in images if image.endswith(":latest")]
    assert unpinned == [] and latest == []


# --- settings -----------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ROLES, ids=str)
def test_each_process_gets_the_settings_its_role_needs(objects: list[Manifest], role: str) -> None:
    spec = ROLES[role]
    env = environment(objects, container(find(objects, spec.kind, spec.name), spec.container))

    assert sorted(spec.settings - set(env)) == []


def test_every_voxq_variable_is_a_settings_field(objects: list[Manifest]) -> None:
    """A misspelt variable would be ignored silently (Settings ignores extra variables)."""
    fields = {f"VOXQ_{name.upper()}" for name in Settings.model_fields}
    unknown = {
        f"{where}: {name}"
        for where, spec in voxq_containers(objects)
        for name in environment(objects, spec)
        if name.startswith("VOXQ_") and name not in fields
    }
    assert sorted(unknown) == []


def test_secrets_come_from_the_secret_never_from_a_literal(objects: list[Manifest]) -> None:
    literal = [
        f"{where}: {name}"
        for where, spec in voxq_containers(objects)
        for name, value in environment(objects, spec).items()
        if name in SECRET_SETTINGS and not isinstance(value, SecretRef)
    ]
    assert literal == []


def test_the_processes_agree_on_the_shared_settings(objects: list[Manifest]) -> None:
    seen: dict[str, set[str | SecretRef]] = {}
    for _, spec in voxq_containers(objects):
        for name, value in environment(objects, spec).items():
            if name in AGREED_SETTINGS:
                seen.setdefault(name, set()).add(value)
    assert {name: values for name, values in seen.items() if len(values) > 1} == {}


def test_the_example_secret_holds_every_key_the_manifests_read_and_is_not_applied(objects: list[Manifest]) -> None:
    example = yaml.safe_load(SECRET_EXAMPLE.read_text())
    kubernetes_validate.validate(example, KUBERNETES_VERSION, strict=True)
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    wanted = {
        SecretRef(value.name, value.key)
        for _, spec in voxq_containers(objects)
        for value in environment(objects, spec).values()
        if isinstance(value, SecretRef)
    }
    wanted |= {
        SecretRef(ref["name"], ref["key"])
        for auth in of_kind(objects, "TriggerAuthentication")
        for ref in auth["spec"].get("secretTargetRef", [])
    }

    assert SECRET_EXAMPLE.name not in kustomization["resources"]
    assert of_kind(objects, "Secret") == []
    assert {ref.name for ref in wanted} == {example["metadata"]["name"]}
    assert sorted(ref.key for ref in wanted if ref.key not in example["stringData"]) == []


# --- the engines beside each worker -------------------------------------------------------------


def test_the_tts_worker_speaks_through_the_fish_speech_server_in_its_pod(objects: list[Manifest]) -> None:
    deployment = find(objects, "Deployment", WORKERS["tts"].name)
    env = environment(objects, container(deployment, WORKERS["tts"].container))
    (engine,) = sidecars(deployment)
    command = engine["command"]
    url = urlsplit(str(env["VOXQ_FISH_SPEECH_URL"]))
    listen = urlsplit("//" + arg(command, "--listen"))

    assert env["VOXQ_TTS_ENGINE"] == "fish_speech"
    assert engine["image"].startswith("fishaudio/fish-speech:")
    assert command[:2] == ["python", "tools/api_server.py"]
    assert listen.hostname == "127.0.0.1"
    assert (url.hostname, url.port) == (listen.hostname, listen.port)
    assert Path(arg(command, "--llama-checkpoint-path")).name == env["VOXQ_FISH_SPEECH_MODEL"]


def test_the_llm_worker_asks_the_vllm_server_in_its_pod(objects: list[Manifest]) -> None:
    deployment = find(objects, "Deployment", WORKERS["llm"].name)
    env = environment(objects, container(deployment, WORKERS["llm"].container))
    (engine,) = sidecars(deployment)
    args = engine["args"]
    url = urlsplit(str(env["VOXQ_LLM_URL"]))

    assert engine["image"].startswith("vllm/vllm-openai:")
    assert (url.hostname, url.port, url.path) == ("127.0.0.1", int(arg(args, "--port")), "/v1")
    assert arg(args, "--host") == "127.0.0.1"
    assert arg(args, "--model") == env["VOXQ_LLM_MODEL"]
    assert arg(args, "--reasoning-parser") == "qwen3"


@pytest.mark.parametrize("pool", WORKERS)
def test_a_worker_pod_holds_one_gpu_for_its_engine(objects: list[Manifest], pool: str) -> None:
    """The engine is a native sidecar: it is ready before the worker starts and stops after it."""
    deployment = find(objects, "Deployment", WORKERS[pool].name)
    (engine,) = sidecars(deployment)
    everything = pod_spec(deployment)["containers"] + pod_spec(deployment).get("initContainers", [])
    gpus = [c.get("resources", {}).get("limits", {}).get("nvidia.com/gpu") for c in everything]

    assert engine["resources"]["limits"]["nvidia.com/gpu"] == 1
    assert [g for g in gpus if g is not None] == [1]
    assert "startupProbe" in engine


# --- scaling ------------------------------------------------------------------------------------


def test_each_pool_has_one_scaled_object_on_its_own_worker_deployment(objects: list[Manifest]) -> None:
    """KEDA allows one ScaledObject per Deployment: a pool's lanes are triggers of one object."""
    deployments = {d["metadata"]["name"] for d in of_kind(objects, "Deployment")}
    targets = [s["spec"]["scaleTargetRef"] for s in of_kind(objects, "ScaledObject")]

    assert all(t.get("kind", "Deployment") == "Deployment" for t in targets)
    assert all(t.get("apiVersion", "apps/v1") == "apps/v1" for t in targets)
    assert {t["name"] for t in targets} <= deployments
    assert len({t["name"] for t in targets}) == len(targets)
    assert sorted(scaled_pools(objects)) == sorted(QUEUES)
    assert {p: s["spec"]["scaleTargetRef"]["name"] for p, s in scaled_pools(objects).items()} == {
        p: r.name for p, r in POOL_ROLES.items()
    }


def test_every_pool_is_either_a_gpu_pool_or_a_cpu_pool() -> None:
    assert set(WORKERS).isdisjoint(CPU_WORKERS)
    assert sorted(POOL_ROLES) == sorted(QUEUES)


@pytest.mark.parametrize("pool", QUEUES)
def test_a_pool_scales_on_the_lists_of_its_lanes(objects: list[Manifest], pool: str) -> None:
    """The lists hold the dispatcher's window of batch lines and the single requests (all of
    the media pool's work: books never wait in the database)."""
    scaled = scaled_pools(objects)[pool]
    lists = [t["metadata"]["listName"] for t in triggers(scaled, "redis")]

    assert sorted(lists) == sorted(lane_list(pool, lane) for lane in LANES)


def test_the_pools_that_take_batches_are_the_gpu_pools() -> None:
    assert sorted(BATCH_POOLS) == sorted(WORKERS) == ["llm", "tts"]
    assert {kind for pool in BATCH_POOLS for kind in batch_kinds(pool)} == {k.value for k in BATCH_KINDS}


@pytest.mark.parametrize("pool", QUEUES)
def test_a_pool_that_takes_batches_scales_on_its_lines_waiting_in_the_database(
    objects: list[Manifest], pool: str
) -> None:
    """One postgresql trigger per lane, each naming exactly the pool's kinds and its lane (what
    they count is checked on Postgres below); the media pool has none."""
    scaled = scaled_pools(objects)[pool]
    counted = [backlog_query(t["metadata"]["query"]) for t in triggers(scaled, "postgresql")]

    if pool not in BATCH_POOLS:
        assert counted == []
        return
    assert sorted(q.lane for q in counted) == sorted(LANES)
    assert all(q.kinds == batch_kinds(pool) for q in counted), counted


def test_scaled_objects_use_only_the_fields_keda_documents(objects: list[Manifest]) -> None:
    for scaled in of_kind(objects, "ScaledObject"):
        spec = scaled["spec"]
        assert scaled["apiVersion"] == "keda.sh/v1alpha1"
        assert set(spec) <= SCALED_OBJECT_SPEC
        assert set(spec["scaleTargetRef"]) <= SCALE_TARGET_REF
        assert set(spec.get("advanced", {})) <= ADVANCED
        assert set(spec.get("advanced", {}).get("horizontalPodAutoscalerConfig", {})) <= HPA_CONFIG
        assert set(spec.get("fallback", {})) <= FALLBACK
        for key in ("pollingInterval", "cooldownPeriod", "minReplicaCount", "maxReplicaCount"):
            assert isinstance(spec.get(key, 0), int), key
        assert spec["triggers"]
        names = [t.get("name") for t in spec["triggers"]]
        assert None not in names and len(set(names)) == len(names), names


def test_every_trigger_uses_only_its_scalers_documented_metadata(objects: list[Manifest]) -> None:
    """Metadata values are strings (KEDA's metadata is a string map); each trigger's credentials
    come through a TriggerAuthentication."""
    auths = {a["metadata"]["name"] for a in of_kind(objects, "TriggerAuthentication")}
    for scaled in of_kind(objects, "ScaledObject"):
        for trigger in scaled["spec"]["triggers"]:
            metadata = trigger["metadata"]
            assert set(trigger) <= TRIGGER
            assert trigger["type"] in SCALER_METADATA
            assert set(metadata) <= SCALER_METADATA[trigger["type"]], trigger["name"]
            assert all(isinstance(value, str) for value in metadata.values()), metadata
            assert set(trigger["authenticationRef"]) <= AUTHENTICATION_REF
            assert trigger["authenticationRef"].get("kind", "TriggerAuthentication") == "TriggerAuthentication"
            assert trigger["authenticationRef"]["name"] in auths


def test_every_redis_trigger_reads_a_redis_list_as_keda_documents_it(objects: list[Manifest]) -> None:
    """Any waiting message wakes a pool from zero (activationListLength 0); the address and
    password come from the Secret."""
    auths = {a["metadata"]["name"]: a for a in of_kind(objects, "TriggerAuthentication")}
    for scaled in of_kind(objects, "ScaledObject"):
        for trigger in triggers(scaled, "redis"):
            metadata = trigger["metadata"]
            assert int(metadata["listLength"]) > 0
            assert metadata["activationListLength"] == "0"
            assert int(metadata["databaseIndex"]) >= 0
            auth = auths[trigger["authenticationRef"]["name"]]
            parameters = {ref["parameter"] for ref in auth["spec"]["secretTargetRef"]}
            addresses = [p for p in ("address", "addressFromEnv", "host", "hostFromEnv") if p in metadata]
            addresses += [p for p in ("address", "host") if p in parameters]
            assert len(addresses) == 1, f"{scaled['metadata']['name']}: Redis address given as {addresses}"
            assert "password" in parameters and "passwordFromEnv" not in metadata


def test_every_postgresql_trigger_reads_the_database_as_keda_documents_it(objects: list[Manifest]) -> None:
    """A query and numeric targets; any waiting line wakes a pool from zero (activation 0); the
    whole connection (host, user, password) is the Secret's libpq connection string, never a
    value in the manifest. The example Secret's value parses as one."""
    auths = {a["metadata"]["name"]: a for a in of_kind(objects, "TriggerAuthentication")}
    example = yaml.safe_load(SECRET_EXAMPLE.read_text())["stringData"]
    for scaled in of_kind(objects, "ScaledObject"):
        for trigger in triggers(scaled, "postgresql"):
            metadata = trigger["metadata"]
            assert metadata["query"].lstrip().upper().startswith("SELECT ")
            assert float(metadata["targetQueryValue"]) > 0
            assert metadata["activationTargetQueryValue"] == "0"
            auth = auths[trigger["authenticationRef"]["name"]]
            refs = {ref["parameter"]: ref for ref in auth["spec"]["secretTargetRef"]}
            assert set(refs) == {"connection"}, f"{trigger['name']}: the connection given as {sorted(refs)}"
            assert set(metadata) == {"query", "targetQueryValue", "activationTargetQueryValue"}, trigger["name"]
            connection = conninfo_to_dict(example[refs["connection"]["key"]])
            assert {"host", "port", "dbname", "user", "password"} <= set(connection), connection


def test_trigger_authentications_read_documented_parameters_from_secrets(objects: list[Manifest]) -> None:
    """Each is used by triggers of one scaler type and gives only that scaler's parameters."""
    used_by: dict[str, set[str]] = {}
    for scaled in of_kind(objects, "ScaledObject"):
        for trigger in scaled["spec"]["triggers"]:
            used_by.setdefault(trigger["authenticationRef"]["name"], set()).add(trigger["type"])
    for auth in of_kind(objects, "TriggerAuthentication"):
        name = auth["metadata"]["name"]
        assert auth["apiVersion"] == "keda.sh/v1alpha1"
        assert set(auth["spec"]) == {"secretTargetRef"}
        assert len(used_by.get(name, set())) == 1, f"{name} is used by {used_by.get(name)}"
        (scaler,) = used_by[name]
        for ref in auth["spec"]["secretTargetRef"]:
            assert set(ref) == SECRET_TARGET_REF
            assert ref["parameter"] in SCALER_AUTH_PARAMETERS[scaler], name


@pytest.mark.parametrize("pool", BATCH_POOLS)
def test_a_pools_database_targets_are_its_list_targets_in_jobs(objects: list[Manifest], pool: str) -> None:
    """A list trigger counts messages, a postgresql trigger jobs; the dispatcher puts the group
    size's jobs in a message, so a pod is given the same work wherever it waits. The live lane's
    target is the lower: live traffic gets more pods sooner."""
    scaled = scaled_pools(objects)[pool]
    per_list = {
        lane: float(t["metadata"]["listLength"])
        for t in triggers(scaled, "redis")
        for lane in LANES
        if t["metadata"]["listName"] == lane_list(pool, lane)
    }
    per_query = {
        backlog_query(t["metadata"]["query"]).lane: float(t["metadata"]["targetQueryValue"])
        for t in triggers(scaled, "postgresql")
    }

    assert per_query == {lane: target * group_size(objects, pool) for lane, target in per_list.items()}
    assert per_query["live"] < per_query["bulk"]


@pytest.mark.parametrize("pool", BATCH_POOLS)
def test_a_database_outage_does_not_scale_a_pool_to_zero(objects: list[Manifest], pool: str) -> None:
    """While a trigger fails (Postgres or Redis unreachable), KEDA holds the fallback's pods
    instead of taking the failing trigger as idle, which would empty the pool after the cooldown
    with its backlog still waiting in the database. Fallback needs AverageValue metrics (2.16)."""
    spec = scaled_pools(objects)[pool]["spec"]
    fallback = spec.get("fallback", {})

    assert set(fallback) == FALLBACK
    assert isinstance(fallback["failureThreshold"], int) and fallback["failureThreshold"] >= 1
    assert isinstance(fallback["replicas"], int) and 1 <= fallback["replicas"] <= spec["maxReplicaCount"]
    assert all(t.get("metricType", "AverageValue") == "AverageValue" for t in spec["triggers"])


# --- the postgresql triggers' queries, on Postgres ---------------------------------------------


@pytest.fixture(scope="module")
def backlog_database() -> Iterator[str]:
    """A fresh Postgres database of the current schema, for this module alone (empty until a
    test fills it)."""
    with fresh_pg_database("voxq_k8s") as url:
        yield migrated(url)


def libpq(url: str) -> str:
    """The SQLAlchemy URL as the libpq connection string the Secret's postgres-connection holds."""
    parts = make_url(url)
    return make_conninfo(
        host=parts.host, port=parts.port, dbname=parts.database, user=parts.username, password=parts.password
    )


def run_query(url: str, query: str) -> list[tuple[Any, ...]]:
    """The query as KEDA runs it, in a read-only transaction: it must only read."""
    with psycopg.connect(libpq(url)) as conn:
        conn.read_only = True
        return conn.execute(query).fetchall()


def postgresql_triggers(objects: list[Manifest]) -> list[tuple[str, dict[str, Any]]]:
    found = [(pool, t) for pool, scaled in scaled_pools(objects).items() for t in triggers(scaled, "postgresql")]
    assert found
    return found


def test_each_backlog_query_returns_one_number_and_zero_on_an_empty_database(
    objects: list[Manifest], backlog_database: str
) -> None:
    for _, trigger in postgresql_triggers(objects):
        rows = run_query(backlog_database, trigger["metadata"]["query"])

        assert len(rows) == 1 and len(rows[0]) == 1, f"{trigger['name']}: {rows}"
        assert type(rows[0][0]) is int and rows[0][0] == 0, f"{trigger['name']}: {rows}"  # 2.16: an integer


def test_each_backlog_query_sums_its_pools_waiting_lines_of_its_lane(
    objects: list[Manifest], backlog_database: str
) -> None:
    """Two batches of every kind in each lane, each with its own power of two (from 2) of lines
    waiting, and one with none: a query's sum tells exactly which batches it counted (a count of
    batches or a max would not match). It agrees with the voxq_backlog gauge (shared/jobs/state.py
    backlog), and Postgres can read it from the partial index of the batches with lines waiting."""
    engine = make_engine(backlog_database)
    expected: dict[tuple[str, str], int] = {(pool, lane): 0 for pool in QUEUES for lane in LANES}
    try:
        with Session(engine) as session:
            tenant = Tenant(name="keda-backlog")
            session.add(tenant)
            session.flush()
            bit = 1
            lane: Lane
            for kind in JobKind:
                pool = QUEUE_FOR_TASK[TASK_FOR_KIND[kind]]
                for lane in LANES:
                    for _ in range(2):
                        waiting, bit = 2**bit, bit + 1
                        session.add(
                            Batch(tenant_id=tenant.id, kind=kind, lines=waiting, lane=lane, undispatched=waiting)
                        )
                        if kind.value in batch_kinds(pool):
                            expected[pool, lane] += waiting
                    session.add(Batch(tenant_id=tenant.id, kind=kind, lines=3, lane=lane, undispatched=0))
            session.commit()
            gauge: dict[tuple[str, str], int] = dict(state.backlog(session).items())
    finally:
        engine.dispose()

    for pool, trigger in postgresql_triggers(objects):
        query = trigger["metadata"]["query"]
        counted = (pool, backlog_query(query).lane)
        rows = run_query(backlog_database, query)

        assert rows == [(expected[counted],)], trigger["name"]
        assert expected[counted] == gauge[counted] > 0
        with psycopg.connect(libpq(backlog_database)) as conn:
            conn.execute("SET enable_seqscan = off")
            plan = "\n".join(row[0] for row in conn.execute(f"EXPLAIN {query}"))
        assert "ix_batches_waiting" in plan, plan


@pytest.mark.parametrize("pool", WORKERS)
def test_an_idle_gpu_pool_scales_to_zero_only_after_longer_than_a_model_load(
    objects: list[Manifest], pool: str
) -> None:
    scaled = scaled_pools(objects)[pool]
    deployment = find(objects, "Deployment", scaled["spec"]["scaleTargetRef"]["name"])
    load_s = model_load_s(deployment)
    (engine,) = sidecars(deployment)
    probe = engine["startupProbe"]
    behavior = scaled["spec"].get("advanced", {}).get("horizontalPodAutoscalerConfig", {}).get("behavior", {})
    stabilization = behavior.get("scaleDown", {}).get("stabilizationWindowSeconds", 300)

    assert scaled["spec"].get("minReplicaCount", 0) == 0
    assert scaled["spec"]["cooldownPeriod"] > load_s
    assert stabilization >= load_s
    assert probe.get("initialDelaySeconds", 0) + probe["periodSeconds"] * probe["failureThreshold"] >= load_s
    assert "replicas" not in deployment["spec"]  # KEDA owns the count; `kubectl apply` must not reset it


@pytest.mark.parametrize("pool", CPU_WORKERS)
def test_an_idle_cpu_pool_scales_to_zero_once_the_jobs_it_took_have_ended(objects: list[Manifest], pool: str) -> None:
    """No model to load, so nothing to keep warm: the cooldown only outlasts the longest job, so
    that the jobs taken as the lists emptied have ended before the last pods are stopped."""
    scaled = scaled_pools(objects)[pool]
    deployment = find(objects, "Deployment", CPU_WORKERS[pool].role.name)

    assert scaled["spec"].get("minReplicaCount", 0) == 0
    assert scaled["spec"]["cooldownPeriod"] > CPU_WORKERS[pool].longest_job_s
    assert MODEL_LOAD_ANNOTATION not in deployment["metadata"].get("annotations", {})
    assert "replicas" not in deployment["spec"]  # KEDA owns the count; `kubectl apply` must not reset it


@pytest.mark.parametrize("pool", CPU_WORKERS)
def test_a_cpu_pool_holds_no_gpu_and_runs_no_engine(objects: list[Manifest], pool: str) -> None:
    """A long job there never holds a GPU slot; its slots are the cores it asks for (a prefork
    worker's default would be every core of the node)."""
    role = CPU_WORKERS[pool].role
    deployment = find(objects, "Deployment", role.name)
    spec = pod_spec(deployment)
    worker = container(deployment, role.container)
    resources = [c.get("resources", {}) for c in spec["containers"] + spec.get("initContainers", [])]
    asked = {name for r in resources for part in ("requests", "limits") for name in r.get(part, {})}

    assert [c["name"] for c in spec["containers"]] == [role.container]
    assert sidecars(deployment) == [] and [c["name"] for c in spec.get("initContainers", [])] == [SCHEMA_WAIT]
    assert not any("gpu" in name for name in asked)
    assert not any("gpu" in str(t.get("key", "")) for t in spec.get("tolerations", []))
    assert "nodeSelector" not in spec and "affinity" not in spec  # not pinned to the GPU nodes either
    assert int(arg(worker["command"], "--concurrency")) <= cores(worker["resources"]["requests"]["cpu"])
    assert "memory" in worker["resources"]["limits"]


@pytest.mark.parametrize("pool", POOL_ROLES)
def test_a_stopped_worker_has_time_to_finish_its_job(objects: list[Manifest], pool: str) -> None:
    role = POOL_ROLES[pool]
    deployment = find(objects, "Deployment", role.name)

    assert pod_spec(deployment)["terminationGracePeriodSeconds"] > shutdown_grace_s(objects, deployment, role.container)


@pytest.mark.parametrize("pool", CPU_WORKERS)
def test_a_stopped_cpu_worker_finishes_even_its_longest_job(objects: list[Manifest], pool: str) -> None:
    """Its jobs are long (a book: up to 31 min) and start again from the beginning when given
    back: the shutdown grace covers the task's hard time limit, so a scale-in never gives one
    back that its worker could still have finished."""
    role = CPU_WORKERS[pool].role
    deployment = find(objects, "Deployment", role.name)

    assert shutdown_grace_s(objects, deployment, role.container) >= CPU_WORKERS[pool].longest_job_s


# --- no known holes: who runs as whom, what waits for what, who may connect ----------------------


def test_every_container_runs_unprivileged_save_the_engines_named_exceptions(objects: list[Manifest]) -> None:
    """As deploy/Dockerfile's numeric user, never root, with no capability, no way to gain
    privileges, the runtime's default seccomp profile and a read-only root. The engines run as
    their images' root and write into them (ENGINE_EXCEPTIONS); the rest holds for them too."""
    uid, gid = image_user()
    wanted = {"runAsNonRoot": True, "runAsUser": uid, "runAsGroup": gid, "readOnlyRootFilesystem": True}
    engines = {(o["metadata"]["name"], c["name"]) for o in workloads(objects) for c in sidecars(o)}
    wrong = []
    for workload in workloads(objects):
        name = workload["metadata"]["name"]
        if pod_spec(workload).get("securityContext", {}).get("fsGroup") != gid:
            wrong.append(f"{name}: fsGroup")
        for spec in all_containers(workload):
            applied = security(workload, spec)
            excepted = ENGINE_EXCEPTIONS.get((name, spec["name"]), frozenset())
            wrong += [
                f"{name}/{spec['name']}: {key}"
                for key, value in wanted.items()
                if key not in excepted and applied.get(key) != value
            ]
            if applied.get("allowPrivilegeEscalation") is not False or applied.get("privileged"):
                wrong.append(f"{name}/{spec['name']}: may gain privileges")
            capabilities = applied.get("capabilities", {})
            if "ALL" not in capabilities.get("drop", []) or capabilities.get("add"):
                wrong.append(f"{name}/{spec['name']}: capabilities")
            if applied.get("seccompProfile", {}).get("type") != "RuntimeDefault":
                wrong.append(f"{name}/{spec['name']}: seccompProfile")

    assert wrong == []
    assert set(ENGINE_EXCEPTIONS) == engines  # an exception names an engine, and only an engine


def test_every_voxqueue_process_has_a_writable_tmp_on_a_read_only_root(objects: list[Manifest]) -> None:
    """Temporary files (uploads spooled by the API, ffmpeg's books) go to an emptyDir at /tmp."""
    missing = []
    for workload in workloads(objects):
        scratch = {v["name"] for v in pod_spec(workload).get("volumes", []) if "emptyDir" in v}
        for spec in pod_spec(workload)["containers"]:
            mounts = {m["mountPath"]: m["name"] for m in spec.get("volumeMounts", [])}
            if spec["image"] == voxq_image() and mounts.get("/tmp") not in scratch:
                missing.append(f"{workload['metadata']['name']}/{spec['name']}")
    assert missing == []


def test_every_worker_has_a_liveness_probe_that_asks_nothing_of_the_broker(objects: list[Manifest]) -> None:
    """`celery inspect ping` would be a broker round trip that every worker of the pool answers."""
    for pool, role in POOL_ROLES.items():
        probe = container(find(objects, "Deployment", role.name), role.container).get("livenessProbe")
        assert probe and probe.get("periodSeconds", 10) >= 10, pool
        assert "celery" not in " ".join(probe.get("exec", {}).get("command", [])), pool


def test_every_deployment_that_reads_the_database_waits_for_the_schema(objects: list[Manifest]) -> None:
    """An init container of VoxQueue's image runs the schema wait's script with the same database
    URL as the pod's process, and ends (it is no sidecar); Flower alone reads no database."""
    waiting = set()
    for deployment in of_kind(objects, "Deployment"):
        name = deployment["metadata"]["name"]
        urls = {environment(objects, c).get("VOXQ_DATABASE_URL") for c in pod_spec(deployment)["containers"]} - {None}
        waits = [c for c in pod_spec(deployment).get("initContainers", []) if c["name"] == SCHEMA_WAIT]
        if not urls:
            assert waits == [], name
            continue
        (wait,) = waits
        env = environment(objects, wait)
        waiting.add(name)

        assert wait["image"] == voxq_image() and "restartPolicy" not in wait, name
        assert wait["command"] == ["python", "-c", "$(WAIT_FOR_SCHEMA_PY)"], name
        assert {"VOXQ_DATABASE_URL": env["VOXQ_DATABASE_URL"]} == {"VOXQ_DATABASE_URL": urls.pop()}, name
        assert (
            env["WAIT_FOR_SCHEMA_PY"]
            == find(objects, "ConfigMap", SCHEMA_WAIT_CONFIG[0])["data"][SCHEMA_WAIT_CONFIG[1]]
        )
    assert {d["metadata"]["name"] for d in of_kind(objects, "Deployment")} - waiting == NO_DATABASE


@dataclass(frozen=True)
class Run:
    """A script's exit status (None: still waiting when stopped) and everything it printed."""

    status: int | None
    output: str


def run_script(script: str, database_url: str, timeout_s: float) -> Run:
    """`python -c script` as the manifests run it, with only the database URL set."""
    env = {"PATH": "/usr/bin:/bin", "VOXQ_DATABASE_URL": database_url, "VOXQ_DATA_DIR": "/nonexistent"}
    try:
        done = subprocess.run(
            [sys.executable, "-c", script],
            env=env,
            cwd="/",  # no .env file read by the settings
            capture_output=True,
            text=True,
            timeout=timeout_s,
            check=False,
        )
    except subprocess.TimeoutExpired as stopped:
        printed = [
            part.decode() if isinstance(part, bytes) else part or "" for part in (stopped.stdout, stopped.stderr)
        ]
        return Run(None, "".join(printed))
    return Run(done.returncode, done.stdout + done.stderr)


@dataclass(frozen=True)
class SchemaRuns:
    database_url: str
    before: Run  # the schema wait, on an empty database
    migrate: Run  # the migrate Job's command
    after: Run  # the schema wait again
    keys: int  # API keys in the database afterwards


@pytest.fixture(scope="module")
@starts_processes
def schema_runs(objects: list[Manifest]) -> Iterator[SchemaRuns]:
    """The schema wait and the migration, run as the manifests run them on a fresh database."""
    wait = find(objects, "ConfigMap", SCHEMA_WAIT_CONFIG[0])["data"][SCHEMA_WAIT_CONFIG[1]]
    migrate = container(find(objects, "Job", ROLES["migrate"].name), ROLES["migrate"].container)["command"][-1]
    with fresh_pg_database("voxq_k8s_schema") as url:
        before = run_script(wait, url, timeout_s=6)
        migrated_run = run_script(migrate, url, timeout_s=120)
        after = run_script(wait, url, timeout_s=60)
        with psycopg.connect(libpq(url)) as conn:
            row = conn.execute("SELECT count(*) FROM api_keys").fetchone()
        assert row is not None
        yield SchemaRuns(url, before, migrated_run, after, row[0])


def test_the_schema_wait_waits_until_the_migration_has_run(schema_runs: SchemaRuns) -> None:
    assert schema_runs.before.status is None, schema_runs.before  # still waiting on the empty database
    assert "waiting for the migrate Job" in schema_runs.before.output
    assert schema_runs.migrate.status == 0, schema_runs.migrate
    assert schema_runs.after.status == 0, schema_runs.after


def test_the_migration_prints_neither_the_database_url_nor_a_key(schema_runs: SchemaRuns) -> None:
    """Nor does the schema wait; and the migration makes no key that no one was shown."""
    password = make_url(schema_runs.database_url).password
    assert password
    for run in (schema_runs.before, schema_runs.migrate, schema_runs.after):
        assert password not in run.output and KEY_PREFIX not in run.output, run
    assert schema_runs.keys == 0


def test_a_disruption_budget_keeps_an_api_pod_serving(objects: list[Manifest]) -> None:
    api = find(objects, "Deployment", ROLES["api"].name)
    labels = api["spec"]["template"]["metadata"]["labels"]
    budgets = [
        b
        for b in of_kind(objects, "PodDisruptionBudget")
        if b["spec"]["selector"]["matchLabels"].items() <= labels.items()
    ]

    (budget,) = budgets
    assert set(budget["spec"]["selector"]) == {"matchLabels"}
    assert 1 <= budget["spec"]["minAvailable"] < api["spec"]["replicas"]


def policy_for(objects: list[Manifest], labels: dict[str, str]) -> list[Manifest]:
    """The NetworkPolicies that select pods with these labels, other than the default deny."""
    return [
        p
        for p in of_kind(objects, "NetworkPolicy")
        if p["spec"]["podSelector"] and p["spec"]["podSelector"]["matchLabels"].items() <= labels.items()
    ]


def test_ingress_is_denied_in_the_namespace_but_where_it_is_meant_to_go(objects: list[Manifest]) -> None:
    """Deny by default; the API's port open; Flower only from Prometheus; Redis and Postgres only
    from VoxQueue's pods (each carries the part-of label) and KEDA; no other pod let in."""
    policies = of_kind(objects, "NetworkPolicy")
    deny = [p for p in policies if p["spec"]["podSelector"] == {}]
    (default,) = deny
    assert default["spec"]["policyTypes"] == ["Ingress"] and "ingress" not in default["spec"]
    assert all(p["spec"]["policyTypes"] == ["Ingress"] for p in policies)

    api = find(objects, "Deployment", ROLES["api"].name)
    (api_policy,) = policy_for(objects, api["spec"]["template"]["metadata"]["labels"])
    ports = {port["name"] for c in pod_spec(api)["containers"] for port in c.get("ports", [])}
    assert [set(rule) for rule in api_policy["spec"]["ingress"]] == [{"ports"}]  # from anywhere
    assert {p["port"] for p in api_policy["spec"]["ingress"][0]["ports"]} <= ports

    flower = find(objects, "Deployment", ROLES["flower"].name)
    (flower_policy,) = policy_for(objects, flower["spec"]["template"]["metadata"]["labels"])
    assert all(rule.get("from") for rule in flower_policy["spec"]["ingress"])  # never from anywhere

    part_of = {"app.kubernetes.io/part-of": "voxqueue"}
    voxqueue_pods = {"podSelector": {"matchLabels": part_of}}
    keda = {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "keda"}}}
    for store, port in (("redis", 6379), ("postgresql", 5432)):
        (policy,) = policy_for(objects, {"app.kubernetes.io/name": store})
        (rule,) = policy["spec"]["ingress"]
        assert rule["from"] == [voxqueue_pods, keda], store
        assert rule["ports"] == [{"port": port, "protocol": "TCP"}], store
    assert all(part_of.items() <= o["spec"]["template"]["metadata"]["labels"].items() for o in workloads(objects))

    selected = {p["metadata"]["name"] for p in policies if p not in deny}
    assert selected == {"voxq-api", "voxq-flower", "voxq-redis", "voxq-postgres"}


def test_every_redis_url_carries_a_password(objects: list[Manifest]) -> None:
    """In the render (none is written there: they come from the Secret) and in the example
    Secret, whose redis-password (KEDA's) is the URL's."""
    example = yaml.safe_load(SECRET_EXAMPLE.read_text())["stringData"]
    urls = [url for o in objects for url in redis_urls(o)] + list(redis_urls(example))

    assert urls
    assert [url for url in urls if not urlsplit(url).password] == []
    assert urlsplit(example["redis-url"]).password == example["redis-password"]


def test_the_example_ingress_lets_through_the_largest_body_the_api_takes(objects: list[Manifest]) -> None:
    """A proxy's smaller limit would answer 413 itself before the API sees the script; the
    example is valid, names the API's Service and port, and is not applied."""
    ingress = yaml.safe_load(INGRESS_EXAMPLE.read_text())
    kubernetes_validate.validate(ingress, KUBERNETES_VERSION, strict=True)
    size = ingress["metadata"]["annotations"]["nginx.ingress.kubernetes.io/proxy-body-size"]
    units = {"k": 1024, "m": 1024**2, "g": 1024**3}
    limit = int(size[:-1]) * units[size[-1].lower()] if size[-1].lower() in units else int(size)
    largest = Settings.model_fields["max_script_bytes"].default + 64 * 1024  # api/limits.py's form slack
    backends = [path["backend"]["service"] for rule in ingress["spec"]["rules"] for path in rule["http"]["paths"]]
    service = find(objects, "Service", ROLES["api"].name)
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text())

    assert largest <= limit <= largest + 4 * 1024**2
    assert backends == [{"name": service["metadata"]["name"], "port": {"name": service["spec"]["ports"][0]["name"]}}]
    assert INGRESS_EXAMPLE.name not in kustomization["resources"]


def test_workers_reach_redis_as_a_user_without_the_dangerous_commands(objects: list[Manifest]) -> None:
    """The worker pools read the Secret's redis-worker-url (the `voxq-worker` ACL user that
    compose.yaml defines, the example says how to make it); the API, the reconciler and Flower
    keep redis-url."""
    example = yaml.safe_load(SECRET_EXAMPLE.read_text())["stringData"]
    redis_of = {
        name: environment(objects, container(find(objects, role.kind, role.name), role.container))["VOXQ_REDIS_URL"]
        for name, role in ROLES.items()
        if role.kind == "Deployment"
    }

    assert {name for name, ref in redis_of.items() if ref == SecretRef("voxq-secrets", "redis-worker-url")} == {
        "tts-worker",
        "llm-worker",
        "media-worker",
    }
    assert urlsplit(example["redis-worker-url"]).username == "voxq-worker"
    assert "-@dangerous" in SECRET_EXAMPLE.read_text()
