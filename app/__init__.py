"""Auto-Pipe items API: a FastAPI service shipped to AWS ECS Fargate."""

__version__ = "0.1.0"
