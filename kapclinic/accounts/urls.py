from django.urls import path

from kapclinic.accounts import views

app_name = "accounts"

urlpatterns = [
    path("login/", views.SignInView.as_view(), name="login"),
    path("logout/", views.SignOutView.as_view(), name="logout"),
    path("password/", views.PasswordChangeView.as_view(), name="password_change"),
    path("mfa/", views.mfa_verify, name="mfa_verify"),
    path("mfa/setup/", views.mfa_setup, name="mfa_setup"),
    path("account/", views.account, name="account"),
    path("session/keepalive/", views.keepalive, name="keepalive"),
    path("tokens/<id:token_id>/revoke/", views.token_revoke, name="token_revoke"),
    path("users/", views.user_list, name="user_list"),
    path("users/new/", views.user_create, name="user_create"),
    path("users/<id:user_id>/password/", views.user_password_reset, name="user_password_reset"),
    path("users/<id:user_id>/active/", views.user_set_active, name="user_set_active"),
    path("smart-clients/", views.smart_clients, name="smart_clients"),
    path("smart-clients/<id:smart_client_id>/revoke/", views.smart_client_revoke, name="smart_client_revoke"),
]
