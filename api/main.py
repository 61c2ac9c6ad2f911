"""The HTTP API: builds the FastAPI app. It never touches a model: it writes jobs and reads results."""

from fastapi import FastAPI

from api import errors
from api.routes import batches, dialect, generate, jobs, snippets, speech, synthesize, voices


def create_app() -> FastAPI:
    app = FastAPI(
        title="VoxQueue",
        version="0.1.0",
        description="Jobs for Chinese speech work: dialect identification, LLM generation, voice-cloned synthesis.",
    )
    errors.install(app)
    for module in (synthesize, generate, dialect, jobs, batches, voices, snippets, speech):
        app.include_router(module.router)

    @app.get("/health", tags=["ops"])
    def health() -> dict[str, str]:
        """Liveness: the API process answers."""
        return {"status": "ok"}

    return app


app = create_app()
