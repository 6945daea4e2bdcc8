"""Transports shared by every adapter: HTTP (REST, SOAP), file drops, AMQP. Written once."""
