"""The HTTP API: builds the FastAPI app. It never touches a model: it writes jobs and reads results."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from api import errors
from api.accepting import Acceptor
from api.guard import RequestGuard
from api.routes import batches, dialect, generate, jobs, metrics, normalize, snippets, speech, synthesize, voices
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
        version="0.1.0",
        description="Jobs for Chinese speech work: dialect identification, LLM generation, voice-cloned synthesis.",
        lifespan=lifespan,
    )
    app.add_middleware(RequestGuard)
    errors.install(app)
    for module in (synthesize, normalize, generate, dialect, jobs, batches, voices, snippets, speech, metrics):
        app.include_router(module.router)
    app.include_router(lexicon_routes.router)
    app.include_router(webhook_routes.router)
    app.include_router(caption_routes.router)

    @app.get("/health", tags=["ops"])
    def health() -> dict[str, str]:
        """Liveness: the API process answers."""
        return {"status": "ok"}

    return app


app = create_app()
