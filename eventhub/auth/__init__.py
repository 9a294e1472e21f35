"""Passwords, access and refresh tokens, roles, and the request's viewer."""
