from celery import shared_task

from apps.engine.runner import run_sync


@shared_task(name="runs.execute", acks_late=True, ignore_result=True)
def execute_run(run_id: str) -> None:
    """Run one queued sync run. Redelivery is harmless: only one worker can claim a run."""
    run_sync(run_id)
