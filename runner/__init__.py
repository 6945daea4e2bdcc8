"""The runtime of the bus: configuration, routing, delivery, audit and the ``ebus`` CLI."""
