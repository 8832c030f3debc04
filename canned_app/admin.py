"""Admin for canned responses: staff write the shared ones (and may read every agent's)."""

from django.contrib import admin

from .actions import canned_create, canned_delete, canned_update
from .models import CannedResponse


@admin.register(CannedResponse)
class CannedResponseAdmin(admin.ModelAdmin):
    list_display = ["shortcut", "title", "owner", "updated_at"]
    list_filter = [("owner", admin.EmptyFieldListFilter)]
    search_fields = ["shortcut", "title", "body"]
    list_select_related = ["owner__user"]
    fields = ["owner", "shortcut", "title", "body"]

    def save_model(self, request, obj, form, change):
        fields = {name: form.cleaned_data[name] for name in ("shortcut", "title", "body")}
        if change:
            canned_update(canned_id=obj.pk, agent=None, staff=True, any_owner=True, **fields)
        else:
            obj.pk = canned_create(owner=form.cleaned_data["owner"], **fields).pk

    def delete_model(self, request, obj):
        canned_delete(canned_id=obj.pk, agent=None, staff=True, any_owner=True)

    def get_readonly_fields(self, request, obj=None):
        return ["owner"] if obj is not None else []
