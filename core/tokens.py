"""API tokens (DRF's table, one per user): issued on login, revoked on logout and on a password
change, and optionally short-lived (`API_TOKEN_TTL_HOURS`).

A token used to live for ever: a password change left the old one working. Now changing a
user's password (admin, `set_password` anywhere, the password-reset form) deletes its token in
the same save, and `POST /api/auth/logout/` deletes the caller's.
"""

from datetime import timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db.models.signals import pre_save
from django.dispatch import receiver
from django.utils import timezone
from rest_framework.authentication import TokenAuthentication
from rest_framework.authtoken.models import Token
from rest_framework.exceptions import AuthenticationFailed


def _expired(token: Token) -> bool:
    hours = settings.API_TOKEN_TTL_HOURS
    return bool(hours) and token.created < timezone.now() - timedelta(hours=hours)


def token_for(user) -> str:
    """The user's token: the current one while it lasts, else a new one."""
    token = Token.objects.filter(user=user).first()
    if token is not None and _expired(token):
        token.delete()
        token = None
    if token is None:
        token, _ = Token.objects.get_or_create(user=user)
    return token.key


def token_user(key: str):
    """The active user a token key belongs to, or None (unknown, expired, inactive)."""
    token = Token.objects.select_related("user").filter(key=key).first()
    if token is None or not token.user.is_active:
        return None
    if _expired(token):
        token.delete()
        return None
    return token.user


def revoke(user) -> None:
    Token.objects.filter(user=user).delete()


class ExpiringTokenAuthentication(TokenAuthentication):
    """DRF's `Authorization: Token <key>`, honouring the lifetime."""

    def authenticate_credentials(self, key):
        user = token_user(key)
        if user is None:
            raise AuthenticationFailed("Invalid or expired token.")
        return user, None


@receiver(pre_save, sender=get_user_model())
def _password_changed(sender, instance, raw=False, update_fields=None, **kwargs):
    """A new password ends the old token (in the same transaction as the save). A save of
    other fields alone (every login saves `last_login`) costs no look at the stored one."""
    if raw or instance.pk is None:
        return
    if update_fields is not None and "password" not in update_fields:
        return
    stored = sender.objects.filter(pk=instance.pk).values_list("password", flat=True).first()
    if stored is not None and stored != instance.password:
        revoke(instance)
