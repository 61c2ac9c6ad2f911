"""`python -m cli`: the same as the `voxq` command."""

from cli.main import app

app(prog_name="voxq")
