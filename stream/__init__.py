"""The runtime: audio sources, the streaming engine, the servers, library tagging and the CLI.

Layers, lowest first: sources, engine, then serve, tag and cover, then cli; each imports only the layers below it."""
