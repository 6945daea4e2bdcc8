"""A bus worker process for the crash tests: runs the test kit's runtime until it is killed.

Usage: python -m tests.runner.engine._worker CONFIG_ROOT BUS_URL STORE_URL SINK_URL SYSTEM
"""

from __future__ import annotations

import sys
import threading
from pathlib import Path

from adapters._testkit import kit_registry
from adapters._transports.http import http_connector
from runner.engine.runtime import Runtime
from runner.engine.services import Services
from runner.logs import configure_logging
from runner.project import load_project
from runner.settings import Settings


def main() -> None:
    configure_logging("WARNING")  # logs go to stderr; stdout says "ready"
    root, bus, store, sink, system = sys.argv[1:6]
    project = load_project(Path(root), kit_registry(http_connector(system), system))
    settings = Settings(bus=bus, store=store, systems={system: {"endpoint": sink}})
    services = Services.open(project, settings)
    runtime = Runtime(services, batch_size=50)
    runtime.start()
    print("ready", flush=True)
    threading.Event().wait()  # until SIGKILL


if __name__ == "__main__":
    main()
