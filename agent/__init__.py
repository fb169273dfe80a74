"""The agent container: run loop, server, model runner, tools, prompt building and CLI."""

__version__ = "0.1.0"
