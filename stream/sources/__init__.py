"""Audio in: the AudioChunk type, capture, files, network radio, the demo loop, and open_source by name.

Imports numpy and audio libraries only; nothing else in stream/ (every other room builds on this one)."""
