"""The genre network: the CRNN and its EfficientNet-Lite backbone, the model card, ONNX export and int8 quantization.

May import genrescope.model.frontend; torch only where a network is built (the runtime reads the card without it)."""
