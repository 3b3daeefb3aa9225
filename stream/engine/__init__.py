"""From audio to genre updates: framing, the engine and its config, events, the batch scheduler, silence.

May import stream.sources and genrescope.model; never serve, tag, cover or cli."""
