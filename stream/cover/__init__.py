"""Cover art at run time: artwork extraction from audio files and its link to the audio stream.

May import stream.sources, stream.engine and genrescope.model; never serve, tag or cli."""
