"""Business rules, free of HTTP and GraphQL. Each module owns one concern."""
