from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend

from tenants.access import membership_of


class ActiveTenantBackend(ModelBackend):
    """Sign-in by email that also refuses the people of a deactivated tenant (SPEC §2).

    ``ModelBackend.get_user`` asks ``user_can_authenticate`` too, so deactivating a tenant also
    ends the sessions its people already have.
    """

    def user_can_authenticate(self, user) -> bool:
        if not super().user_can_authenticate(user):
            return False
        membership = membership_of(user)
        return membership is None or membership.tenant.is_usable()

    def get_user(self, user_id):
        User = get_user_model()
        try:
            user = User._default_manager.select_related("membership__tenant__parent").get(
                pk=user_id
            )
        except User.DoesNotExist:
            return None
        return user if self.user_can_authenticate(user) else None
