"""The cover-art model: image preprocessing spec, the network, the onnxruntime wrapper and late fusion with audio.

May import genrescope.model.frontend and genrescope.model.genre; nothing from stream/ or training/."""
