"""Secret rotation: Secrets Manager rotation functions and a watch on every secret."""
