"""Tools: specs, the registry (local + remote, local wins) and execution."""
