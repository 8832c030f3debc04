"""URL wiring."""

from django.contrib import admin
from django.urls import include, path, re_path
from django.views.i18n import JavaScriptCatalog
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from agents_app import api as agents_api
from canned_app import api as canned_api
from core.api import json_not_found
from core.health import HealthView
from sessions_app import api as sessions_api
from sessions_app import offline_api
from skills_app import api as skills_api
from supervision_app import api as supervision_api
from webhooks_app import api as webhooks_api

api_urlpatterns = [
    path("auth/token/", agents_api.AuthTokenView.as_view(), name="auth-token"),
    path("auth/logout/", agents_api.LogoutView.as_view(), name="auth-logout"),
    path("service-settings/", agents_api.ServiceSettingsView.as_view(), name="service-settings"),
    path("agents/", agents_api.AgentListView.as_view(), name="agent-list"),
    path("agents/me/", agents_api.AgentMeView.as_view(), name="agent-me"),
    path("agents/<str:agent_id>/", agents_api.AgentDetailView.as_view(), name="agent-detail"),
    path("skill-groups/", skills_api.SkillGroupListView.as_view(), name="skill-group-list"),
    path(
        "skill-groups/<str:group_id>/",
        skills_api.SkillGroupDetailView.as_view(),
        name="skill-group-detail",
    ),
    path(
        "public/skill-groups/",
        skills_api.PublicSkillGroupsView.as_view(),
        name="public-skill-groups",
    ),
    path("public/status/", offline_api.PublicStatusView.as_view(), name="public-status"),
    path(
        "offline-messages/",
        offline_api.OfflineMessageListView.as_view(),
        name="offline-message-list",
    ),
    path(
        "offline-messages/<str:message_id>/",
        offline_api.OfflineMessageDetailView.as_view(),
        name="offline-message-detail",
    ),
    path("webhooks/", webhooks_api.WebhookListView.as_view(), name="webhook-list"),
    path("webhooks/<str:webhook_id>/", webhooks_api.WebhookDetailView.as_view(), name="webhook"),
    path(
        "webhooks/<str:webhook_id>/rotate-secret/",
        webhooks_api.WebhookRotateView.as_view(),
        name="webhook-rotate",
    ),
    path(
        "webhooks/<str:webhook_id>/ping/",
        webhooks_api.WebhookPingView.as_view(),
        name="webhook-ping",
    ),
    path(
        "webhooks/<str:webhook_id>/deliveries/",
        webhooks_api.DeliveryListView.as_view(),
        name="webhook-deliveries",
    ),
    path(
        "webhooks/<str:webhook_id>/deliveries/<str:delivery_id>/redeliver/",
        webhooks_api.RedeliverView.as_view(),
        name="webhook-redeliver",
    ),
    path("canned-responses/", canned_api.CannedListView.as_view(), name="canned-list"),
    path(
        "canned-responses/<str:canned_id>/",
        canned_api.CannedDetailView.as_view(),
        name="canned-detail",
    ),
    path("sessions/", sessions_api.SessionListView.as_view(), name="session-list"),
    path(
        "sessions/<str:session_id>/rating/",
        sessions_api.SessionRatingView.as_view(),
        name="session-rating",
    ),
    path(
        "sessions/<str:session_id>/transcript/",
        sessions_api.SessionTranscriptView.as_view(),
        name="session-transcript",
    ),
    path(
        "sessions/<str:session_id>/attachments/",
        sessions_api.SessionAttachmentsView.as_view(),
        name="session-attachments",
    ),
    path(
        "attachments/<str:attachment_id>/",
        sessions_api.AttachmentView.as_view(),
        name="attachment",
    ),
    # Ids are matched as text and checked by the view, so a malformed one is a JSON 404.
    path(
        "sessions/<str:session_id>/",
        sessions_api.SessionDetailView.as_view(),
        name="session-detail",
    ),
    path(
        "sessions/<str:session_id>/messages/",
        sessions_api.SessionMessagesView.as_view(),
        name="session-messages",
    ),
    path(
        "sessions/<str:session_id>/accept/",
        sessions_api.SessionAcceptView.as_view(),
        name="session-accept",
    ),
    path(
        "sessions/<str:session_id>/decline/",
        sessions_api.SessionDeclineView.as_view(),
        name="session-decline",
    ),
    path(
        "sessions/<str:session_id>/transfer/",
        sessions_api.SessionTransferView.as_view(),
        name="session-transfer",
    ),
    path(
        "sessions/<str:session_id>/end/", sessions_api.SessionEndView.as_view(), name="session-end"
    ),
    path(
        "supervisor/snapshot/",
        supervision_api.SnapshotView.as_view(),
        name="supervisor-snapshot",
    ),
    path("reports/summary/", supervision_api.SummaryReportView.as_view(), name="report-summary"),
    path("reports/agents/", supervision_api.AgentsReportView.as_view(), name="report-agents"),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path("docs/", SpectacularSwaggerSplitView.as_view(url_name="schema"), name="api-docs"),
    # Last: any other /api/ path is the contract's JSON 404, with DEBUG on too (Django's debug
    # 404 page listed every URL pattern).
    re_path(r"^.*$", json_not_found),
]

urlpatterns = [
    path("admin/", admin.site.urls),
    path("accounts/", include("django.contrib.auth.urls")),
    path("api/", include(api_urlpatterns)),
    path("healthz", HealthView.as_view(), name="healthz"),
    # The pages' translated strings for their scripts, in the page's language.
    path("jsi18n/", JavaScriptCatalog.as_view(), name="javascript-catalog"),
    path("", include("sessions_app.page_urls")),  # /workspace/ and /chat/
    path("", include("supervision_app.page_urls")),  # /supervisor/ and its reports
    path("", include("sessions_app.metrics")),  # /metrics (Prometheus)
]

# JSON errors under /api/ even for paths no view matches.
handler404 = "core.api.json_not_found"
handler500 = "core.api.json_server_error"
