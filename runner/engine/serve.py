"""One bus process as ``ebus run`` runs it: load the project and settings, run, shut down."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

from runner.adapter_api import share_limits_among
from runner.engine.processes import Share
from runner.engine.runtime import Runtime
from runner.engine.services import Services
from runner.logs import configure_logging
from runner.project import Project, load_project
from runner.settings import load_settings

__all__ = ["run_share", "serve"]


def serve(
    config: Path | None,
    poll: bool,
    share: Share,
    stop: threading.Event,
    *,
    project: Project | None = None,
) -> None:
    """Run the runtime's ``share`` of the work until ``stop`` is set, then shut down (workers
    finish their batch; unsettled messages go back to their queues).

    The caller has checked the project and the settings (``ebus run`` does, once, before it
    starts any process); a child of ``ebus run --processes N`` (``functools.partial(serve,
    config, poll)`` is its ``processes.Child``) loads them again here.
    """
    configure_logging()
    share_limits_among(share.count)  # before any adapter connects: pacers take their 1/N
    settings = load_settings(config)
    if not poll:
        settings = settings.model_copy(update={"poll": False})
    run_share(Services.open(project or load_project(), settings), share, stop)


def run_share(
    services: Services,
    share: Share,
    stop: threading.Event,
    started: Callable[[], object] | None = None,
) -> list[BaseException]:
    """Run ``share`` of the work on ``services`` until ``stop`` is set (``started`` is called
    once the workers run), then shut the runtime down and close ``services``. Returns the
    failures of workers that stopped on their own (each logged when it happened)."""
    runtime = Runtime(services, share=share, stop=stop)
    try:
        runtime.start()
        if started is not None:
            started()
        stop.wait()
    finally:
        runtime.shutdown()
        services.close()
    return list(runtime.errors)
