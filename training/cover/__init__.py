"""The cover model's pipeline: cover data and splits, the anchor, training, CV, evaluation, export and fusion fitting.

May import genrescope.model, genrescope.stream, training.settings and training.genre (shared data helpers)."""
