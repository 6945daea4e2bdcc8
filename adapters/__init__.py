"""One package per external system; shared transports live in ``adapters._transports``."""
