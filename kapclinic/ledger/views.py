from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.forms import Form
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from kapclinic.accounts.web import (
    current_user,
    forbidden,
    not_found,
    querystring_without_page,
    refusals_as_plain_pages,
    refused_status,
    submitted,
)
from kapclinic.audit.context import AuditContext
from kapclinic.clinical.ledger import EntryKind
from kapclinic.ledger import selectors, services
from kapclinic.ledger.forms import (
    ENTRY_KINDS,
    CountForm,
    InvestigationForm,
    LocationForm,
    LossReportForm,
    MovementForm,
    ProductForm,
    ReceiveForm,
    RegistrationForm,
    TransferForm,
)
from kapclinic.ledger.models import (
    ClinicRegistration,
    InventoryCount,
    LedgerEntry,
    Lot,
    Product,
    StorageLocation,
)
from kapclinic.roles import Action, may


@login_required
@refusals_as_plain_pages
def stock(request: HttpRequest) -> HttpResponse:
    """What is on hand, per lot and location, with expiry warnings."""
    balances = selectors.ledger_balances(ctx=AuditContext.from_request(request))
    user = current_user(request)
    return render(
        request,
        "ledger/stock.html",
        {
            "balances": balances,
            "can_record": may(user.role, Action.LEDGER_RECORD),
            "can_setup": may(user.role, Action.LEDGER_SETUP),
        },
    )


@login_required
@refusals_as_plain_pages
def entries(request: HttpRequest) -> HttpResponse:
    def _int(name: str) -> int | None:
        raw = request.GET.get(name, "")
        return int(raw) if raw.isdigit() and len(raw) < 10 else None

    kind = request.GET.get("kind", "")
    kind = kind if kind in EntryKind.__members__.values() else ""
    rows = selectors.ledger_entries(
        ctx=AuditContext.from_request(request), lot_id=_int("lot"), location_id=_int("location"), kind=kind
    )
    page = Paginator(rows, 50).get_page(request.GET.get("page"))
    return render(
        request,
        "ledger/entries.html",
        {
            "page": page,
            "kinds": ENTRY_KINDS,
            "lots": Lot.objects.select_related("product"),
            "locations": StorageLocation.objects.all(),
            "params": request.GET,
            "querystring": querystring_without_page(request),
        },
    )


def _ledger_form(
    request: HttpRequest,
    *,
    form_class: type[Form],
    heading: str,
    hint: str,
    action: Action,
    write: Callable[[AuditContext, dict[str, Any]], object],
    done: str,
) -> HttpResponse:
    """Show a ledger form; on a valid POST call the service, keep the user's input on any refusal."""
    if not may(current_user(request).role, action):
        return forbidden(request, "Your role does not record in the controlled-substance ledger.")
    form = form_class(request.POST or None)
    status = 200
    if request.method == "POST":
        if submitted(form, lambda: write(AuditContext.from_request(request), form.cleaned_data)) is not None:
            messages.success(request, done)
            return redirect("ledger:stock")
        status = refused_status(form)
    return render(request, "ledger/ledger_form.html", {"form": form, "heading": heading, "hint": hint}, status=status)


@login_required
@refusals_as_plain_pages
def receive(request: HttpRequest) -> HttpResponse:
    def write(ctx: AuditContext, data: dict[str, Any]) -> object:
        return services.ledger_receive(
            ctx=ctx,
            product_id=data["product"].pk,
            lot_number=data["lot_number"],
            expires_on=data["expires_on"],
            supplier_name=data["supplier_name"],
            supplier_address=data["supplier_address"],
            supplier_dea_number=data["supplier_dea_number"],
            invoice_reference=data["invoice_reference"],
            received_on=data["received_on"],
            location_id=data["location"],
            quantity=services.Quantity(data["quantity"], data["unit"]),
        )

    return _ledger_form(
        request,
        form_class=ReceiveForm,
        heading="Receive a delivery",
        hint="Book the supplier's invoice: the lot, its expiry and how much arrived.",
        action=Action.LEDGER_RECORD,
        write=write,
        done="The delivery was received into stock.",
    )


@login_required
@refusals_as_plain_pages
def record(request: HttpRequest) -> HttpResponse:
    def write(ctx: AuditContext, data: dict[str, Any]) -> object:
        witness = (
            services.WitnessCredentials(data["witness_username"], data["witness_password"])
            if data["witness_username"]
            else None
        )
        return services.ledger_entry_record(
            ctx=ctx,
            kind=data["kind"],
            lot_id=data["lot"],
            location_id=data["location"],
            quantity=services.Quantity(data["quantity"], data["unit"]),
            witness=witness,
            patient_id=data["patient"],
            reason=data["reason"],
            reference=data["reference"],
            corrects_id=data["corrects"],
        )

    return _ledger_form(
        request,
        form_class=MovementForm,
        heading="Record a movement",
        hint="Administration, waste (with a witness who signs with their own password), return, destruction, "
        "loss, or a correction of an earlier entry.",
        action=Action.LEDGER_RECORD,
        write=write,
        done="The entry was recorded.",
    )


@login_required
@refusals_as_plain_pages
def transfer(request: HttpRequest) -> HttpResponse:
    def write(ctx: AuditContext, data: dict[str, Any]) -> object:
        return services.ledger_transfer(
            ctx=ctx,
            lot_id=data["lot"],
            from_location_id=data["from_location"],
            to_location_id=data["to_location"],
            quantity=services.Quantity(data["quantity"], data["unit"]),
            reason=data["reason"],
        )

    return _ledger_form(
        request,
        form_class=TransferForm,
        heading="Transfer between locations",
        hint="Moves stock from one location to another as two entries written together.",
        action=Action.LEDGER_RECORD,
        write=write,
        done="The stock was moved.",
    )


@login_required
@refusals_as_plain_pages
def locations(request: HttpRequest) -> HttpResponse:
    user = current_user(request)
    if not may(user.role, Action.LEDGER_VIEW):
        return forbidden(request, "Your role does not see the controlled-substance ledger.")
    can_setup = may(user.role, Action.LEDGER_SETUP)
    form = LocationForm(request.POST or None)
    if request.method == "POST":
        if not can_setup:
            return forbidden(request, "Only the clinic director sets up storage locations.")
        ctx = AuditContext.from_request(request)
        if submitted(form, lambda: services.storage_location_create(ctx=ctx, **form.cleaned_data)) is not None:
            messages.success(request, "The storage location was added.")
            return redirect("ledger:locations")
        return _setup_page(
            request, location_form=form, product_form=ProductForm(), can_setup=True, status=refused_status(form)
        )
    return _setup_page(request, location_form=form, product_form=ProductForm(), can_setup=can_setup)


@login_required
@refusals_as_plain_pages
def products(request: HttpRequest) -> HttpResponse:
    user = current_user(request)
    if request.method != "POST":
        return redirect("ledger:locations")
    if not may(user.role, Action.LEDGER_SETUP):
        return forbidden(request, "Only the clinic director sets up products.")
    form = ProductForm(request.POST)
    ctx = AuditContext.from_request(request)
    if submitted(form, lambda: services.product_create(ctx=ctx, **form.cleaned_data)) is not None:
        messages.success(request, "The product was added.")
        return redirect("ledger:locations")
    return _setup_page(
        request, location_form=LocationForm(), product_form=form, can_setup=True, status=refused_status(form)
    )


def _setup_page(
    request: HttpRequest, *, location_form: Form, product_form: Form, can_setup: bool, status: int = 200
) -> HttpResponse:
    context = {
        "form": location_form,
        "product_form": product_form,
        "can_setup": can_setup,
        "locations": StorageLocation.objects.all(),
        "products": Product.objects.all(),
    }
    return render(request, "ledger/setup.html", context, status=status)


@login_required
@refusals_as_plain_pages
def counts(request: HttpRequest) -> HttpResponse:
    rows = selectors.inventory_counts(ctx=AuditContext.from_request(request))
    user = current_user(request)
    page = Paginator(rows, 20).get_page(request.GET.get("page"))
    return render(
        request,
        "ledger/counts.html",
        {
            "page": page,
            "locations": StorageLocation.objects.filter(active=True),
            "can_record": may(user.role, Action.LEDGER_RECORD),
            "can_investigate": may(user.role, Action.LEDGER_INVESTIGATE),
        },
    )


@login_required
@refusals_as_plain_pages
def count_new(request: HttpRequest, location_id: int) -> HttpResponse:
    """The blind count form: every lot kept at the location, with no expected quantity shown."""
    if not may(current_user(request).role, Action.LEDGER_RECORD):
        return forbidden(request, "Only prescribers and nurses count controlled stock.")
    location = StorageLocation.objects.filter(pk=location_id, active=True).first()
    if location is None:
        return not_found(request, "No such storage location.")
    lots = selectors.lots_at(location.pk)
    form = CountForm(request.POST or None, lots=lots)

    def record(data: dict[str, Any]) -> InventoryCount:
        return services.inventory_count_record(
            ctx=AuditContext.from_request(request),
            location_id=location.pk,
            kind=data["kind"],
            business_time=data["business_time"],
            lines=[
                services.CountedLot(lot.pk, services.Quantity(data[f"lot_{lot.pk}"], data[f"unit_{lot.pk}"]))
                for lot in lots
            ],
            witness=services.WitnessCredentials(data["witness_username"], data["witness_password"]),
        )

    status = 200
    if request.method == "POST":
        count = submitted(form, lambda: record(form.cleaned_data))
        if count is not None:
            messages.success(request, "The count was recorded and compared with the ledger.")
            return redirect("ledger:count", count_id=count.pk)
        status = refused_status(form)
    return render(request, "ledger/count_form.html", {"form": form, "location": location}, status=status)


@login_required
@refusals_as_plain_pages
def count_detail(request: HttpRequest, count_id: int) -> HttpResponse:
    count = selectors.inventory_counts(ctx=AuditContext.from_request(request)).filter(pk=count_id).first()
    if count is None:
        return not_found(request, "No such count.")
    return render(
        request,
        "ledger/count_detail.html",
        {"count": count, "can_investigate": may(current_user(request).role, Action.LEDGER_INVESTIGATE)},
    )


@login_required
@refusals_as_plain_pages
def investigation_resolve(request: HttpRequest, investigation_id: int) -> HttpResponse:
    if not may(current_user(request).role, Action.LEDGER_INVESTIGATE):
        return forbidden(request, "Only the clinic director resolves count discrepancies.")
    investigation = selectors.open_investigations().filter(pk=investigation_id).first()
    if investigation is None:
        return not_found(request, "No open investigation with that id.")
    form = InvestigationForm(request.POST or None)
    status = 200
    if request.method == "POST":
        resolved = submitted(
            form,
            lambda: services.investigation_resolve(
                ctx=AuditContext.from_request(request),
                investigation_id=investigation_id,
                resolution=form.cleaned_data["resolution"],
                adjust_ledger=form.cleaned_data["adjust_ledger"],
            ),
        )
        if resolved is not None:
            messages.success(request, "The investigation was resolved.")
            return redirect("ledger:count", count_id=investigation.line.count_id)
        status = refused_status(form)
    return render(request, "ledger/investigation.html", {"form": form, "investigation": investigation}, status=status)


@login_required
@refusals_as_plain_pages
def registration(request: HttpRequest) -> HttpResponse:
    """The registrant's DEA registration, printed on the reports (director edits, others read)."""
    user = current_user(request)
    if not may(user.role, Action.LEDGER_VIEW):
        return forbidden(request, "Your role does not see the controlled-substance ledger.")
    current = ClinicRegistration.objects.first()
    can_setup = may(user.role, Action.LEDGER_SETUP)
    initial = (
        {
            "registrant_name": current.registrant_name,
            "dea_number": current.dea_number,
            "address": current.address,
            "schedules": current.schedules,
            "expires_on": current.expires_on,
        }
        if current
        else None
    )
    form = RegistrationForm(request.POST or None, initial=initial)
    status = 200
    if request.method == "POST":
        if not can_setup:
            return forbidden(request, "Only the clinic director changes the DEA registration.")
        ctx = AuditContext.from_request(request)
        if submitted(form, lambda: services.clinic_registration_save(ctx=ctx, **form.cleaned_data)) is not None:
            messages.success(request, "The registration was saved.")
            return redirect("ledger:registration")
        status = refused_status(form)
    context = {"form": form, "current": current, "can_setup": can_setup}
    return render(request, "ledger/registration.html", context, status=status)


@login_required
@refusals_as_plain_pages
def loss_report(request: HttpRequest, entry_id: int) -> HttpResponse:
    """Record the written notice or the Form 106 of a theft or loss (director); back to the dashboard's clocks."""
    if not may(current_user(request).role, Action.LEDGER_INVESTIGATE):
        return forbidden(request, "Only the clinic director records the DEA filings of a theft or loss.")
    entry = LedgerEntry.objects.select_related("lot__product", "location").filter(pk=entry_id, kind="loss").first()
    if entry is None:
        return not_found(request, "No theft or loss entry with that id.")
    form = LossReportForm(request.POST or None, initial={"kind": request.GET.get("kind", "")})
    status = 200
    if request.method == "POST":
        filed = submitted(
            form,
            lambda: services.loss_report_record(
                ctx=AuditContext.from_request(request),
                loss_entry_id=entry_id,
                kind=form.cleaned_data["kind"],
                filed_on=form.cleaned_data["filed_on"],
                reference=form.cleaned_data["reference"],
            ),
        )
        if filed is not None:
            messages.success(request, "The filing was recorded.")
            return redirect("home:home")
        status = refused_status(form)
    return render(request, "ledger/loss_report.html", {"form": form, "entry": entry}, status=status)
