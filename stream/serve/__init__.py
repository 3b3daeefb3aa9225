"""Serving updates over the network: the websocket servers, fan-out hub, access rules, metrics and OSC.

May import stream.sources, stream.engine and genrescope.model; never tag or cli."""
