"""Cross-reference tables for admins: list (with Seko's reference check and the codes waiting
for a row), create, edit, deactivate (after a confirmation saying what it affects), history,
CSV export and import. Before a save the page names the held orders it will release (htmx asks
``mapping_preview`` as the form changes); saving releases them."""

from __future__ import annotations

from django.contrib import messages
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_http_methods
from django_q.tasks import async_task

from integration.dispatches import flow as dispatch_flow
from integration.mappings.checked_save import check_before_save, save_checked, seko_check, seko_reference
from integration.mappings.csv_io import export_csv, import_csv
from integration.mappings.deactivation import deactivation_effects, orders_at_seko_with
from integration.mappings.history import row_history
from integration.mappings.links import unmapped_codes
from integration.mappings.releases import orders_to_release, release_held_dispatches_on_commit
from integration.mappings.tables import SERVICE_WORDS_LIST_ID, TABLES, MappingTable
from integration.shared.roles import can, require

IMPORT_MAX_BYTES = 2_000_000
PREVIEW_NAMES_SHOWN = 30  # order numbers named in the preview; the rest are counted


def _table(kind: str) -> MappingTable:
    try:
        return TABLES[kind]
    except KeyError:
        raise Http404(f"There is no cross-reference table called {kind!r}.") from None


def _safe_next(request: HttpRequest) -> str:
    back = request.POST.get("next") or request.GET.get("next") or ""
    return back if url_has_allowed_host_and_scheme(back, allowed_hosts={request.get_host()}) else ""


@require_GET
@require("view_mappings")
def mapping_list(request: HttpRequest, kind: str) -> HttpResponse:
    table = _table(kind)
    reference = seko_reference(refresh=request.GET.get("recheck") == "1")
    ordered = table.model.objects.order_by("-active", table.key_field)
    rows = [(row, *seko_check(table, row, reference)) for row in ordered]
    context = {
        "table": table, "tables": TABLES.values(), "rows": rows, "reference": reference,
        "can_edit": can(request.user, "edit_mappings"), "can_view_orders": can(request.user, "view_orders"),
        "unknown_count": sum(1 for _, state, _ in rows if state == "unknown"),
        "unmapped": unmapped_codes(table),
    }
    return render(request, "mappings/list.html", context)


@require_http_methods(["GET", "POST"])
@require("edit_mappings")
def mapping_edit(request: HttpRequest, kind: str, pk: int | None = None) -> HttpResponse:
    table = _table(kind)
    instance = get_object_or_404(table.model, pk=pk) if pk is not None else None
    # "Map this code" opens a new row prefilled with the code (?bc_ship_via=ZZFAST).
    initial = {table.key_field: request.GET.get(table.key_field, "")} if instance is None else None
    form = table.form(request.POST or None, instance=instance, initial=initial)
    back = _safe_next(request)
    if request.method == "POST" and form.is_valid():
        code = form.cleaned_data[table.key_field]
        # Named before saving: the save releases them (on commit), and then none are held.
        releases = orders_to_release(table, code, form.cleaned_data.get("active", True))
        outcome = save_checked(table, form, reason="Added" if instance is None else "Edited")
        if not outcome.refused:
            row = outcome.row
            for note in outcome.notes:
                messages.info(request, note)
            if outcome.saved_inactive:
                messages.warning(request, f"Saved {table.key_label()} {getattr(row, table.key_field)} INACTIVE: "
                                          f"{outcome.saved_inactive}. No order was released. Reactivate the row "
                                          "once Seko's list can be read (it is checked again then).")
            else:
                count = len(releases) if row.active else 0
                note = (f" {count} held order{'s' if count != 1 else ''} waiting for it "
                        f"{'are' if count != 1 else 'is'} being released and sent.") if count else ""
                messages.success(request, f"Saved {table.key_label()} {getattr(row, table.key_field)}.{note}")
            return redirect(back or "mapping_list", **({} if back else {"kind": kind}))
    context = {"table": table, "form": form, "instance": instance, "next": back,
               **_preview_context(request, table, *_preview_input(table, form, instance)),
               "service_words": _service_words_offered(table), "service_words_list_id": SERVICE_WORDS_LIST_ID}
    return render(request, "mappings/form.html", context)


def _service_words_offered(table: MappingTable) -> list[tuple[str, str, str]]:
    """(words, courier, code) from Seko's courier-service list where it gives the words, offered
    for "the service as Seko describes it" (Seko's dispatches may name a service so)."""
    if table.slug != "carriers":
        return []
    return sorted((words, courier, code) for (courier, code), words in seko_reference().service_words)


def _preview_input(table: MappingTable, form, instance) -> tuple[str, bool]:
    if form.is_bound:
        return form.data.get(table.key_field, ""), form.data.get("active") in ("on", "true", "1", True)
    if instance is not None:
        return getattr(instance, table.key_field), instance.active
    return form.initial.get(table.key_field, ""), True


def _preview_context(request: HttpRequest, table: MappingTable, code: str, active: bool) -> dict:
    names = orders_to_release(table, code, active)
    return {"preview": len(names), "preview_orders": names[:PREVIEW_NAMES_SHOWN],
            "preview_more": max(0, len(names) - PREVIEW_NAMES_SHOWN),
            "can_view_orders": can(request.user, "view_orders")}


@require_GET
@require("edit_mappings")
def mapping_preview(request: HttpRequest, kind: str) -> HttpResponse:
    """The "this save will release these orders" line, for htmx as the form changes."""
    table = _table(kind)
    context = _preview_context(request, table, request.GET.get(table.key_field, ""),
                               request.GET.get("active") in ("on", "true"))
    return render(request, "mappings/_preview.html", {**context, "table": table})


@require_http_methods(["GET", "POST"])
@require("edit_mappings")
def mapping_set_active(request: HttpRequest, kind: str, pk: int) -> HttpResponse:
    """Deactivate (active=0, after a confirmation page saying what it affects) or reactivate
    (active=1, after Seko's lists are checked) one row. Both are compare-and-swap on ``active``
    and recorded in the row's history with who did it."""
    table = _table(kind)
    row = get_object_or_404(table.model, pk=pk)
    code = getattr(row, table.key_field)
    want_active = (request.POST.get("active") or request.GET.get("active")) == "1"
    if row.active == want_active:
        messages.info(request, f"{code} is already {'active' if want_active else 'inactive'}.")
        return redirect("mapping_list", kind=kind)
    if not want_active and not (request.method == "POST" and request.POST.get("confirmed") == "1"):
        at_seko = orders_at_seko_with(table, row)
        return render(request, "mappings/confirm_deactivate.html",
                      {"table": table, "row": row, "code": code, "effects": deactivation_effects(table, row),
                       "at_seko": at_seko[:PREVIEW_NAMES_SHOWN],
                       "at_seko_more": max(0, len(at_seko) - PREVIEW_NAMES_SHOWN),
                       "can_view_orders": can(request.user, "view_orders")})
    if request.method != "POST":
        return redirect("mapping_list", kind=kind)
    if want_active:
        found = check_before_save(table, {name: getattr(row, name) for name in table.columns})
        if found.state != "ok":
            why = found.message if found.state == "unknown" else f"{found.message}. Try again when Seko answers"
            messages.error(request, f"{code} was not reactivated: {why}.".replace("..", "."))
            return redirect("mapping_list", kind=kind)
        releases = len(orders_to_release(table, code, True))
        dispatches_held = len(dispatch_flow.held_for_carrier()) if table.slug == "carriers" else 0
    with transaction.atomic():
        changed = table.model.objects.filter(pk=pk, active=not want_active).update(
            active=want_active, updated_at=timezone.now())
        if changed:
            row.refresh_from_db()
            # .update() sends no signal: the history row is written here, with who did it.
            table.model.history.bulk_history_create(
                [row], update=True, default_user=request.user,
                default_change_reason="Reactivated" if want_active else "Deactivated")
            if want_active:
                # As the post_save signal does for a saved row (integration/mappings/receivers.py).
                transaction.on_commit(lambda: async_task(
                    "integration.tasks.release_after_mapping_change", **{table.release_arg: code},
                    task_name="release_after_mapping_change"))
                release_held_dispatches_on_commit(table)
    if not changed:
        messages.info(request, f"{code} was changed by someone else meanwhile; nothing was done. Look again.")
    elif want_active:
        note = f" {releases} held order(s) are being released." if releases else ""
        if dispatches_held:
            note += (f" {dispatches_held} dispatch(es) held because no carrier row mapped them back are being "
                     "checked again.")
        messages.success(request, f"Reactivated {code}.{note}")
    else:
        messages.success(request, f"Deactivated {code}: new orders for it are held until a row is active again.")
    return redirect("mapping_list", kind=kind)


@require_GET
@require("view_mappings")
def mapping_history(request: HttpRequest, kind: str, pk: int) -> HttpResponse:
    table = _table(kind)
    row = get_object_or_404(table.model, pk=pk)
    return render(request, "mappings/history.html", {"table": table, "row": row, "entries": row_history(table, row),
                                                     "can_edit": can(request.user, "edit_mappings")})


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
                    if result.saved_inactive:
                        messages.warning(request, f"Saved INACTIVE: {', '.join(result.saved_inactive)}. "
                                                  f"{result.unchecked_why}. Reactivate them once Seko's list can "
                                                  "be read (they are checked again then).")
                    for note in result.notes:
                        messages.info(request, note)
                    return redirect("mapping_list", kind=kind)
    return render(request, "mappings/import.html", {"table": table, "result": result})
