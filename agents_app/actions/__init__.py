"""State changes of agents and of the service settings, one module per domain."""
