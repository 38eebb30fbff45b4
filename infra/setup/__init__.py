"""`./setup.sh ENV --repository OWNER/REPO`: the first setup of an environment in one command
(docs/infrastructure.md: first setup). Each step first looks at what exists and skips itself
when it is done, so a second run changes nothing and a failed run continues where it stopped."""
