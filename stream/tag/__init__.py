"""Library tagging: whole-file estimates, the batch and Ray paths, the SQLite store, tag writing and export.

May import stream.sources, stream.engine and genrescope.model; never serve or cli."""
