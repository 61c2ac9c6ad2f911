"""GET /metrics: Prometheus's view of the whole deployment (api/metrics.py)."""

from typing import Annotated

from fastapi import APIRouter, Depends, Header
from fastapi.responses import Response
from prometheus_client.exposition import choose_encoder

from api.deps import SessionDep, require_metrics_reader
from api.metrics import DeploymentCollector

router = APIRouter(tags=["ops"])


@router.get(
    "/metrics",
    response_class=Response,
    dependencies=[Depends(require_metrics_reader)],
    responses={200: {"content": {"text/plain": {}}, "description": "Prometheus text format"}},
)
def get_metrics(session: SessionDep, accept: Annotated[str | None, Header()] = None) -> Response:
    """Queue depths, jobs by kind and state, waiting and running times, snippet cache hits,
    engine errors and reconciler re-sends, in Prometheus's text format (or OpenMetrics, when
    asked for). The values are global (read from Redis and the database), the same from every
    API process. Answers to the bearer of VOXQ_METRICS_TOKEN, or, when that is unset, to the local
    tenant's API keys only (the page shows every tenant's figures); any other key is a 403."""
    # The format Prometheus asks for, as prometheus_client's own exporters choose it.
    encode, media_type = choose_encoder(accept or "")
    return Response(encode(DeploymentCollector(session)), media_type=media_type)
