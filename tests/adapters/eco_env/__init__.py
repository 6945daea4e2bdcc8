"""eco_env: framing, polling, the simulator and end-to-end runs over loopback."""
