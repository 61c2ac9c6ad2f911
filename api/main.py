"""The HTTP API: builds the FastAPI app. It never touches a model: it writes jobs and reads results."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib.metadata import version

from fastapi import FastAPI

from api import errors
from api.accepting import Acceptor
from api.console import install_console
from api.docs import ERROR_RESPONSES, install_docs
from api.guard import RequestGuard
from api.routes import batches, dialect, generate, jobs, metrics, normalize, snippets, speech, synthesize, usage, voices
from api.routes import captions as caption_routes
from api.routes import lexicon as lexicon_routes
from api.routes import webhooks as webhook_routes
from api.waiting import Finished
from shared.config import get_settings
from shared.jobs.dispatch import Dispatcher
from shared.jobs.reconcile import Reconciler


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """The finished-job notices that wake waiting requests, and the dispatcher and the reconciler
    beside the API (VOXQ_DISPATCH_IN_API, VOXQ_RECONCILE_IN_API), so that a backlog is fed to the
    workers, and recovery from a lost worker or a restarted Redis needs no process of its own on
    one machine. Batches are accepted in processes of their own (api/accepting.py)."""
    settings = get_settings()
    app.state.acceptor = Acceptor(settings.accept_processes)
    app.state.acceptor.start()
    dispatcher = Dispatcher(settings) if settings.dispatch_in_api else None
    # A worker that finished a job has room for the next: the notice wakes the dispatcher too.
    app.state.finished = Finished(settings.redis_url, on_notice=dispatcher.wake if dispatcher else None)
    app.state.finished.start()
    reconciler = Reconciler(settings) if settings.reconcile_in_api else None
    for thread in (dispatcher, reconciler):
        if thread is not None:
            thread.start()
    yield
    for thread in (dispatcher, reconciler):
        if thread is not None:
            thread.stop()
    await app.state.finished.stop()
    app.state.acceptor.close()


def create_app() -> FastAPI:
    app = FastAPI(
        title="VoxQueue",
        version=version("voxqueue"),
        description="Jobs for Chinese speech work: dialect identification, LLM generation, voice-cloned synthesis. "
        "Every /v1 route takes an API key as a bearer token (Authorize, above); errors are "
        '`{"error": {"type", "message"}}`.',
        lifespan=lifespan,
        responses=ERROR_RESPONSES,
        docs_url=None,  # served below from the package's own copies: no CDN, so /docs works offline
        redoc_url=None,
    )
    app.add_middleware(RequestGuard)
    errors.install(app)
    for module in (synthesize, normalize, generate, dialect, jobs, batches, voices, snippets, speech, metrics, usage):
        app.include_router(module.router)
    app.include_router(lexicon_routes.router)
    app.include_router(webhook_routes.router)
    app.include_router(caption_routes.router)

    @app.get("/health", tags=["ops"], openapi_extra={"security": []})
    def health() -> dict[str, str]:
        """Liveness: the API process answers."""
        return {"status": "ok"}

    install_docs(app)
    install_console(app)
    return app


app = create_app()
