"""The exception queue over JSON: list (the screen's filters), detail, and the same actions,
recorded with who and when like the screen's."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from exceptions import services
from exceptions.filters import ExceptionFilter
from exceptions.models import ExceptionEvent, IntegrationException
from integration.shared.redaction import mask_secrets
from integration.shared.roles import HasCapability

User = get_user_model()


class ExceptionEventSerializer(serializers.ModelSerializer):
    actor = serializers.CharField(source="actor.username", default=None, read_only=True)

    class Meta:
        model = ExceptionEvent
        fields = ["at", "action", "actor", "note"]


class ExceptionSerializer(serializers.ModelSerializer):
    order = serializers.CharField(source="order.ord_num", default=None, read_only=True)
    assigned_to = serializers.CharField(source="assigned_to.username", default=None, read_only=True)
    title = serializers.SerializerMethodField()

    class Meta:
        model = IntegrationException
        fields = ["id", "kind", "title", "owner", "category", "status", "trace_key", "order", "sku", "message",
                  "occurrences", "assigned_to", "first_seen_at", "last_seen_at", "resolved_at", "snoozed_until"]

    def get_title(self, obj: IntegrationException) -> str:
        return obj.kind_info.title if obj.kind_info else ""


class ExceptionDetailSerializer(ExceptionSerializer):
    playbook = serializers.SerializerMethodField()
    request_payload = serializers.SerializerMethodField()
    response_payload = serializers.SerializerMethodField()
    events = ExceptionEventSerializer(many=True, read_only=True)
    resolved_by = serializers.CharField(source="resolved_by.username", default=None, read_only=True)

    class Meta(ExceptionSerializer.Meta):
        fields = [*ExceptionSerializer.Meta.fields, "problems", "playbook", "request_payload", "response_payload",
                  "resolved_by", "resolution_note", "events"]

    def get_playbook(self, obj: IntegrationException) -> str:
        return obj.kind_info.playbook if obj.kind_info else ""

    def get_request_payload(self, obj: IntegrationException) -> str:
        return mask_secrets(obj.request_payload)

    def get_response_payload(self, obj: IntegrationException) -> str:
        return mask_secrets(obj.response_payload)


class ActionSerializer(serializers.Serializer):
    note = serializers.CharField(required=False, allow_blank=True, default="")
    assignee = serializers.CharField(required=False, allow_blank=True, allow_null=True, default=None,
                                     help_text="A username; empty or null unassigns")
    withdraw_order = serializers.BooleanField(
        required=False, default=False,
        help_text="Resolve only: the exception is the last open one of a held order, and the person chooses to "
                  "withdraw the order from fulfilment (the note is kept as the reason)")
    set_aside_dispatch = serializers.BooleanField(
        required=False, default=False,
        help_text="Resolve only: the exception is the last open one of a held dispatch, and the person sets the "
                  "dispatch aside as settled by hand (never posted; the note is kept as the reason)")
    until = serializers.DateTimeField(required=False, allow_null=True, default=None,
                                      help_text="Snooze only: until when (null wakes it now)")


class BulkSerializer(ActionSerializer):
    action = serializers.ChoiceField(choices=services.ACTIONS)
    ids = serializers.ListField(
        # issue 8: bounded above too, so an id past the database's integers is a 400, not a 500
        child=serializers.IntegerField(min_value=1, max_value=2**63 - 1), allow_empty=False,
        max_length=services.BULK_LIMIT)


OUTCOME = inline_serializer("ActionOutcome", {"detail": serializers.CharField()})
HELD_REFUSAL = inline_serializer("HeldRefusal", {
    "detail": serializers.CharField(), "held": serializers.CharField(),
    "choices": serializers.ListField(child=serializers.CharField()),
})
BULK_OUTCOME = inline_serializer("BulkOutcome", {
    "detail": serializers.CharField(), "done": serializers.DictField(child=serializers.CharField()),
    "refused": serializers.DictField(child=serializers.CharField()),
})


def _assignee(name: str | None):
    if not name:
        return None
    try:
        return User.objects.get(username=name)
    except User.DoesNotExist:
        raise services.ActionRefused(f"There is no user called {name!r}; nothing was assigned.") from None


class ExceptionViewSet(viewsets.ReadOnlyModelViewSet):
    """Exceptions. Filters: kind, owner, status, category, age (1h, 4h, 24h, 7d), q (order number
    or SKU prefix), assigned (me, nobody), o (sort: first_seen, last_seen, occurrences, kind, owner,
    about; prefix - to reverse)."""

    permission_classes = [HasCapability]
    capability = "view_exceptions"
    write_capability = "act_on_exceptions"
    filter_backends = [DjangoFilterBackend]
    filterset_class = ExceptionFilter
    queryset = IntegrationException.objects.select_related("order", "assigned_to").order_by("-last_seen_at", "-id")

    def get_queryset(self):
        if self.action == "retrieve":
            return IntegrationException.objects.select_related("order", "assigned_to", "resolved_by").prefetch_related(
                "events__actor")
        return super().get_queryset()

    def get_serializer_class(self):
        return ExceptionDetailSerializer if self.action == "retrieve" else ExceptionSerializer

    def _act(self, request: Request, do) -> Response:
        body = ActionSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        exception = self.get_object()
        try:
            detail = do(exception, body.validated_data)
        except services.NotAllowed as refused:
            return Response({"detail": str(refused)}, status=status.HTTP_403_FORBIDDEN)
        except services.HeldObjectRefused as refused:
            # The choices the person has instead, as the request fields that make them.
            choices = (["withdraw_order"] if refused.held.can_withdraw
                       else ["set_aside_dispatch"] if refused.held.can_set_aside else [])
            return Response({"detail": str(refused), "held": refused.held.what, "choices": choices},
                            status=status.HTTP_409_CONFLICT)
        except services.ActionRefused as refused:
            return Response({"detail": str(refused)}, status=status.HTTP_409_CONFLICT)
        return Response({"detail": detail})

    @extend_schema(request=None, responses={200: OUTCOME, 403: OUTCOME, 409: OUTCOME})
    @action(detail=True, methods=["post"])
    def retry(self, request: Request, pk: str | None = None) -> Response:
        return self._act(request, lambda exc, body: services.retry(exc, request.user))

    @extend_schema(request=ActionSerializer, responses={200: OUTCOME, 403: OUTCOME, 409: HELD_REFUSAL})
    @action(detail=True, methods=["post"])
    def resolve(self, request: Request, pk: str | None = None) -> Response:
        """Resolve with a note. Refused (409, with ``choices``) while the exception is the last open one
        of an object still held, unless ``withdraw_order`` is chosen for a held order."""
        return self._act(request, lambda exc, body: services.resolve_with_note(
            exc, request.user, body["note"], withdraw_order=body["withdraw_order"],
            set_aside_dispatch=body["set_aside_dispatch"]))

    @extend_schema(request=ActionSerializer, responses={200: OUTCOME, 403: OUTCOME, 409: OUTCOME})
    @action(detail=True, methods=["post"])
    def snooze(self, request: Request, pk: str | None = None) -> Response:
        """Leave it out of the open queue until ``until`` (it comes back by itself); null wakes it."""
        return self._act(request, lambda exc, body: services.snooze(exc, request.user, body["until"]))

    @extend_schema(request=ActionSerializer, responses={200: OUTCOME, 403: OUTCOME, 409: OUTCOME})
    @action(detail=True, methods=["post"])
    def assign(self, request: Request, pk: str | None = None) -> Response:
        return self._act(request, lambda exc, body: services.assign(exc, request.user, _assignee(body["assignee"])))

    @extend_schema(request=BulkSerializer, responses={200: BULK_OUTCOME, 409: OUTCOME})
    @action(detail=False, methods=["post"])
    def bulk(self, request: Request) -> Response:
        body = BulkSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        try:
            assignee = _assignee(data["assignee"]) if data["action"] == "assign" else None
            result = services.bulk(data["action"], data["ids"], request.user, note=data["note"], assignee=assignee,
                                   until=data["until"], withdraw_order=data["withdraw_order"])
        except services.ActionRefused as refused:
            return Response({"detail": str(refused)}, status=status.HTTP_409_CONFLICT)
        body = {"detail": result.summary(data["action"]), "done": result.done, "refused": result.refused}
        if result.refused and not result.done and result.not_allowed == set(result.refused):
            return Response(body, status=status.HTTP_403_FORBIDDEN)  # none of them is this person's to act on
        return Response(body)
