from celery import shared_task

from apps.syncs import scheduler


@shared_task(name="syncs.scheduler_tick", ignore_result=True)
def scheduler_tick() -> int:
    return scheduler.schedule_missing_next_runs()
