from django import forms
from django.contrib import admin

from exceptions.alerting import send_test
from exceptions.models import AlertDestination, ExceptionEvent, IntegrationException
from integration.clients.alerts import masked, url_problem


class ExceptionEventInline(admin.TabularInline):
    model = ExceptionEvent
    extra = 0
    readonly_fields = ["at", "action", "actor", "note"]
    can_delete = False


@admin.register(IntegrationException)
class IntegrationExceptionAdmin(admin.ModelAdmin):
    list_display = ["kind", "trace_key", "owner", "status", "occurrences", "first_seen_at", "last_seen_at"]
    list_filter = ["status", "owner", "category", "kind"]
    search_fields = ["trace_key", "message", "sku"]
    inlines = [ExceptionEventInline]
    list_select_related = ["order"]


class AlertDestinationForm(forms.ModelForm):
    """The URL is a secret: never rendered back into the page. Left empty when editing, the one
    already saved is kept."""

    url = forms.CharField(
        label="Apprise URL", required=False,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off", "size": 80}),
        help_text="The Apprise URL, e.g. slack://…, msteams://…, json://host/path. Never shown again once saved; "
                  "leave empty to keep the saved one.")

    class Meta:
        model = AlertDestination
        fields = ["name", "owner", "url", "threshold", "window_minutes", "active"]

    def clean_url(self) -> str:
        url = (self.cleaned_data.get("url") or "").strip()
        if not url and self.instance.pk:
            return self.instance.url
        problem = url_problem(url)
        if problem:
            raise forms.ValidationError(problem)
        return url


@admin.register(AlertDestination)
class AlertDestinationAdmin(admin.ModelAdmin):
    form = AlertDestinationForm
    list_display = ["name", "owner", "destination", "threshold", "window_minutes", "active", "last_sent_at",
                    "last_error"]
    list_filter = ["owner", "active"]
    readonly_fields = ["destination", "above_threshold_since", "told_through", "last_sent_at", "last_error"]
    actions = ["send_test_alert"]

    @admin.display(description="Destination")
    def destination(self, obj: AlertDestination) -> str:
        return masked(obj.url) if obj.url else "—"

    @admin.action(description="Send a test alert")
    def send_test_alert(self, request, queryset) -> None:
        for destination in queryset:
            self.message_user(request, send_test(destination))
