from django.contrib import admin

from exceptions.models import ExceptionEvent, IntegrationException


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
