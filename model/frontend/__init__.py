"""Audio to mel columns: the frontend spec, its numpy and torch implementations, and pitch (chroma, key).

Imports numpy (torch only in frontend_torch); nothing else of genrescope."""
