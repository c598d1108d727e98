from celery import shared_task


@shared_task(name="core.ping")
def ping(token: str) -> str:
    """Round trip used by health checks and the smoke test: proves a worker consumes the queue."""
    return f"pong:{token}"
