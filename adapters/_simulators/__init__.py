"""Simulators of the external systems: real servers on loopback, used by the integration tests
and by ``make demo``. Each behaves as its system's spec says and can inject faults."""
