"""The Starlette app: routes, webhooks, QR images, health, metrics, dashboard."""
