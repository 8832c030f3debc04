"""Domain errors raised by actions; the API maps them to HTTP, consumers to error frames."""


class DomainError(Exception):
    """An operation the current state does not allow. `code` is machine-readable."""

    status = 400
    code = "invalid"

    def __init__(self, detail: str, *, code: str | None = None, field: str | None = None):
        super().__init__(detail)
        self.detail = detail
        self.field = field
        if code:
            self.code = code


class Invalid(DomainError):
    status = 400
    code = "invalid"


class NotFound(DomainError):
    status = 404
    code = "not_found"


class Conflict(DomainError):
    status = 409
    code = "conflict"


class Forbidden(DomainError):
    status = 403
    code = "permission_denied"


class TooLarge(DomainError):
    status = 413
    code = "too_large"


class UnsupportedType(DomainError):
    status = 415
    code = "unsupported_type"


def invalid_from(exc) -> Invalid:
    """A Django ValidationError as the domain's Invalid, naming the first field at fault."""
    if hasattr(exc, "error_dict"):
        name, errors = next(iter(exc.error_dict.items()))
        return Invalid(f"{name}: {' '.join(errors[0].messages)}", field=name)
    return Invalid(" ".join(exc.messages))


class Throttled(DomainError):
    """Too many of something for now; `retry_after` seconds until one more is allowed."""

    status = 429
    code = "throttled"

    def __init__(self, detail: str, *, retry_after: int):
        super().__init__(detail)
        self.retry_after = retry_after
