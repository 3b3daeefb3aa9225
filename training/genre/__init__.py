"""The genre model's pipeline: FMA data, recipes, training, cross-validation, evaluation, release and studies.

May import genrescope.model, genrescope.stream and training.settings; never training.cover."""
