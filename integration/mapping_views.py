"""Cross-reference tables for admins: list (with Seko's reference check), create, edit,
deactivate, CSV export and import. Before a save the page says how many held orders it will
release (htmx asks ``mapping_preview`` as the form changes); saving releases them."""

from __future__ import annotations

from django.contrib import messages
from django.db import IntegrityError, transaction
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from integration.mappings import (
    SERVICE_WORDS_LIST_ID,
    TABLES,
    MappingTable,
    export_csv,
    import_csv,
    release_preview,
    seko_check,
    seko_reference,
)
from integration.roles import can, require

IMPORT_MAX_BYTES = 2_000_000


def _table(kind: str) -> MappingTable:
    try:
        return TABLES[kind]
    except KeyError:
        raise Http404(f"There is no cross-reference table called {kind!r}.") from None


@require_GET
@require("view_mappings")
def mapping_list(request: HttpRequest, kind: str) -> HttpResponse:
    table = _table(kind)
    reference = seko_reference(refresh=request.GET.get("recheck") == "1")
    ordered = table.model.objects.order_by("-active", table.key_field)
    rows = [(row, *seko_check(table, row, reference)) for row in ordered]
    context = {
        "table": table, "tables": TABLES.values(), "rows": rows, "reference": reference,
        "can_edit": can(request.user, "edit_mappings"),
        "unknown_count": sum(1 for _, state, _ in rows if state == "unknown"),
    }
    return render(request, "mappings/list.html", context)


@require_http_methods(["GET", "POST"])
@require("edit_mappings")
def mapping_edit(request: HttpRequest, kind: str, pk: int | None = None) -> HttpResponse:
    table = _table(kind)
    instance = get_object_or_404(table.model, pk=pk) if pk is not None else None
    form = table.form(request.POST or None, instance=instance)
    if request.method == "POST" and form.is_valid():
        code = form.cleaned_data[table.key_field]
        # Counted before saving: the save releases them (on commit), and then none are held.
        releases = release_preview(table, code, form.cleaned_data.get("active", True))
        try:
            with transaction.atomic():
                row = form.save()
        except IntegrityError as error:
            form.add_error(None, f"This clashes with another row: {error}")
        else:
            note = (f" {releases} held order{'s' if releases != 1 else ''} waiting for it "
                    f"{'are' if releases != 1 else 'is'} being released and sent.") if releases else ""
            messages.success(request, f"Saved {table.key_label()} {getattr(row, table.key_field)}.{note}")
            return redirect("mapping_list", kind=kind)
    context = {"table": table, "form": form, "instance": instance, "preview": _preview_from(table, form, instance),
               "service_words": _service_words_offered(table), "service_words_list_id": SERVICE_WORDS_LIST_ID}
    return render(request, "mappings/form.html", context)


def _service_words_offered(table: MappingTable) -> list[tuple[str, str, str]]:
    """(words, courier, code) from Seko's courier-service list where it gives the words, offered
    for "the service as Seko describes it" (Seko's dispatches may name a service so)."""
    if table.slug != "carriers":
        return []
    return sorted((words, courier, code) for (courier, code), words in seko_reference().service_words)


def _preview_from(table: MappingTable, form, instance) -> int:
    data = form.data if form.is_bound else None
    if data is not None:
        return release_preview(table, data.get(table.key_field, ""), data.get("active") in ("on", "true", "1", True))
    if instance is not None:
        return release_preview(table, getattr(instance, table.key_field), instance.active)
    return 0


@require_GET
@require("edit_mappings")
def mapping_preview(request: HttpRequest, kind: str) -> HttpResponse:
    """The "this save will release N orders" line, for htmx as the form changes."""
    table = _table(kind)
    count = release_preview(table, request.GET.get(table.key_field, ""), request.GET.get("active") in ("on", "true"))
    return render(request, "mappings/_preview.html", {"preview": count, "table": table})


@require_POST
@require("edit_mappings")
def mapping_set_active(request: HttpRequest, kind: str, pk: int) -> HttpResponse:
    """Deactivate (active=0) or reactivate (active=1) one row. Reactivating saves the row, so the
    orders it blocked are released; deactivating holds new orders for it from now on."""
    table = _table(kind)
    row = get_object_or_404(table.model, pk=pk)
    code = getattr(row, table.key_field)
    want_active = request.POST.get("active") == "1"
    if row.active == want_active:
        messages.info(request, f"{code} is already {'active' if want_active else 'inactive'}.")
        return redirect("mapping_list", kind=kind)
    if not want_active:
        table.model.objects.filter(pk=pk, active=True).update(active=False, updated_at=timezone.now())
        messages.success(request, f"Deactivated {code}: new orders for it are held until a row is active again.")
        return redirect("mapping_list", kind=kind)
    releases = release_preview(table, code, True)
    row.active = True
    try:
        with transaction.atomic():
            row.save(update_fields=["active", "updated_at"])  # the signal releases the held orders
    except IntegrityError:
        messages.error(request, f"{code} cannot be reactivated: another active row already uses its Seko side.")
        return redirect("mapping_list", kind=kind)
    note = f" {releases} held order(s) are being released." if releases else ""
    messages.success(request, f"Reactivated {code}.{note}")
    return redirect("mapping_list", kind=kind)


@require_GET
@require("view_mappings")
def mapping_export(request: HttpRequest, kind: str) -> HttpResponse:
    table = _table(kind)
    response = HttpResponse(export_csv(table), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{table.slug}-{timezone.now():%Y%m%d}.csv"'
    return response


@require_http_methods(["GET", "POST"])
@require("edit_mappings")
def mapping_import(request: HttpRequest, kind: str) -> HttpResponse:
    table = _table(kind)
    result = None
    if request.method == "POST":
        upload = request.FILES.get("file")
        if upload is None:
            messages.error(request, "Choose a CSV file to import.")
        elif upload.size > IMPORT_MAX_BYTES:
            messages.error(request, f"The file is {upload.size:,} bytes; the limit is {IMPORT_MAX_BYTES:,}.")
        else:
            try:
                text = upload.read().decode("utf-8")
            except UnicodeDecodeError:
                messages.error(request, "The file is not UTF-8 text; save it as CSV UTF-8 and try again.")
            else:
                result = import_csv(table, text)
                if result.ok:
                    messages.success(request, f"Imported: {result.created} new, {result.updated} changed, "
                                     f"{result.unchanged} unchanged; {result.releases} held order(s) released.")
                    return redirect("mapping_list", kind=kind)
    return render(request, "mappings/import.html", {"table": table, "result": result})
