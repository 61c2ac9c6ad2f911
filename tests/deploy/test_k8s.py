"""The Kubernetes manifests (deploy/k8s) render, are valid for Kubernetes 1.32, scale each pool on
exactly the Redis lists its lanes wait in and, for the pools that take batches, on the lines its
lanes' batches still hold in the database, and give every process the settings it needs. The GPU
pools (tts, llm) each run an engine beside their worker; the media pool runs on the CPU alone.

Offline: `kubectl kustomize` renders the kustomization, `kubernetes-validate` checks the built-in
kinds against the schemas it ships, and KEDA's kinds are checked against the fields KEDA documents
(keda.sh/docs/2.16: reference/scaledobject-spec, scalers/redis-lists, scalers/postgresql,
concepts/authentication). The postgresql triggers' queries run on a fresh, migrated Postgres
database (the server the other Postgres tests use; no process is started)."""

from __future__ import annotations

import re
import shutil
import subprocess
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
from workers.app import celery_app
from workers.books import tasks as _book_tasks  # noqa: F401  (registers BOOK_TASK with celery_app)

K8S = Path(__file__).resolve().parents[2] / "deploy" / "k8s"
KUBERNETES_VERSION = "1.32"  # the kubectl installed here; the manifests need 1.29+ (native sidecars)
SECRET_EXAMPLE = K8S / "secret.example.yaml"
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
    "migrate": Role("Job", "voxq-migrate", "migrate", ("voxq", "migrate"), frozenset({"VOXQ_DATABASE_URL"})),
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


def voxq_containers(objects: list[Manifest]) -> list[tuple[str, dict[str, Any]]]:
    return [
        (f"{o['metadata']['name']}/{c['name']}", c)
        for o in objects
        if o["kind"] in ("Deployment", "Job")
        for c in pod_spec(o)["containers"]
        if c.get("command", [""])[0] == "voxq"
    ]


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
        assert tuple(spec["command"]) == role.command, role.name
        assert "args" not in spec, role.name


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
    assert sidecars(deployment) == [] and spec.get("initContainers", []) == []
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
