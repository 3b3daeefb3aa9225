"""Training and research (the [train] extra): the genre and cover pipelines and their `genrescope` subcommands.

May import genrescope.model and genrescope.stream; nothing in the runtime imports it except the CLI parser (commands)."""
