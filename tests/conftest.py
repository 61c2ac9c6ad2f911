import os
import tempfile

# The test session's own settings, before any VoxQueue module reads them: a private data
# folder (the in-process API's SQLite database) and a Redis database no stack uses.
os.environ["VOXQ_DATA_DIR"] = tempfile.mkdtemp(prefix="voxq-test-")
os.environ["VOXQ_REDIS_URL"] = "redis://127.0.0.1:6379/15"
os.environ.pop("VOXQ_DATABASE_URL", None)
os.environ.pop("VOXQ_API_KEY", None)

pytest_plugins = ["tests.plugins.services", "tests.plugins.vllm_server", "tests.plugins.fish_standin"]
