"""The composition root: the one place in ``callcenter`` that wires in the adapters."""
