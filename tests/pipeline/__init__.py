"""The GitHub Actions pipeline: the workflows' properties, their linters, and the CI glue."""
