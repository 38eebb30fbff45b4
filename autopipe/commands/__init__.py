"""One module per command, each with its own options type and a `run(options, reporter)`."""
