"""Tests of the adapters, one package per system, mirroring ``adapters/``."""
