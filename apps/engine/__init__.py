"""The sync engine: plan, extract, diff, validate, load, commit. No views, no templates.

Entry points: ``runner.run_sync(run_id)`` (a real run) and ``preview.preview_sync(sync)`` (a dry
run that writes nothing). See docs/engine.md for how a run keeps every row accounted for.
"""
