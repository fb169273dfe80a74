"""Model runner: provider-neutral types, the ModelClient protocol and providers."""
