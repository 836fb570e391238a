"""Sub-commands of the carbonix CLI, one module per area."""
