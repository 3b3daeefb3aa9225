"""The models: the mel frontend, the genre and cover networks with their cards, and the ONNX sessions.

The shipped .onnx/.json files live here; this package imports nothing from stream/ or training/."""
