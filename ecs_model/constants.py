"""Names every part of the model shares."""

ACCOUNT = "123456789012"  # moto's default account: the credentials are fake
REGION = "us-east-1"
