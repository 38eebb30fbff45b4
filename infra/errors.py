"""The one exception the CDK app raises for bad input (config, task definition template)."""


class ConfigError(ValueError):
    """Configuration or template that the stacks cannot be built from."""
