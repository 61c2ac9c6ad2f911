"""Every job task states its policy where it is declared: its queue, its time limits, its
retries, and that its message is acknowledged only after it ran."""

import pytest
from celery import Task

from shared.config import get_settings
from shared.jobs.lanes import QUEUE_FOR_TASK
from workers.app import celery_app

# The task modules, as a worker loads them (importing them needs no engine server).
celery_app.loader.import_default_modules()


def _task(name: str) -> Task:
    return celery_app.tasks[name]


def test_the_job_tasks_registered_are_exactly_those_the_queue_client_routes() -> None:
    registered = {name for name in celery_app.tasks if name.startswith("voxq.")}

    assert registered == set(QUEUE_FOR_TASK)


@pytest.mark.parametrize("name", sorted(QUEUE_FOR_TASK))
def test_a_job_task_is_routed_to_its_pools_queue(name: str) -> None:
    # Declared in shared/jobs/queue.py's QUEUE_FOR_TASK, which becomes task_routes: Celery 5.7
    # deprecates a queue declared on the task itself.
    assert celery_app.amqp.router.route({}, name)["queue"].name == QUEUE_FOR_TASK[name]


@pytest.mark.parametrize("name", sorted(QUEUE_FOR_TASK))
def test_a_job_task_has_a_soft_time_limit_below_its_hard_one(name: str) -> None:
    task = _task(name)

    assert task.soft_time_limit is not None and task.time_limit is not None
    assert 0 < task.soft_time_limit < task.time_limit


@pytest.mark.parametrize("name", sorted(QUEUE_FOR_TASK))
def test_a_job_task_retries_as_many_times_as_the_settings_say(name: str) -> None:
    assert _task(name).max_retries == get_settings().task_max_retries  # not Celery's default of 3


def test_the_app_leaves_late_acknowledgement_and_time_limits_to_each_task() -> None:
    """So that the checks above see what each task declares, not an app-wide default."""
    conf = celery_app.conf

    assert not conf.task_acks_late and not conf.task_reject_on_worker_lost
    assert conf.task_time_limit is None and conf.task_soft_time_limit is None


@pytest.mark.parametrize("name", sorted(QUEUE_FOR_TASK))
def test_a_job_task_is_acknowledged_after_it_ran_and_given_back_if_its_worker_dies(name: str) -> None:
    task = _task(name)

    assert task.acks_late is True
    assert task.reject_on_worker_lost is True
