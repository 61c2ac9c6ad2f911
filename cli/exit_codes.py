"""What `voxq` exits with, so scripts can tell a failed job from a mistake in the command."""

import enum


class ExitCode(enum.IntEnum):
    OK = 0
    # The work failed: a line of the batch failed, a job failed, or the API (or a service it
    # needs) could not be reached, answered 5xx, or refused the request for now (429: over a
    # rate limit or a daily quota). Running the same command later may work.
    FAILED = 1
    # Bad usage or input: an unknown option or value, a missing file, a request the API
    # refused (4xx). The same command will fail again until it is changed.
    USAGE = 2
