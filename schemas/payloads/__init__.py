"""The ten canonical payload schemas (version 1), one module per business entity."""
