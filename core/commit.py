"""Work to do once the current transaction commits, logged (never raised) if it fails."""

import logging


def after_commit(func, *args, **kwargs) -> None:
    """Run `func(*args, **kwargs)` after the commit (at once outside a transaction).

    The commit stands whatever happens next; a failure is logged under the function's own
    module, so the caller's logs (and tests watching them) see it.
    """
    from django.db import transaction

    def run() -> None:
        try:
            func(*args, **kwargs)
        except Exception:  # noqa: BLE001 -- the commit stands; the sweep covers what is lost
            name = getattr(func, "__name__", repr(func))
            logging.getLogger(getattr(func, "__module__", __name__)).exception(
                "after-commit %s failed", name
            )

    transaction.on_commit(run)
