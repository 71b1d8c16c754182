from __future__ import annotations

import segno
from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse_lazy
from django.views.decorators.http import require_POST
from django_otp import login as otp_login

from kapclinic.accounts import services, smart
from kapclinic.accounts.forms import (
    OneTimeCodeForm,
    PasswordResetByDirectorForm,
    SignInForm,
    SmartClientForm,
    StaffUserForm,
    UserActiveForm,
)
from kapclinic.accounts.middleware import mark_activity
from kapclinic.accounts.models import ApiToken, User
from kapclinic.accounts.web import (
    current_user,
    forbidden,
    not_found,
    refusals_as_plain_pages,
    refused_status,
    safe_next,
    submitted,
)
from kapclinic.audit.context import AuditContext
from kapclinic.roles import Action, may


class SignInView(auth_views.LoginView):
    template_name = "registration/login.html"
    authentication_form = SignInForm
    redirect_authenticated_user = True

    def form_valid(self, form):  # type: ignore[no-untyped-def]
        response = super().form_valid(form)
        user = form.get_user()
        services.sign_in_record(
            self.request,
            user=user,
            purpose="sign_in",
            second_factor=services.mfa_required_for(user, self.request.session),
        )
        return response


class SignOutView(auth_views.LogoutView):
    def post(self, request, *args, **kwargs):  # type: ignore[no-untyped-def]
        if isinstance(request.user, User):
            # The page's idle clock signs out with idle=1 (kapclinic/static/kapclinic/idle_timeout.js).
            purpose = "idle_sign_out" if request.POST.get("idle") == "1" else "sign_out"
            services.sign_in_record(request, user=request.user, purpose=purpose)
        return super().post(request, *args, **kwargs)


class PasswordChangeView(auth_views.PasswordChangeView):
    template_name = "registration/password_change.html"
    success_url = reverse_lazy("home:home")

    def form_valid(self, form):  # type: ignore[no-untyped-def]
        response = super().form_valid(form)
        services.password_changed(ctx=AuditContext.from_request(self.request, user=form.user))
        messages.success(self.request, "Your password was changed.")
        return response


@login_required
def mfa_verify(request: HttpRequest) -> HttpResponse:
    user = current_user(request)
    device = services.mfa_device_for(user)
    if device is None:
        return redirect("accounts:mfa_setup")
    form = OneTimeCodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        if device.verify_token(form.cleaned_data["code"]):
            otp_login(request, device)
            services.sign_in_record(request, user=user, purpose="second_factor")
            return redirect(safe_next(request, request.GET.get("next"), "home:home"))
        services.second_factor_failure_record(request, user=user)
        form.add_error("code", "That code is not right. Check the time on your phone and try the newest code.")
    return render(request, "accounts/mfa_verify.html", {"form": form})


@login_required
def mfa_setup(request: HttpRequest) -> HttpResponse:
    user = current_user(request)
    if services.mfa_device_for(user) is not None and not user.is_verified():  # type: ignore[attr-defined]
        # Replacing an authenticator needs the current one first: a password alone must not do it.
        return redirect("accounts:mfa_verify")
    device = services.mfa_enrolment_start(user=user)
    form = OneTimeCodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        if services.mfa_enrolment_confirm(ctx=AuditContext.from_request(request), code=form.cleaned_data["code"]):
            confirmed = services.mfa_device_for(user)
            if confirmed is not None:
                otp_login(request, confirmed)
                request.session[services.MFA_ENROLLED_SESSION_KEY] = True
            messages.success(request, "Two-factor sign-in is set up.")
            return redirect("home:home")
        form.add_error("code", "That code is not right. Scan the code again or type the key, then try again.")
    qr = segno.make(device.config_url, error="m")
    context = {
        "form": form,
        "qr_svg": qr.svg_inline(scale=4, title="QR code to add kapclinic to your authenticator app"),
        "secret": device.config_url.split("secret=")[1].split("&")[0],
    }
    return render(request, "accounts/mfa_setup.html", context)


@login_required
def account(request: HttpRequest) -> HttpResponse:
    user = current_user(request)
    tokens = ApiToken.objects.filter(user=user).order_by("-created_at")[:20]
    return render(
        request,
        "accounts/account.html",
        {"tokens": tokens, "mfa_device": services.mfa_device_for(user)},
    )


@login_required
@require_POST
@refusals_as_plain_pages
def token_revoke(request: HttpRequest, token_id: int) -> HttpResponse:
    # Nothing to parse: the token is the URL's.
    services.api_token_revoke(ctx=AuditContext.from_request(request), token_id=token_id)
    messages.success(request, "The token was revoked.")
    return redirect("accounts:account")


def _users_listed(request: HttpRequest) -> QuerySet[User]:
    users = User.objects.exclude(role="patient").order_by("last_name", "first_name", "username")
    query = request.GET.get("q", "").strip()
    if query:
        users = users.filter(username__icontains=query) | users.filter(last_name__icontains=query)
    return users


@login_required
def user_list(request: HttpRequest) -> HttpResponse:
    user = current_user(request)
    if not may(user.role, Action.USER_LIST):
        return forbidden(request, "Only the clinic director and auditor see the staff list.")
    return _user_list_page(request, user)


def _user_list_page(
    request: HttpRequest, user: User, *, refused: UserActiveForm | None = None, status: int = 200
) -> HttpResponse:
    page = Paginator(_users_listed(request), 25).get_page(request.GET.get("page"))
    context = {
        "page": page,
        "can_manage": may(user.role, Action.USER_MANAGE),
        "q": request.GET.get("q", ""),
        "form": refused,
    }
    return render(request, "accounts/user_list.html", context, status=status)


@login_required
def user_create(request: HttpRequest) -> HttpResponse:
    user = current_user(request)
    if not may(user.role, Action.USER_MANAGE):
        return forbidden(request, "Only the clinic director adds users.")
    form = StaffUserForm(request.POST or None)
    status = 200
    if request.method == "POST":
        created = submitted(
            form,
            lambda: services.user_create(ctx=AuditContext.from_request(request), **form.cleaned_data),
            fallback_field="password",
        )
        if created is not None:
            messages.success(request, f"{created.username} was added. Give them the temporary password.")
            return redirect("accounts:user_list")
        status = refused_status(form)
    return render(request, "accounts/user_form.html", {"form": form}, status=status)


@login_required
def user_password_reset(request: HttpRequest, user_id: int) -> HttpResponse:
    actor = current_user(request)
    if not may(actor.role, Action.USER_MANAGE):
        return forbidden(request, "Only the clinic director resets passwords.")
    target = User.objects.filter(pk=user_id).first()
    if target is None:
        return not_found(request, "No such user.")
    form = PasswordResetByDirectorForm(request.POST or None)
    status = 200
    if request.method == "POST":
        reset = submitted(
            form,
            lambda: services.user_password_reset(
                ctx=AuditContext.from_request(request), user_id=user_id, new_password=form.cleaned_data["new_password"]
            ),
            fallback_field="new_password",
        )
        if reset is not None:
            messages.success(request, f"{target.username}'s password was reset; they must change it at sign-in.")
            return redirect("accounts:user_list")
        status = refused_status(form)
    return render(request, "accounts/password_reset.html", {"form": form, "target": target}, status=status)


@login_required
@require_POST
@refusals_as_plain_pages
def user_set_active(request: HttpRequest, user_id: int) -> HttpResponse:
    form = UserActiveForm(request.POST)
    target = submitted(
        form,
        lambda: services.user_set_active(
            ctx=AuditContext.from_request(request), user_id=user_id, active=form.cleaned_data["active"]
        ),
    )
    if target is None:
        return _user_list_page(request, current_user(request), refused=form, status=refused_status(form))
    state = "reactivated" if target.is_active else "deactivated"
    messages.success(request, f"{target.username} was {state}.")
    return redirect("accounts:user_list")


@login_required
@refusals_as_plain_pages
def smart_clients(request: HttpRequest) -> HttpResponse:
    """The FHIR system clients (SMART Backend Services), and the form to register one; the director's."""
    ctx = AuditContext.from_request(request)
    clients = smart.smart_clients(ctx=ctx)
    form = SmartClientForm(request.POST or None)
    status = 200
    if request.method == "POST":
        created = submitted(
            form,
            lambda: smart.smart_client_register(
                ctx=ctx,
                name=form.cleaned_data["name"],
                jwks=form.cleaned_data["jwks"],
                scopes=form.cleaned_data["scopes"],
                user_id=form.cleaned_data["user"].pk,
            ),
        )
        if created is not None:
            messages.success(request, f"{created.name} was registered: its client_id is {created.client_id}.")
            return redirect("accounts:smart_clients")
        status = refused_status(form)
    context = {"clients": clients, "form": form, "token_url": request.build_absolute_uri("/fhir/auth/token")}
    return render(request, "accounts/smart_clients.html", context, status=status)


@login_required
@require_POST
@refusals_as_plain_pages
def smart_client_revoke(request: HttpRequest, smart_client_id: int) -> HttpResponse:
    revoked = smart.smart_client_revoke(ctx=AuditContext.from_request(request), client_pk=smart_client_id)
    messages.success(request, f"{revoked.name} was revoked: its tokens no longer work.")
    return redirect("accounts:smart_clients")


def locked_out(
    request: HttpRequest, original_response: HttpResponse | None = None, credentials: object = None
) -> HttpResponse:
    """Answer a throttled sign-in (django-axes): JSON for the API, a page for the browser; 429 either way."""
    message = "Too many failed sign-ins. Try again later or ask the clinic director."
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": message}, status=429)
    return render(request, "registration/locked_out.html", status=429)


@login_required
@require_POST
def keepalive(request: HttpRequest) -> HttpResponse:
    """ "Stay signed in" after the idle warning: the person is here, so the idle clock starts again."""
    mark_activity(request, force=True)
    return HttpResponse(status=204)
