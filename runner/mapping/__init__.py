"""Declarative mappings: wire documents to canonical envelopes and canonical data to wire bytes.

A mapping is data (``mappings/<system>/<message>.yaml``) that compiles once into small callables;
per message the compiled mapping runs a plain loop with no config lookups.
"""
