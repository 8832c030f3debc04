"""WhiteNoise's hook for the headers of static files (imported by the settings: keep it light)."""

PERMISSIONS_POLICY = "camera=(), microphone=(), geolocation=(), payment=(), usb=()"


def static_headers(headers, path: str, url: str) -> None:
    """Static files are never sniffed into another type, and ask for no device either."""
    headers["X-Content-Type-Options"] = "nosniff"
    headers["Permissions-Policy"] = PERMISSIONS_POLICY
