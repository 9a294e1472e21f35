"""Thin glue from GraphQL arguments to services, and the per-request dataloaders."""
