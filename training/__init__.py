"""Training and research (the [train] extra): the genre and cover pipelines and their `genrescope` subcommands.

May import genrescope.model and genrescope.stream; the runtime imports only its commands (for the CLI parser)."""
