from celery import shared_task

from apps.syncs import scheduler


@shared_task(name="syncs.scheduler_tick", ignore_result=True)
def scheduler_tick() -> dict[str, int]:
    result = scheduler.tick()
    return {"scheduled": result.scheduled, "enqueued": len(result.enqueued), "swept": len(result.swept)}
