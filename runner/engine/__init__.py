"""The runtime: inbound workers, delivery workers and pollers on the bus, with audit."""
